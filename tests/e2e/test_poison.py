"""Poison on every topic every service consumes (read from each service's AsyncAPI document): each lands on that
service's dead-letter topic with its reason and where it came from, the metrics count it, and the services go on
working (an event sent afterwards still reaches the timeline)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from cdp_common.topics import dead_letter_topic

from tests.e2e.conftest import Stack
from tests.support.infra import Infra
from tests.support.kafka import eventually, produce, read_all

pytestmark = pytest.mark.e2e
SERVICES = ("contacts", "identity", "consent", "analytics")


def consumed_topics(asyncapi: dict[str, Any]) -> set[str]:
    channels = asyncapi.get("channels", {})
    out = set()
    for op in asyncapi.get("operations", {}).values():
        if op.get("action") == "receive":
            name = unquote(op["channel"]["$ref"].rsplit("/", 1)[-1])
            out.add(channels[name]["address"])
    return out


async def test_poison_on_every_consumed_topic_is_dead_lettered_and_the_services_go_on(
    stack: Stack, infra: Infra
) -> None:
    run = uuid.uuid4().hex[:8]
    key = f"poison-{run}".encode()
    consumed: dict[str, set[str]] = {}
    async with httpx.AsyncClient(timeout=10) as c:
        for service in SERVICES:
            doc = (await c.get(f"{getattr(stack, service)}/asyncapi.json")).json()
            consumed[service] = consumed_topics(doc)
    assert all(consumed.values()), consumed  # every service consumes something
    for topic in set().union(*consumed.values()):
        await produce(infra.kafka_bootstrap, topic, [(key, b"{this is not json " + run.encode())])

    for service, topics in consumed.items():

        async def dead_lettered(service: str = service, topics: set[str] = topics) -> Any:
            records = await read_all(infra.kafka_bootstrap, dead_letter_topic(service).name, 10**9, timeout_s=2)
            ours = [dict(r.headers) for r in records if r.key == key]
            found = {h["dlq_original_topic"].decode() for h in ours if h["dlq_reason"] == b"malformed_json"}
            return found if found == topics else None

        assert await eventually(dead_lettered, timeout_s=40, interval_s=0.5) == topics, service

    async with httpx.AsyncClient(timeout=10) as c:
        for service in SERVICES:
            metrics = (await c.get(f"{getattr(stack, service)}/metrics")).text
            counted = [line for line in metrics.splitlines() if line.startswith("cdp_dead_letters_total")]
            assert any('reason="malformed_json"' in line and float(line.rsplit(" ", 1)[1]) > 0 for line in counted)

    # the consumers went on: an interaction published afterwards reaches the timeline
    async with stack.client() as c:
        cid = (await c.post(f"{stack.gateway}/v1/contacts", json={"full_name": f"Hà Thị Sau Độc {run}"})).json()["id"]
        key_out = await c.post(f"{stack.gateway}/v1/api-keys", json={"name": f"poison-{run}", "scopes": ["web.*"]})
        visit = {
            "idempotency_key": f"after-poison-{run}",
            "type": "web.visited",
            "subject": cid,
            "data": {"contact_id": cid, "occurred_at": datetime.now(UTC).isoformat(), "session_id": run},
        }
        integration = {"authorization": f"Bearer {key_out.json()['api_key']}"}
        assert (
            await c.post(f"{stack.gateway}/v1/events", json={"events": [visit]}, headers=integration)
        ).status_code == 202

        async def on_timeline() -> Any:
            page = (await c.get(f"{stack.gateway}/v1/contacts/{cid}/timeline")).json()
            return [i for i in page["items"] if i["type"] == "web.visited"] or None

        await eventually(on_timeline, timeout_s=30)
