"""The local document store's file format (deploy/local/store): documents kept as BSON, unique index keys ordered
without serialising them. A file written by the library's own format opens with everything in it, and every BSON
type the services may store comes back exactly after a restart.

These run a private store of their own (its own port and data folder), not the shared test store: they stop and
start it.
"""

from __future__ import annotations

import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from bson import Binary, Decimal128, Int64, ObjectId, Regex
from pymongo import MongoClient
from pymongo.errors import DuplicateKeyError

from tests.support.infra import REPO, local_env

pytestmark = pytest.mark.integration

STORE = REPO / "deploy" / "local" / "store.sh"
LIBRARY_STORE = REPO / "tests" / "support" / "LibraryStore.java"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"nothing listens on {port} after {seconds} s")


class PrivateStore:
    def __init__(self, folder: Path) -> None:
        self.port = _free_port()
        self.env = {
            **local_env(),
            "CDP_LOCAL_DIR": str(folder),
            "CDP_STORE_PORT": str(self.port),
            "CDP_LOCAL_STORE": "mongo-java-server",  # the format tested is that store's
        }
        self.env["STORE_HEAP_OPTS"] = "-Xms128m -Xmx512m"
        self.file = folder / "data" / "store" / "cdp.mv.db"
        self.classpath = Path(self.env["CDP_CACHE_DIR"]) / "store" / "lib" / "*"

    def run(self, action: str) -> None:
        done = subprocess.run(["bash", str(STORE), action], env=self.env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]

    def client(self) -> MongoClient[dict[str, Any]]:
        return MongoClient(f"mongodb://127.0.0.1:{self.port}", directConnection=True, tz_aware=True)

    def write_with_library(self, write: Any) -> None:
        """Writes the file with the library's own H2 format, as the local store did before its format changed."""
        self.run("start")  # resolves the store's jars once; then stopped so the library can open the file itself
        self.run("stop")
        self.file.unlink()
        command = ["java", "-Xmx512m", "-cp", str(self.classpath), str(LIBRARY_STORE)]
        library = subprocess.Popen(
            [*command, "127.0.0.1", str(self.port), str(self.file)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait_port(self.port)
            with self.client() as client:
                write(client)
        finally:
            library.terminate()  # its shutdown hook closes the file
            library.wait(timeout=60)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[PrivateStore]:
    private = PrivateStore(tmp_path)
    yield private
    private.run("stop")


EVERY_TYPE: dict[str, Any] = {
    "int32": 7,
    "int64": Int64(2**40),
    "double": 0.1,
    "decimal": Decimal128("1234567.891"),
    "text": "Nguyễn Thị Minh Khai, Đà Nẵng",
    "empty": "",
    "yes": True,
    "nothing": None,
    "at": datetime(2026, 11, 23, 10, 0, 0, 123000, tzinfo=UTC),
    "oid": ObjectId("65f0a1b2c3d4e5f601234567"),
    "bytes": b"\x00\x01\xff",
    "uuid": Binary.from_uuid(uuid.UUID("12345678-1234-5678-1234-567812345678")),
    "pattern": Regex("^an", "i"),
    "nested": {"list": [1, "two", {"three": [3.0, None]}], "deeper": {"a": {"b": {"c": Int64(1)}}}},
}


def test_a_file_written_in_the_library_format_opens_with_everything_in_it(store: PrivateStore) -> None:
    def write(client: MongoClient[dict[str, Any]]) -> None:
        people = client.legacy.people
        people.create_index("email", unique=True)
        people.insert_many([{"_id": f"p{i}", "email": f"p{i}@example.com", **EVERY_TYPE} for i in range(300)])
        client.legacy.other.insert_one({"_id": ObjectId("65f0a1b2c3d4e5f601234568"), "n": 1})

    store.write_with_library(write)
    for _ in range(2):  # the first start moves the maps into the new format; the second reads that
        store.run("start")
        with store.client() as client:
            assert {"legacy"} <= set(client.list_database_names())
            people = client.legacy.people
            assert people.count_documents({}) == 300
            assert people.find_one({"_id": "p42"}) == {"_id": "p42", "email": "p42@example.com", **EVERY_TYPE}
            assert client.legacy.other.find_one({"n": 1}) == {"_id": ObjectId("65f0a1b2c3d4e5f601234568"), "n": 1}
            assert "email_1" in people.index_information()
            with pytest.raises(DuplicateKeyError):
                people.insert_one({"_id": "p42"})
            with pytest.raises(DuplicateKeyError):
                people.insert_one({"_id": "new", "email": "p7@example.com"})
        store.run("stop")


def test_every_type_and_every_unique_key_survive_a_restart(store: PrivateStore) -> None:
    store.run("start")
    with store.client() as client:
        c = client.fresh.c
        c.create_index([("source", 1), ("ref", 1)], unique=True)
        c.insert_many([{"_id": i, "source": "pos", "ref": i % 500, "n": i, **EVERY_TYPE} for i in range(500)])
        c.update_many({"n": {"$gte": 250}}, {"$inc": {"n": 1000}, "$set": {"changed": True}})
        c.delete_many({"n": {"$lt": 50}})
    store.run("stop")
    store.run("start")
    with store.client() as client:
        c = client.fresh.c
        assert c.count_documents({}) == 450
        assert c.find_one({"_id": 300}) == {
            "_id": 300, "source": "pos", "ref": 300, "n": 1300, **EVERY_TYPE, "changed": True
        }  # fmt: skip
        assert c.find_one({"_id": 10}) is None
        c.insert_one({"_id": 10, "source": "pos", "ref": 10})  # freed by the delete, in both indexes
        with pytest.raises(DuplicateKeyError):
            c.insert_one({"_id": 9999, "source": "pos", "ref": 300})
        with pytest.raises(DuplicateKeyError):
            c.insert_one({"_id": 300})
        assert [d["_id"] for d in c.find({"ref": {"$gte": 498}}).sort("ref", -1)] == [499, 498]
