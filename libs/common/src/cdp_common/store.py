"""The document store: one `AsyncMongoClient` per process, aware UTC times, each service in its own database.

Only what MongoDB and the local MongoDB-wire-protocol store both do is used (docs/store-contract.md): no
multi-document transactions, no change streams; single-document atomic updates, unique indexes, simple aggregations.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterable
from datetime import UTC
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

Document = dict[str, Any]


def open_client(uri: str, app_name: str) -> AsyncMongoClient[Document]:
    return AsyncMongoClient(
        uri,
        tz_aware=True,
        tzinfo=UTC,
        appname=app_name,
        serverSelectionTimeoutMS=5_000,
        connectTimeoutMS=5_000,
        retryWrites=False,  # retryable writes need sessions the local store lacks; our writes are idempotent
        # FerretDB v1 (SQLite) opens at most 100 connections per database, and SQLite writes one transaction at a
        # time: a process opens at most 32 (CRM_MONGODB_POOL), so three replicas of a service stay below that
        # (docs/store-contract.md).
        maxPoolSize=int(os.environ.get("CRM_MONGODB_POOL", "32")),
    )


async def ping(db: AsyncDatabase[Document]) -> bool:
    try:
        await db.command("ping")
        return True
    except Exception:
        return False


async def insert_new(collection: AsyncCollection[Document], docs: list[Document]) -> None:
    """Insert `docs`, leaving out those whose `_id` is already stored (written by an earlier delivery, a replica, an
    interrupted attempt); any other write error is raised."""
    if not docs:
        return
    try:
        await collection.insert_many(docs, ordered=False)
    except BulkWriteError as e:
        if any(err.get("code") != DUPLICATE_KEY for err in e.details.get("writeErrors", [])):
            raise


DUPLICATE_KEY = 11000
IDS_PER_QUERY = 256


async def find_by_ids(
    collection: AsyncCollection[Document], ids: Iterable[Any], projection: dict[str, Any] | None = None
) -> AsyncIterator[Document]:
    """The documents whose `_id` is in `ids`, a few hundred ids per query: MongoDB advises short `$in` lists, and
    the local store's library compared every document it found with every listed id (one query of 5,000 ids took
    seconds; docs/store-contract.md)."""
    wanted = list(dict.fromkeys(ids))
    for i in range(0, len(wanted), IDS_PER_QUERY):
        async for doc in collection.find({"_id": {"$in": wanted[i : i + IDS_PER_QUERY]}}, projection):
            yield doc


async def find_all_by_ids(
    collection: AsyncCollection[Document],
    ids: Iterable[Any],
    projection: dict[str, Any] | None = None,
    in_flight: int = 4,
) -> list[Document]:
    """`find_by_ids` with up to `in_flight` queries at once (the store answers them on several threads), for reads of
    thousands of documents that one request waits on."""
    wanted = list(dict.fromkeys(ids))
    chunks = [wanted[i : i + IDS_PER_QUERY] for i in range(0, len(wanted), IDS_PER_QUERY)]
    gate = asyncio.Semaphore(in_flight)

    async def one(chunk: list[Any]) -> list[Document]:
        async with gate:
            return await collection.find({"_id": {"$in": chunk}}, projection).to_list(None)

    return [doc for docs in await asyncio.gather(*(one(c) for c in chunks)) for doc in docs]
