"""The e2e tier: the four services and the gateway run as separate processes, started by the same script
`make up` uses (deploy/local/services.sh), against the real broker and store of the test session."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.support.infra import REPO, TEST_LOCAL_DIR, Infra

PORT_OFFSET = 200


@dataclass(frozen=True)
class Stack:
    gateway: str
    contacts: str
    identity: str
    consent: str
    analytics: str
    env: dict[str, str]

    def token(self, username: str = "admin", password: str = "local-only-change-me") -> str:
        r = httpx.post(f"{self.gateway}/v1/auth/token", data={"username": username, "password": password}, timeout=10)
        r.raise_for_status()
        return str(r.json()["access_token"])

    def client(self, token: str | None = None, **kw: Any) -> httpx.AsyncClient:
        """An HTTP client signed in as `token`'s owner (the bootstrap admin by default)."""
        return httpx.AsyncClient(timeout=10, headers={"authorization": f"Bearer {token or self.token()}"}, **kw)

    def services(self, action: str, *names: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", str(REPO / "deploy" / "local" / "services.sh"), action, *names],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )


@pytest.fixture(scope="session")
def stack(infra: Infra) -> Iterator[Stack]:
    env = {
        **os.environ,
        "CDP_LOCAL_DIR": str(TEST_LOCAL_DIR / "e2e"),
        "CDP_PORT_OFFSET": str(PORT_OFFSET),
        "CRM_KAFKA_BOOTSTRAP": infra.kafka_bootstrap,
        "CRM_MONGODB_URI": infra.mongodb_uri,
        "CRM_ENVIRONMENT": "test",
        "CRM_RETRY_BACKOFF_SECONDS": "0.2",
    }
    s = Stack(
        gateway=f"http://127.0.0.1:{8000 + PORT_OFFSET}",
        contacts=f"http://127.0.0.1:{8001 + PORT_OFFSET}",
        identity=f"http://127.0.0.1:{8002 + PORT_OFFSET}",
        consent=f"http://127.0.0.1:{8003 + PORT_OFFSET}",
        analytics=f"http://127.0.0.1:{8004 + PORT_OFFSET}",
        env=env,
    )
    s.services("stop")  # leftovers of an interrupted run
    started = s.services("start")
    if started.returncode != 0:
        pytest.fail(f"services did not start:\n{started.stderr[-4000:]}", pytrace=False)
    try:
        yield s
    finally:
        stopped = s.services("stop")
        assert stopped.returncode == 0, stopped.stderr
