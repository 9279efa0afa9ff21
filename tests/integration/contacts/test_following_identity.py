"""Contacts follow identity's decisions: a linked record adds its values as candidates (creating the person's
profile if new); a merge joins profiles, timelines and histories; undoing it gives each back exactly its own."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cdp_common.contracts import REGISTRY
from cdp_common.contracts.identity import (
    CONTACT_RECORD_PREFIX,
    MergeUndone,
    PersonsMerged,
    RecordLinked,
    SourceAttributes,
)
from cdp_common.contracts.interactions import OrderPaid, TicketOpened
from cdp_common.events import EventEnvelope, make_event
from cdp_common.store import Document
from cdp_contacts.service_layer import followers, handlers
from pymongo.asynchronous.database import AsyncDatabase

from tests.integration.contacts.support import RecordingPublisher, deps_for

pytestmark = pytest.mark.integration
T = datetime(2026, 10, 1, tzinfo=UTC)


def linked(person: str, source: str, record: str, **attrs: object) -> EventEnvelope:
    return make_event(
        source="cdp/identity",
        event_type="identity.record_linked",
        subject=person,
        data=RecordLinked(
            person_id=person,
            source=source,
            record_id=record,
            observed_at=T,
            new_person=True,
            rule="probabilistic",
            rule_version=1,
            score=0.97,
            attributes=SourceAttributes.model_validate(attrs),
        ),
    )


async def apply(e: EventEnvelope, deps: handlers.Deps) -> None:
    payload = REGISTRY.parse(e)
    if e.type.startswith("identity."):  # as the service: a poll (here of one) of identity decisions
        await followers.on_identity_decisions([(e, payload)], deps)
    else:
        await handlers.apply_interaction(e, payload, deps)


class TestFollowingIdentity:
    async def test_a_poll_notes_contacts_echoes_together_and_applies_the_rest_in_order(
        self, db: AsyncDatabase[Document]
    ) -> None:
        """Contacts' own records echoed back only add the link to the 360° view (none for an erased contact); a
        record of another source between them still enriches its profile, in the poll's order."""
        deps = await deps_for(db, RecordingPublisher())
        await db.erased.insert_one({"_id": "gone"})
        poll = [
            linked("c1", f"{CONTACT_RECORD_PREFIX}import", "c1", full_name="Trần Thị Mai"),
            linked("c2", "contest", "k7", full_name="Lê Văn Hùng", phones=["0903 111 222"]),
            linked("gone", f"{CONTACT_RECORD_PREFIX}import", "gone", full_name="Đã Xoá"),
            linked("c3", f"{CONTACT_RECORD_PREFIX}staff", "c3", full_name="Phạm Bảo"),
        ]
        await followers.on_identity_decisions([(e, REGISTRY.parse(e)) for e in poll], deps)
        assert set((await deps.views.get("c1"))["identity"]) == {f"{CONTACT_RECORD_PREFIX}import:c1"}
        assert set((await deps.views.get("c3"))["identity"]) == {f"{CONTACT_RECORD_PREFIX}staff:c3"}
        assert await deps.views.get("gone") == {}
        assert await deps.repo.get("c1") is None  # an echo does not make a profile: the contact is its own
        enriched = await deps.repo.get("c2")
        assert enriched is not None and [p["number"] for p in enriched.golden["phones"]] == ["+84903111222"]

    async def test_record_linked_creates_then_enriches_a_profile(self, db: AsyncDatabase[Document]) -> None:
        deps = await deps_for(db, RecordingPublisher())
        await apply(linked("p1", "contest", "r1", full_name="An Nguyen", emails=["AN@x.vn", "not-an-email"]), deps)
        await apply(linked("p1", "ecommerce", "r9", full_name="Nguyễn Văn An", phones=["0912 000 111"]), deps)
        c = await deps.repo.get("p1")
        assert c is not None
        assert c.full_name == "Nguyễn Văn An"  # ecommerce outranks contest
        assert [e["address"] for e in c.golden["emails"]] == ["AN@x.vn"]
        assert [p["number"] for p in c.golden["phones"]] == ["+84912000111"]
        views = await deps.views.get("p1")
        assert set(views["identity"]) == {"contest:r1", "ecommerce:r9"}

    async def test_merge_then_undo_gives_each_back_its_own(self, db: AsyncDatabase[Document]) -> None:
        deps = await deps_for(db, RecordingPublisher())
        await apply(linked("a", "shop-till", "t1", full_name="Nguyễn Văn An", phones=["0912000111"]), deps)
        await apply(
            linked("b", "ecommerce", "e1", full_name="An Nguyen", birth_date="1990-05-06", emails=["an@x.vn"]), deps
        )
        paid = make_event(
            source="integration/shop",
            event_type="order.paid",
            subject="b",
            data=OrderPaid(contact_id="b", occurred_at=T, order_id="o1", total={"amount": 900_000, "currency": "VND"}),
        )  # type: ignore[arg-type]
        ticket = make_event(
            source="integration/desk",
            event_type="ticket.opened",
            subject="a",
            data=TicketOpened(contact_id="a", occurred_at=T, ticket_id="k1"),
        )
        await apply(paid, deps)
        await apply(ticket, deps)
        a_before = await deps.repo.get("a")
        b_before = await deps.repo.get("b")
        assert a_before is not None and b_before is not None

        merge = make_event(
            source="cdp/identity",
            event_type="identity.persons_merged",
            subject="a",
            data=PersonsMerged(merge_id="m1", survivor_id="a", merged_id="b", by="lan", merged_at=T),
        )
        await apply(merge, deps)
        await apply(merge, deps)  # redelivered
        a = await deps.repo.get("a")
        assert a is not None
        assert a.golden["birth_date"] == "1990-05-06" and len(a.golden["emails"]) == 1
        assert a.quantitative["purchases"] == 1 and a.quantitative["support_requests_total"] == 1
        assert a.lifecycle_stage == "customer"
        assert {e["event_id"] for e in await deps.timeline.page("a", 10)} == {paid.id, ticket.id}
        assert (await handlers.get_contact("b", deps)).id == "a"  # type: ignore[union-attr]

        undo = make_event(
            source="cdp/identity",
            event_type="identity.merge_undone",
            subject="a",
            data=MergeUndone(merge_id="m1", survivor_id="a", restored_id="b", by="lan", undone_at=T),
        )
        await apply(undo, deps)
        await apply(undo, deps)
        a_after, b_after = await deps.repo.get("a"), await deps.repo.get("b")
        assert a_after is not None and b_after is not None
        assert a_after.golden == a_before.golden and a_after.lifecycle_stage == a_before.lifecycle_stage
        assert a_after.quantitative["purchases"] == 0 and a_after.quantitative["support_requests_total"] == 1
        assert b_after.status == "active" and b_after.golden == b_before.golden
        assert b_after.quantitative["purchases"] == 1 and b_after.lifecycle_stage == "customer"
        assert [e["event_id"] for e in await deps.timeline.page("a", 10)] == [ticket.id]
        assert [e["event_id"] for e in await deps.timeline.page("b", 10)] == [paid.id]
