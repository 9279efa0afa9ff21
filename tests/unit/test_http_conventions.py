"""HTTP conventions every service shares: problem+json naming the field, settings refusing default secrets."""

from __future__ import annotations

import httpx
import pytest
from cdp_common.contracts.contacts_api import ContactIn
from cdp_common.problems import install_problem_handlers
from cdp_common.settings import ServiceSettings
from fastapi import FastAPI
from pydantic import ValidationError
from pymongo.errors import AutoReconnect


def app() -> FastAPI:
    a = FastAPI()
    install_problem_handlers(a)

    @a.post("/contacts")
    async def create(body: ContactIn) -> dict[str, str]:
        return {"name": body.full_name}

    @a.get("/boom")
    async def boom() -> None:
        raise RuntimeError("bug")

    @a.get("/store-restarted")
    async def store_restarted() -> None:
        raise AutoReconnect("connection is already closed")

    return a


async def call(method: str, path: str, **kw: object) -> httpx.Response:
    transport = httpx.ASGITransport(app=app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        return await c.request(method, path, **kw)  # type: ignore[arg-type]


class TestProblemJson:
    async def test_bad_field_is_named(self) -> None:
        r = await call("POST", "/contacts", json={"full_name": "An", "phones": [{"number": "12"}]})
        assert r.status_code == 422
        assert r.headers["content-type"] == "application/problem+json"
        body = r.json()
        assert body["status"] == 422 and "phones[0].number" in body["detail"]
        assert [e["field"] for e in body["errors"]] == ["phones[0].number"]

    async def test_malformed_json_is_422_not_500(self) -> None:
        r = await call("POST", "/contacts", content=b"{nope", headers={"content-type": "application/json"})
        assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"

    async def test_unknown_route_is_problem_404(self) -> None:
        r = await call("GET", "/nowhere")
        assert r.status_code == 404 and r.json()["title"] == "Not Found"

    async def test_a_bug_is_500_problem_without_internals(self) -> None:
        r = await call("GET", "/boom")
        assert r.status_code == 500 and "bug" not in r.text

    async def test_an_unreachable_store_is_503_to_retry(self) -> None:
        # the first operation on a pooled connection after the store restarted fails so (seen on the gateway)
        r = await call("GET", "/store-restarted")
        assert r.status_code == 503 and r.headers["content-type"] == "application/problem+json"
        assert r.headers["retry-after"] == "1" and "closed" not in r.text


class TestSettings:
    def test_default_secret_is_refused_outside_local(self) -> None:
        with pytest.raises(ValidationError, match="CRM_SECRET_KEY"):
            ServiceSettings(environment="production")

    def test_short_secret_is_refused_in_production(self) -> None:
        with pytest.raises(ValidationError, match="CRM_SECRET_KEY must be at least 32 characters"):
            ServiceSettings(
                environment="production",
                secret_key="short",  # type: ignore[arg-type]
                data_key_secret="another-secret-from-the-vault-0123456789",  # type: ignore[arg-type]
            )

    def test_default_data_key_secret_is_refused_outside_local(self) -> None:
        with pytest.raises(ValidationError, match="CRM_DATA_KEY_SECRET"):
            ServiceSettings(environment="production", secret_key="s3cr3t-from-the-vault-0123456789abcdef")  # type: ignore[arg-type]

    def test_default_secret_is_accepted_locally(self) -> None:
        assert ServiceSettings(environment="local").environment == "local"

    def test_real_secret_is_accepted_in_production(self) -> None:
        settings = ServiceSettings(
            environment="production",
            secret_key="s3cr3t-from-the-vault-0123456789abcdef",  # type: ignore[arg-type]
            data_key_secret="another-secret-from-the-vault-0123456789",  # type: ignore[arg-type]
        )
        assert settings.environment == "production"
