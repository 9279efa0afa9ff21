from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from cdp_common.store import Document, open_client
from cdp_common.topics import ensure_topics
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from tests.support.infra import HOW_TO_GET_ONE, Infra, provide_infra


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    try:
        with provide_infra() as found:
            asyncio.run(ensure_topics(found.kafka_bootstrap))
            yield found
    except RuntimeError as e:
        pytest.fail(f"{e}\n{HOW_TO_GET_ONE}", pytrace=False)


@pytest.fixture(scope="session")
async def mongo_client(infra: Infra) -> AsyncIterator[AsyncMongoClient[Document]]:
    client = open_client(infra.mongodb_uri, "tests")
    yield client
    await client.close()


@pytest.fixture
async def db(mongo_client: AsyncMongoClient[Document]) -> AsyncIterator[AsyncDatabase[Document]]:
    """A database of its own for each test, dropped afterwards."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    yield mongo_client[name]
    await mongo_client.drop_database(name)
