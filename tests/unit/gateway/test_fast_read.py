"""The gateway's fast profile read answers the ordinary case itself (token, role, rate limit, relay, audit,
redaction) and hands everything else to the documented route untouched."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
from cdp_common.problems import Problem
from cdp_gateway import contacts
from cdp_gateway.auth import Principal, RateLimiter
from cdp_gateway.fast_read import FastProfileRead
from cdp_gateway.upstream import Answer

PROFILE = {"id": "c1", "full_name": "Võ Thị Sáu", "descriptive": {"income_band": "20m_50m"}, "provenance": {}}


class FakeAuth:
    def __init__(self) -> None:
        self.recorded: list[tuple[str, str, int, str | None]] = []

    def decode_access(self, token: str) -> Principal:
        if not token.startswith("role-"):
            raise Problem(401, "Unauthorized", "invalid token")
        role = token.removeprefix("role-")
        return Principal(f"user-{role}", role, "staff")

    async def record(self, principal: Principal, method: str, route: str, status: int, cid: str | None) -> None:
        self.recorded.append((principal.role, route, status, cid))


class FakeUpstream:
    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.calls: list[str] = []

    async def call(self, method: str, path: str) -> Answer:
        self.calls.append(path)
        return Answer(self.status, {"content-type": "application/json"}, json.dumps(PROFILE).encode())


class Harness:
    def __init__(self, upstream_status: int = 200, rate: float = 100.0) -> None:
        self.auth = FakeAuth()
        self.upstream = FakeUpstream(upstream_status)
        state = SimpleNamespace(auth=self.auth, limiter=RateLimiter(rate, 1), upstreams={"contacts": self.upstream})
        self.app = SimpleNamespace(state=state)
        self.fell_through = 0

        async def documented_route(scope: dict[str, Any], receive: Any, send: Any) -> None:
            self.fell_through += 1

        self.fast = FastProfileRead(documented_route, [contacts.router])

    async def get(self, path: str, token: str | None = "role-sales", query: bytes = b"") -> tuple[int, Any]:
        headers = [(b"authorization", f"Bearer {token}".encode())] if token else []
        scope = {"type": "http", "method": "GET", "path": path, "query_string": query, "headers": headers}
        scope["app"] = self.app
        sent: list[dict[str, Any]] = []

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await self.fast(scope, None, send)
        if not sent:
            return 0, None
        return sent[0]["status"], json.loads(sent[1]["body"])


async def test_an_ordinary_read_is_answered_audited_and_labelled_with_the_route() -> None:
    h = Harness()
    status, body = await h.get("/v1/contacts/c1")
    assert (status, body["full_name"], h.fell_through) == (200, "Võ Thị Sáu", 0)
    assert h.auth.recorded == [("sales", "/v1/contacts/c1", 200, "c1")]


async def test_support_does_not_see_the_income_band() -> None:
    status, body = await Harness().get("/v1/contacts/c1", token="role-support")
    assert status == 200 and "income_band" not in body["descriptive"]


@pytest.mark.parametrize(
    ("path", "token", "query"),
    [
        ("/v1/contacts/stale", "role-sales", b""),  # routes of their own
        ("/v1/contacts/export", "role-marketing", b""),
        ("/v1/contacts/c1/timeline", "role-sales", b""),
        ("/v1/contacts/c1", "role-sales", b"x=1"),
        ("/v1/contacts/c1", None, b""),  # 401 from the route
        ("/v1/contacts/c1", "garbage", b""),
        ("/v1/contacts/c1", "cdpk_key_secret", b""),  # API keys: the route checks them against the store
        ("/v1/contacts/c1", "role-analyst", b""),  # 403 from the route
    ],
)
async def test_anything_unusual_goes_to_the_documented_route(path: str, token: str | None, query: bytes) -> None:
    h = Harness()
    assert await h.get(path, token, query) == (0, None)
    assert h.fell_through == 1 and h.auth.recorded == [] and h.upstream.calls == []


async def test_an_answer_other_than_200_and_the_rate_limit_go_to_the_documented_route() -> None:
    missing = Harness(upstream_status=404)
    assert await missing.get("/v1/contacts/c1") == (0, None)
    assert missing.fell_through == 1 and missing.auth.recorded == []
    limited = Harness(rate=0.001)
    assert (await limited.get("/v1/contacts/c1"))[0] == 200  # the burst
    assert await limited.get("/v1/contacts/c1") == (0, None)  # the route answers 429
    assert limited.fell_through == 1
