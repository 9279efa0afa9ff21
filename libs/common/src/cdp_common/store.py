"""The document store: one `AsyncMongoClient` per process, aware UTC times, each service in its own database.

Only what MongoDB and the local MongoDB-wire-protocol store both do is used (docs/store-contract.md): no
multi-document transactions, no change streams; single-document atomic updates, unique indexes, simple aggregations.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

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
    )


async def ping(db: AsyncDatabase[Document]) -> bool:
    try:
        await db.command("ping")
        return True
    except Exception:
        return False
