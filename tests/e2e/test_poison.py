"""Poison of every kind on every topic every service consumes (read from each service's AsyncAPI document):
malformed JSON, an invalid envelope, an unknown event type, a key that is not the subject, a message over the size
limit. Each lands on that service's dead-letter topic with its reason and where it came from, the metrics count it,
and the services go on working (an event sent afterwards still reaches the timeline)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from cdp_common.events import MAX_EVENT_BYTES
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

    def envelope(subject: str) -> bytes:
        return json.dumps(
            {
                "id": uuid.uuid4().hex,
                "source": "test/poison",
                "type": "nobody.knows.this",
                "subject": subject,
                "time": datetime.now(UTC).isoformat(),
                "data": {},
            }
        ).encode()

    poison = [
        (key, b"{this is not json " + run.encode()),  # malformed_json
        (key, json.dumps({"type": "contact.created", "subject": key.decode()}).encode()),  # invalid_envelope
        (key, envelope(key.decode())),  # unknown_type
        (key, envelope("somebody-else")),  # wrong_key
        (key, b" " * (MAX_EVENT_BYTES + 100)),  # oversized (still under the broker's limit)
    ]
    reasons = {"malformed_json", "invalid_envelope", "unknown_type", "wrong_key", "oversized"}
    for topic in set().union(*consumed.values()):
        await produce(infra.kafka_bootstrap, topic, poison)

    for service, topics in consumed.items():

        async def dead_lettered(service: str = service, topics: set[str] = topics) -> Any:
            records = await read_all(infra.kafka_bootstrap, dead_letter_topic(service).name, 10**9, timeout_s=2)
            ours = [dict(r.headers) for r in records if r.key == key]
            found = {(h["dlq_original_topic"].decode(), h["dlq_reason"].decode()) for h in ours}
            expected = {(t, reason) for t in topics for reason in reasons}
            return found if found == expected else None

        assert await eventually(dead_lettered, timeout_s=60, interval_s=1), service

    async with httpx.AsyncClient(timeout=10) as c:
        for service in SERVICES:
            metrics = (await c.get(f"{getattr(stack, service)}/metrics")).text
            counted = [line for line in metrics.splitlines() if line.startswith("cdp_dead_letters_total")]
            for reason in reasons:
                assert any(f'reason="{reason}"' in line and float(line.rsplit(" ", 1)[1]) > 0 for line in counted)

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
