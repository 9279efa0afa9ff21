"""The contacts document-level outbox: an event recorded with a contact reaches Kafka even when the first publish
failed, leaves the outbox only once acknowledged, and a retried create with the same Idempotency-Key is one contact."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cdp_common.contracts.contacts_api import ImportBatch, ImportRow
from cdp_common.events import EventEnvelope
from cdp_common.messaging import EventPublisher, make_broker
from cdp_common.store import Document
from cdp_contacts.service_layer import bulk, handlers
from pymongo.asynchronous.database import AsyncDatabase

from tests.integration.contacts.support import BrokenPublisher, RecordingPublisher, command, deps_for
from tests.support.infra import Infra
from tests.support.kafka import private_topics, read_all

pytestmark = pytest.mark.integration


class TestOutbox:
    async def test_event_survives_a_failed_publish_and_the_relay_delivers_it(
        self, infra: Infra, db: AsyncDatabase[Document]
    ) -> None:
        (topic,) = await private_topics(infra.kafka_bootstrap, "contacts")
        deps = await deps_for(db, BrokenPublisher(), topic)
        result = await handlers.create_contact(command(), deps)
        contact_id = result.contact.id
        assert len(await deps.repo.pending_outbox(contact_id)) == 1

        broker = make_broker(infra.kafka_bootstrap, "test")
        await broker.start()
        try:
            deps.publisher = EventPublisher(broker)
            sent = await handlers.relay_outbox_once(deps, grace=timedelta(0))
        finally:
            await broker.stop()
        assert sent == 1
        assert await deps.repo.pending_outbox(contact_id) == []
        assert await db.contact_work.count_documents({}) == 0  # the relay finished the work
        records = await read_all(infra.kafka_bootstrap, topic, expect=1)
        assert len(records) == 1 and records[0].key == contact_id.encode()
        event = EventEnvelope.model_validate_json(records[0].value)
        assert event.type == "contact.created" and event.data["full_name"] == "Phạm Quốc Bảo"

    async def test_same_idempotency_key_is_one_contact(self, db: AsyncDatabase[Document]) -> None:
        deps = await deps_for(db, BrokenPublisher(), "unused")
        first = await handlers.create_contact(command(idempotency_key="k1"), deps)
        again = await handlers.create_contact(command(idempotency_key="k1"), deps)
        other = await handlers.create_contact(command(idempotency_key="k2"), deps)
        assert (first.replayed, again.replayed, other.replayed) == (False, True, False)
        assert first.contact.id == again.contact.id != other.contact.id
        assert await db.contacts.count_documents({}) == 2

    async def test_a_later_change_sends_what_an_earlier_publish_left_first(self, db: AsyncDatabase[Document]) -> None:
        """The write hands back the outbox as it was plus its own events: the writer publishes the leftover first,
        in order, then empties the outbox and drops its work marker, with no second read."""
        deps = await deps_for(db, BrokenPublisher(), "t")
        contact_id = (await handlers.create_contact(command(), deps)).contact.id
        assert await db.contact_work.count_documents({}) == 1  # Kafka was down: the marker stays for the relay

        recorder = RecordingPublisher()
        deps.publisher = recorder
        await handlers.set_lead_status(contact_id, "attempted_to_contact", by="lan.sales", note=None, deps=deps)
        assert [e.type for e in recorder.events] == ["contact.created", "contact.lead_status_changed"]
        assert await deps.repo.pending_outbox(contact_id) == []
        assert await db.contact_work.count_documents({}) == 0

    async def test_a_newer_marker_survives_an_older_finisher(self, db: AsyncDatabase[Document]) -> None:
        deps = await deps_for(db, RecordingPublisher(), "t")
        contact_id = (await handlers.create_contact(command(), deps)).contact.id
        newer = await deps.repo._mark_work(contact_id)  # a writer marked it again after an older one had read
        await deps.repo.finish_work(contact_id, "older-token")
        assert await deps.repo.work_token(contact_id) == newer

    async def test_an_import_batch_publishes_its_contacts_events_at_once(self, db: AsyncDatabase[Document]) -> None:
        """Not left to the relay (which sends a hundred contacts every two seconds): the batch's events go to Kafka
        with the batch, the outboxes are emptied and no work marker stays. A second run of the file sends nothing."""
        recorder = RecordingPublisher()
        deps = await deps_for(db, recorder, "t")
        rows = [
            ImportRow(
                row=n,
                data={
                    "full_name": f"Khách Nhập {n}",
                    "emails": [{"address": f"khach{n}@example.vn"}],
                    "source": "shop",
                },
            )
            for n in range(1, 4)
        ]
        result = await bulk.import_batch(ImportBatch(import_id="file-1", rows=rows), deps, by="admin")
        assert result.created == 3
        assert sorted(e.type for e in recorder.events) == ["contact.created"] * 3
        assert await db.contact_work.count_documents({}) == 0
        assert await db.contact_batches.count_documents({}) == 0
        assert await db.contacts.count_documents({"outbox.0": {"$exists": True}}) == 0
        again = await bulk.import_batch(ImportBatch(import_id="file-1", rows=rows), deps, by="admin")
        assert (again.created, again.already_imported, len(recorder.events)) == (0, 3, 3)

    async def test_the_relay_sends_an_unpublished_import_batch_for_the_contacts_it_created(
        self, db: AsyncDatabase[Document]
    ) -> None:
        """Kafka was down during the import: the batch's events wait in one document until the relay sends them.
        A row the same file imported before is not created again, and nothing is sent for it a second time."""
        rows = [
            ImportRow(row=n, data={"full_name": f"Khách Lỡ {n}", "phones": [{"number": f"090123450{n}"}]})
            for n in range(1, 4)
        ]
        earlier = RecordingPublisher()
        deps = await deps_for(db, earlier, "t")
        await bulk.import_batch(ImportBatch(import_id="file-2", rows=rows[:1]), deps, by="admin")

        deps.publisher = BrokenPublisher()
        result = await bulk.import_batch(ImportBatch(import_id="file-2", rows=rows), deps, by="admin")
        assert (result.created, result.already_imported) == (2, 1)
        assert await db.contact_batches.count_documents({}) == 1

        recorder = RecordingPublisher()
        deps.publisher = recorder
        assert await handlers.relay_outbox_once(deps, grace=timedelta(minutes=1)) == 0  # too fresh: still in hand
        assert await handlers.relay_outbox_once(deps, grace=timedelta(0)) == 2
        assert sorted(e.data["full_name"] for e in recorder.events) == ["Khách Lỡ 2", "Khách Lỡ 3"]
        assert await db.contact_batches.count_documents({}) == 0
        assert await handlers.relay_outbox_once(deps, grace=timedelta(0)) == 0
