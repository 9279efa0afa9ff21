"""The first vertical slice through real processes: a contact created at the gateway is stored by the contacts
service, published as contact.created, followed by identity, consent and analytics, and read back intact."""

from __future__ import annotations

import pathlib
import time
import uuid
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Stack
from tests.support.kafka import eventually

pytestmark = pytest.mark.e2e

KHAI = {
    "full_name": "Nguyễn Thị Minh Khai",
    "emails": [{"address": "minhkhai.nguyen@example.vn", "type": "personal"}],
    "phones": [{"number": "0912 345 678"}],
    "birth_date": "1990-03-08",
    "preferred_channel": "zalo",
    "source": "shop-till",
}


async def create(client: httpx.AsyncClient, stack: Stack, body: dict[str, Any], **headers: str) -> httpx.Response:
    return await client.post(f"{stack.gateway}/v1/contacts", json=body, headers=headers)


class TestContactSlice:
    async def test_created_at_the_gateway_read_back_intact_and_followed_downstream(self, stack: Stack) -> None:
        async with stack.client() as client:
            r = await create(client, stack, KHAI)
            assert r.status_code == 201, r.text
            created = r.json()
            contact_id = created["id"]
            assert r.headers["location"] == f"/v1/contacts/{contact_id}"
            assert created["full_name"] == "Nguyễn Thị Minh Khai"
            assert created["emails"][0]["address"] == "minhkhai.nguyen@example.vn"
            assert created["phones"][0]["number"] == "+84912345678"
            assert created["birth_date"] == "1990-03-08" and created["preferred_channel"] == "zalo"

            got = await client.get(f"{stack.gateway}/v1/contacts/{contact_id}")
            assert got.status_code == 200
            assert got.json() == {k: v for k, v in created.items() if k != "likely_duplicates"}

            async def person() -> Any:  # the person, once its record is linked to it
                p = await client.get(f"{stack.identity}/v1/persons/{contact_id}")
                return p.json() if p.status_code == 200 and p.json().get("records") else None

            async def subject() -> Any:
                s = await client.get(f"{stack.consent}/v1/consent/subjects/{contact_id}")
                return s.json() if s.status_code == 200 else None

            linked = await eventually(person)
            assert linked["records"][0]["identifiers"] == ["minhkhai.nguyen@example.vn", "+84912345678"]
            assert linked["records"][0]["link"]["rule"] in ("new_person", "probabilistic")
            ledger = await eventually(subject)
            assert ledger["reachable_channels"] == ["email", "sms", "phone"] and ledger["statements"] == []

            day = created["created_at"][:10]

            async def counted() -> Any:
                a = await client.get(f"{stack.analytics}/v1/analytics/new-contacts", params={"from": day, "to": day})
                return a.json() if a.status_code == 200 and a.json()["total"] >= 1 else None

            assert (await eventually(counted))["days"][0]["day"] == day

    async def test_idempotency_key_replays_the_first_result(self, stack: Stack) -> None:
        key = uuid.uuid4().hex
        async with stack.client() as client:
            first = await create(client, stack, KHAI, **{"Idempotency-Key": key})
            second = await create(client, stack, KHAI, **{"Idempotency-Key": key})
        assert (first.status_code, second.status_code) == (201, 200)
        assert second.headers["idempotent-replayed"] == "true"
        assert first.json()["id"] == second.json()["id"]

    async def test_bad_input_is_problem_json_naming_the_field(self, stack: Stack) -> None:
        body = {**KHAI, "phones": [{"number": "12"}], "emails": [{"address": "not-an-email"}]}
        async with stack.client() as client:
            r = await create(client, stack, body)
        assert r.status_code == 422
        assert r.headers["content-type"] == "application/problem+json"
        assert {e["field"] for e in r.json()["errors"]} == {"phones[0].number", "emails[0].address"}

    async def test_unknown_contact_is_404_problem(self, stack: Stack) -> None:
        async with stack.client() as client:
            r = await client.get(f"{stack.gateway}/v1/contacts/{uuid.uuid4().hex}")
        assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"


class TestOperations:
    async def test_every_process_reports_health_readiness_and_metrics(self, stack: Stack) -> None:
        async with stack.client() as client:
            for base in (stack.gateway, stack.contacts, stack.identity, stack.consent, stack.analytics):
                assert (await client.get(f"{base}/health")).json()["status"] == "ok"
                assert (await client.get(f"{base}/ready")).status_code == 200
                assert "cdp_http_requests_total" in (await client.get(f"{base}/metrics")).text
            for base in (stack.contacts, stack.identity, stack.consent, stack.analytics):
                doc = (await client.get(f"{base}/asyncapi.json")).json()
                assert doc["asyncapi"].startswith("3.") and doc["channels"]

    async def test_a_service_that_is_down_is_503_at_once_and_back_after_restart(self, stack: Stack) -> None:
        assert stack.services("stop", "contacts").returncode == 0
        try:
            async with stack.client() as client:
                started = time.perf_counter()
                r = await client.get(f"{stack.gateway}/v1/contacts/{uuid.uuid4().hex}")
                elapsed = time.perf_counter() - started
            assert r.status_code == 503 and r.headers["content-type"] == "application/problem+json"
            assert r.headers["retry-after"] == "5"
            assert elapsed < 2.0
        finally:
            restarted = stack.services("start", "contacts")
            assert restarted.returncode == 0, restarted.stderr
        async with stack.client() as client:
            r = await create(client, stack, KHAI)
            assert r.status_code == 201

    def test_logs_carry_no_personal_data(self, stack: Stack) -> None:
        logs = pathlib.Path(stack.env["CDP_LOCAL_DIR"]) / "logs"
        text = "".join(p.read_text(errors="replace") for p in logs.glob("*.log"))
        assert "contact created" in text
        for pii in ("Nguyễn Thị Minh Khai", "minhkhai.nguyen@example.vn", "+84912345678", "912 345 678"):
            assert pii not in text
