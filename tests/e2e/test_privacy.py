"""Privacy rights through real processes: an export gathers what every service holds into one document; an
erasure fans out to every service, shows a report per service, completes only when all confirmed, and afterwards
no database of any service holds the person's name, email or phone; late events do not bring the profile back."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from cdp_common.contracts.interactions import TicketOpened
from cdp_common.events import EventEnvelope, make_event
from cdp_common.settings import LOCAL_DEFAULT_SECRET
from cdp_common.shredding import SubjectKeys, SubjectShredded
from cdp_common.topics import ALL_TOPICS, INTERACTION_EVENTS
from pymongo import AsyncMongoClient

from tests.e2e.conftest import Stack
from tests.support.infra import Infra
from tests.support.kafka import eventually, produce, read_to_end

pytestmark = pytest.mark.e2e


async def test_export_then_erasure_everywhere(stack: Stack, infra: Infra) -> None:
    marker = uuid.uuid4().hex[:10]
    name, email = f"Tạ Thị Riêng {marker}", f"rieng.{marker}@example.vn"
    async with stack.client() as c:
        pid = (
            await c.post(f"{stack.gateway}/v1/contacts", json={"full_name": name, "emails": [{"address": email}]})
        ).json()["id"]
        await c.post(
            f"{stack.gateway}/v1/consent/statements",
            json={
                "person_id": pid,
                "channel": "email",
                "purpose": "newsletter",
                "status": "granted",
                "source": "ecommerce",
                "event_time": "2026-02-01T10:00:00+07:00",
            },
        )

        async def known_everywhere() -> Any:
            p = await c.get(f"{stack.gateway}/v1/persons/{pid}")
            return p.status_code == 200

        await eventually(known_everywhere)

        async def finished(request_id: str) -> Any:
            r = (await c.get(f"{stack.gateway}/v1/privacy/requests/{request_id}")).json()
            return r if r["status"] == "completed" else None

        export_id = (
            await c.post(f"{stack.gateway}/v1/privacy/requests", json={"kind": "export", "person_id": pid})
        ).json()["request_id"]
        export = (await eventually(lambda: finished(export_id), timeout_s=30))["export"]
        assert set(export) == {"contacts", "identity", "consent", "analytics"}
        assert export["contacts"]["profile"]["golden"]["full_name"] == name
        assert export["consent"]["subject"]["statements"][0]["status"] == "granted"

        erase = await c.post(f"{stack.gateway}/v1/privacy/requests", json={"kind": "erasure", "person_id": pid})
        assert erase.status_code == 202
        done = await eventually(lambda: finished(erase.json()["request_id"]), timeout_s=30)
        assert all(s["status"] == "done" for s in done["services"].values())
        assert done["services"]["contacts"]["erased"]["profiles"] == 1

        assert (await c.get(f"{stack.gateway}/v1/contacts/{pid}")).status_code == 404
        assert (await c.get(f"{stack.gateway}/v1/persons/{pid}")).status_code == 404
        check = (
            await c.get(
                f"{stack.gateway}/v1/consent/check",
                params={"person_id": pid, "channel": "email", "purpose": "newsletter"},
            )
        ).json()
        assert check["status"] == "suppressed"

    # a late interaction does not bring the profile back
    late = make_event(
        source="integration/desk",
        event_type="ticket.opened",
        subject=pid,
        data=TicketOpened(contact_id=pid, occurred_at=datetime.now(UTC), ticket_id="late"),
    )
    await produce(infra.kafka_bootstrap, INTERACTION_EVENTS.name, [(late.key(), late.model_dump_json().encode())])

    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongodb_uri)
    try:
        for db_name in ("cdp_contacts", "cdp_identity", "cdp_consent", "cdp_analytics", "cdp_gateway"):
            db = client[db_name]
            for col in await db.list_collection_names():
                async for doc in db[col].find({}):
                    text = str(doc)
                    assert marker not in text, f"{db_name}.{col} still holds the person's data"
    finally:
        await client.close()
    async with stack.client() as c:
        assert (await c.get(f"{stack.gateway}/v1/contacts/{pid}")).status_code == 404

    # and what Kafka still holds about the person is unreadable, even with the platform's key-encryption key
    readable, shredded = await scan_topics(infra, pid, marker)
    assert readable == [], f"readable personal data left in Kafka: {readable}"
    assert shredded >= 3  # contact.created, the consent statement, the export answers: still there, unreadable


async def scan_topics(infra: Infra, person_id: str, marker: str) -> tuple[list[str], int]:
    """Every record of every platform topic, read raw and decrypted with every key that still exists."""
    keys = SubjectKeys(infra.kafka_bootstrap, LOCAL_DEFAULT_SECRET, "erasure-scan")
    await keys.start()
    readable: list[str] = []
    shredded = 0
    try:
        for topic in ALL_TOPICS:
            for r in await read_to_end(infra.kafka_bootstrap, topic.name):
                if r.value is None:
                    continue
                if marker.encode() in r.value:
                    readable.append(f"{topic.name}@{r.offset} in clear")
                    continue
                try:
                    event = EventEnvelope.model_validate_json(r.value)
                except ValueError:
                    continue  # key records, poison kept on dead-letter topics
                if event.datakeyid is None:
                    continue
                try:
                    opened = await keys.decrypt(event)
                except SubjectShredded:
                    shredded += event.subject == person_id
                    continue
                if marker in opened.model_dump_json():
                    readable.append(f"{topic.name}@{r.offset} decryptable")
    finally:
        await keys.stop()
    return readable, shredded
