"""Where the integration and e2e tests find a real Kafka broker and a real MongoDB-compatible store.

In order: `CRM_KAFKA_BOOTSTRAP` and `CRM_MONGODB_URI` when both are set; else testcontainers (official Kafka and
MongoDB images) when a Docker engine answers; else the deploy/local scripts start a private broker and store on
their own ports from an empty data folder. Never a skip: with none of these to be had, the tests fail and say how.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TEST_LOCAL_DIR = REPO / ".local" / "test"
TEST_KAFKA_PORT = 19092
TEST_KAFKA_CONTROLLER_PORT = 19093
TEST_STORE_PORT = 27117

HOW_TO_GET_ONE = (
    "No Kafka/document store for the tests. Either export CRM_KAFKA_BOOTSTRAP and CRM_MONGODB_URI, run a Docker "
    "engine (testcontainers), or make sure Java 17 and Maven can run deploy/local/kafka.sh and deploy/local/store.sh "
    "(see docs/operations.md)."
)


@dataclass(frozen=True)
class Infra:
    kafka_bootstrap: str
    mongodb_uri: str
    how: str


def _docker_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def local_env() -> dict[str, str]:
    return {
        **os.environ,
        "CDP_LOCAL_DIR": str(TEST_LOCAL_DIR),
        "CDP_CACHE_DIR": str(REPO / ".local" / "cache"),
        "CDP_KAFKA_PORT": str(TEST_KAFKA_PORT),
        "CDP_KAFKA_CONTROLLER_PORT": str(TEST_KAFKA_CONTROLLER_PORT),
        "CDP_STORE_PORT": str(TEST_STORE_PORT),
        "KAFKA_HEAP_OPTS": "-Xms256m -Xmx768m",
    }


def _local(script: str, action: str) -> None:
    proc = subprocess.run(
        ["bash", str(REPO / "deploy" / "local" / script), action],
        env=local_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{script} {action} failed:\n{proc.stderr[-3000:]}\n{HOW_TO_GET_ONE}")


@contextmanager
def provide_infra() -> Iterator[Infra]:
    kafka, mongo = os.environ.get("CRM_KAFKA_BOOTSTRAP"), os.environ.get("CRM_MONGODB_URI")
    if kafka and mongo:
        yield Infra(kafka, mongo, "environment")
        return
    if _docker_answers():
        from testcontainers.kafka import KafkaContainer
        from testcontainers.mongodb import MongoDbContainer

        with KafkaContainer("apache/kafka:4.1.1").with_kraft() as k, MongoDbContainer("mongo:8.0") as m:
            yield Infra(k.get_bootstrap_server(), m.get_connection_url(), "testcontainers")
        return
    # Fresh data each session, so every run starts from the same empty broker and store.
    for script in ("kafka.sh", "store.sh"):
        _local(script, "stop")
    shutil.rmtree(TEST_LOCAL_DIR / "data", ignore_errors=True)
    try:
        _local("kafka.sh", "start")
        _local("store.sh", "start")
        yield Infra(f"127.0.0.1:{TEST_KAFKA_PORT}", f"mongodb://127.0.0.1:{TEST_STORE_PORT}", "deploy/local")
    finally:
        if os.environ.get("CDP_TEST_KEEP_INFRA") != "1":
            for script in ("store.sh", "kafka.sh"):
                _local(script, "stop")
