"""The contacts service through the gateway and the real broker: interactions published straight to Kafka by a
channel integration reach the timeline once, derive the figures and move the lifecycle; staff edits, lead status,
custom fields and search work end to end."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from cdp_common.contracts.interactions import OrderPaid, TicketOpened
from cdp_common.events import make_event
from cdp_common.topics import INTERACTION_EVENTS

from tests.e2e.conftest import Stack
from tests.support.infra import Infra
from tests.support.kafka import eventually, produce

pytestmark = pytest.mark.e2e


async def new_contact(client: httpx.AsyncClient, stack: Stack, **extra: Any) -> dict[str, Any]:
    body = {"full_name": "Trần Thị Thu Hà", "phones": [{"number": f"09{uuid.uuid4().int % 10**8:08d}"}], **extra}
    r = await client.post(f"{stack.gateway}/v1/contacts", json=body)
    if r.status_code == 422:  # a random number outside the numbering plan: take another
        return await new_contact(client, stack, **extra)
    assert r.status_code == 201, r.text
    return r.json()


class TestInteractionsFromKafka:
    async def test_order_paid_twice_counts_once_and_makes_a_customer(self, stack: Stack, infra: Infra) -> None:
        async with stack.client() as client:
            contact = await new_contact(client, stack)
            cid = contact["id"]
            paid = make_event(
                source="integration/shop-till",
                event_type="order.paid",
                subject=cid,
                data=OrderPaid(
                    contact_id=cid,
                    occurred_at=datetime.now(UTC),
                    order_id="HD-1001",
                    total={"amount": 1_250_000, "currency": "VND"},
                    channel="shop-till",
                ),  # type: ignore[arg-type]
            )
            ticket = make_event(
                source="integration/desk",
                event_type="ticket.opened",
                subject=cid,
                data=TicketOpened(contact_id=cid, occurred_at=datetime.now(UTC), ticket_id="T-7"),
            )
            raw = [(e.key(), e.model_dump_json().encode()) for e in (paid, paid, ticket)]
            await produce(infra.kafka_bootstrap, INTERACTION_EVENTS.name, raw)

            async def settled() -> Any:
                r = await client.get(f"{stack.gateway}/v1/contacts/{cid}")
                q = r.json()["quantitative"]
                return r.json() if q["purchases"] == 1 and q["support_requests_total"] == 1 else None

            got = await eventually(settled)
            assert got["quantitative"]["total_spent"] == 1_250_000
            assert got["lifecycle_stage"] == "customer"
            timeline = (await client.get(f"{stack.gateway}/v1/contacts/{cid}/timeline")).json()
            assert sorted(e["type"] for e in timeline["items"]) == ["order.paid", "ticket.opened"]
            history = (await client.get(f"{stack.gateway}/v1/contacts/{cid}/lifecycle/history")).json()
            assert history[0]["by"] == "event:order.paid" and history[0]["automatic"] is True


class TestStaffWork:
    async def test_edit_lead_status_custom_field_and_search(self, stack: Stack) -> None:
        key = f"shoe_size_{uuid.uuid4().hex[:6]}"
        async with stack.client() as client:
            r = await client.post(
                f"{stack.gateway}/v1/custom-fields",
                json={"key": key, "label": "Cỡ giày", "type": "single_select", "options": ["38", "39", "40"]},
            )
            assert r.status_code == 201, r.text
            contact = await new_contact(client, stack, tags=["vip"])
            cid = contact["id"]

            bad = await client.patch(f"{stack.gateway}/v1/contacts/{cid}", json={"custom_fields": {key: "45"}})
            assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == f"custom_fields.{key}"

            ok = await client.patch(
                f"{stack.gateway}/v1/contacts/{cid}",
                json={"custom_fields": {key: "39"}, "descriptive": {"income_band": "10m_20m"}},
            )
            assert ok.status_code == 200, ok.text
            assert ok.json()["custom_fields"][key] == "39"
            assert ok.json()["descriptive"]["income_band"] == "10m_20m"

            await client.post(
                f"{stack.gateway}/v1/contacts/{cid}/lead-status",
                json={"status": "attempted_to_contact", "note": "Gọi không nghe máy"},
            )
            statuses = (await client.get(f"{stack.gateway}/v1/contacts/{cid}/lead-status/history")).json()
            assert statuses[0]["to"] == "attempted_to_contact" and statuses[0]["reason"] == "Gọi không nghe máy"

            found = (
                await client.get(
                    f"{stack.gateway}/v1/contacts", params={"name": "ha tran thi", "tag": "vip", f"custom.{key}": "39"}
                )
            ).json()
            assert [c["id"] for c in found["items"]] == [cid]
            one_box = (
                await client.get(f"{stack.gateway}/v1/contacts", params={"q": "Hà TRẦN thị", "tag": "vip"})
            ).json()
            assert cid in [c["id"] for c in one_box["items"]]
            misspelt = await client.get(f"{stack.gateway}/v1/contacts", params={"nmae": "ha tran thi"})
            assert misspelt.status_code == 422
            assert misspelt.json()["errors"] == [{"field": "nmae", "in": "query", "message": "not a search parameter"}]
            why = (await client.get(f"{stack.gateway}/v1/contacts/{cid}/fields/full_name/explain")).json()
            assert why["rule"] == "staff_edit_wins" and why["candidates"][0]["source"] == "staff"

            dup = await client.post(
                f"{stack.gateway}/v1/contacts", json={"full_name": "Ha Tran", "phones": contact["phones"]}
            )
            assert [d["id"] for d in dup.json()["likely_duplicates"]] == [cid]


async def test_the_fast_profile_read_answers_as_the_documented_route(stack: Stack) -> None:
    """The contacts service's fast path for `GET /v1/contacts/{id}` gives the route's answer (a query string sends
    the same read through the route); an unknown id and the parameterless GET routes still reach their routes."""
    async with stack.client() as c:
        created = await new_contact(c, stack, tags=["vip"])
    async with httpx.AsyncClient(base_url=stack.contacts, timeout=10) as direct:
        fast = await direct.get(f"/v1/contacts/{created['id']}")
        routed = await direct.get(f"/v1/contacts/{created['id']}", params={"via": "route"})
        assert fast.status_code == routed.status_code == 200
        assert fast.headers["content-type"] == routed.headers["content-type"] == "application/json"
        a, b = fast.json(), routed.json()
        assert a.pop("health")["completeness"] == b.pop("health")["completeness"]  # freshness moves with the clock
        assert a == b and a["tags"] == ["vip"]
        missing = await direct.get("/v1/contacts/no-such-contact")
        assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
        stale = await direct.get("/v1/contacts/stale")
        assert stale.status_code == 200 and "items" in stale.json()
