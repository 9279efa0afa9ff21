"""Profiles on the real store: concurrent edits never lose one another, search finds names without accents and in
any word order, phones in any format, filters combine, cursor pages neither skip nor repeat."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from cdp_common.contracts import REGISTRY
from cdp_common.contracts.interactions import OrderPaid, TicketOpened
from cdp_common.events import make_event
from cdp_common.store import Document
from cdp_contacts.adapters.repository import SearchQuery
from cdp_contacts.domain.lifecycle import LifecycleRules
from cdp_contacts.service_layer import handlers
from pymongo.asynchronous.database import AsyncDatabase

from tests.integration.contacts.support import RecordingPublisher, command, deps_for

pytestmark = pytest.mark.integration

NAMES = ["Nguyễn Văn An", "Nguyễn Thị Bình", "Trần Văn An", "Lê Thị Hồng", "Phạm Quốc Bảo", "Đặng Thị Ngọc Hân"]


def values(name: str, phone: str | None = None) -> dict[str, Any]:
    v: dict[str, Any] = {"full_name": name}
    if phone:
        v["phones"] = [{"number": phone, "type": "mobile", "verified": False, "primary": True}]
    return v


class TestConcurrency:
    async def test_concurrent_edits_all_land(self, db: AsyncDatabase[Document]) -> None:
        deps = await deps_for(db, RecordingPublisher())
        created = await handlers.create_contact(command(), deps)
        cid = created.contact.id
        tags = [f"t{i}" for i in range(10)]

        async def add_tag(tag: str) -> None:
            async def change(c: Any) -> None:
                c.organise(now=c.updated_at, tags=[*c.tags, tag])

            await handlers.mutate(cid, change, deps)

        await asyncio.gather(*(add_tag(t) for t in tags))
        contact = await deps.repo.get(cid)
        assert contact is not None and sorted(contact.tags) == sorted(tags)
        assert contact.version == 11


class TestSearch:
    async def test_names_without_accents_any_order_and_prefix(self, db: AsyncDatabase[Document]) -> None:
        deps = await deps_for(db, RecordingPublisher())
        for name in NAMES:
            await handlers.create_contact(command(values=values(name), staff=True, source="staff"), deps)

        async def names(q: str) -> list[str]:
            found, _ = await deps.repo.search(SearchQuery(name=q, sort="full_name", descending=False))
            return [c.full_name for c in found]

        assert await names("nguyen van an") == ["Nguyễn Văn An"]
        assert await names("An Nguyen Van") == ["Nguyễn Văn An"]
        assert await names("van an") == ["Nguyễn Văn An", "Trần Văn An"]
        assert await names("dang thi ngoc h") == ["Đặng Thị Ngọc Hân"]
        assert await names("Nguyễn") == ["Nguyễn Thị Bình", "Nguyễn Văn An"]

    async def test_filters_combine(self, db: AsyncDatabase[Document]) -> None:
        deps = await deps_for(db, RecordingPublisher())
        a = await handlers.create_contact(command(values=values("An", "+84912000001"), tags=["vip"], owner="lan"), deps)
        await handlers.create_contact(command(values=values("Bình", "+84912000002"), tags=["vip"]), deps)
        await handlers.set_lifecycle(a.contact.id, "customer", by="lan", reason="verified", deps=deps)
        found, _ = await deps.repo.search(SearchQuery(tag="vip", owner="lan", lifecycle_stage="customer"))
        assert [c.id for c in found] == [a.contact.id]
        found, _ = await deps.repo.search(SearchQuery(phone="+84912000002"))
        assert [c.full_name for c in found] == ["Bình"]

    async def test_cursor_pages_cover_everything_once(self, db: AsyncDatabase[Document]) -> None:
        deps = await deps_for(db, RecordingPublisher())
        ids = set()
        for i in range(23):
            ids.add((await handlers.create_contact(command(values=values(f"Khách {i:02d}")), deps)).contact.id)
        seen: list[str] = []
        cursor = None
        while True:
            page, cursor = await deps.repo.search(
                SearchQuery(limit=5, cursor=cursor, sort="full_name", descending=False)
            )
            seen += [c.id for c in page]
            if cursor is None:
                break
        assert len(seen) == 23 and set(seen) == ids


class TestInteractions:
    async def test_timeline_once_figures_and_lifecycle(self, db: AsyncDatabase[Document]) -> None:
        deps = await deps_for(db, RecordingPublisher())
        cid = (await handlers.create_contact(command(), deps)).contact.id
        t = datetime(2026, 11, 1, tzinfo=UTC)
        paid = make_event(
            source="integration/pos",
            event_type="order.paid",
            subject=cid,
            data=OrderPaid(
                contact_id=cid, occurred_at=t, order_id="o1", total={"amount": 2_500_000, "currency": "VND"}
            ),
        )  # type: ignore[arg-type]
        ticket = make_event(
            source="integration/desk",
            event_type="ticket.opened",
            subject=cid,
            data=TicketOpened(contact_id=cid, occurred_at=t, ticket_id="k1"),
        )
        for e in (paid, paid, ticket):  # the order is delivered twice
            await handlers.apply_interaction(e, REGISTRY.parse(e), deps)
        contact = await deps.repo.get(cid)
        assert contact is not None
        assert contact.quantitative["purchases"] == 1 and contact.quantitative["total_spent"] == 2_500_000
        assert contact.quantitative["support_requests_total"] == 1
        assert contact.lifecycle_stage == "customer"
        assert [h["by"] for h in contact.lifecycle_history] == ["event:order.paid"]
        entries = await deps.timeline.page(cid, 10)
        assert [e["type"] for e in entries].count("order.paid") == 1

    async def test_interaction_for_an_unknown_person_starts_a_profile(self, db: AsyncDatabase[Document]) -> None:
        deps = await deps_for(db, RecordingPublisher())
        e = make_event(
            source="integration/desk",
            event_type="ticket.opened",
            subject="p-unknown",
            data=TicketOpened(contact_id="p-unknown", occurred_at=datetime(2026, 11, 2, tzinfo=UTC), ticket_id="k"),
        )
        await handlers.apply_interaction(e, REGISTRY.parse(e), deps)
        contact = await deps.repo.get("p-unknown")
        assert contact is not None and contact.quantitative["support_requests_total"] == 1

    async def test_a_batch_applies_each_persons_events_in_order_and_again_changes_nothing(
        self, db: AsyncDatabase[Document]
    ) -> None:
        """A consumer batch: three people at once, the first with two paid orders (a customer, then an evangelist
        at the second purchase), delivered again as a whole after a crash."""
        deps = await deps_for(db, RecordingPublisher())
        deps.lifecycle = LifecycleRules(evangelist_after_purchases=2)
        t = datetime(2026, 11, 1, 9, tzinfo=UTC)

        def paid(cid: str, order: str, amount: int) -> Any:
            data = OrderPaid(contact_id=cid, occurred_at=t, order_id=order, total={"amount": amount, "currency": "VND"})  # type: ignore[arg-type]
            return make_event(source="integration/pos", event_type="order.paid", subject=cid, data=data)

        def ticket(cid: str) -> Any:
            data = TicketOpened(contact_id=cid, occurred_at=t, ticket_id=f"k-{cid}")
            return make_event(source="integration/desk", event_type="ticket.opened", subject=cid, data=data)

        events = [paid("b1", "o1", 100_000), ticket("b2"), paid("b1", "o2", 300_000), paid("b3", "o3", 50_000)]
        batch = [(e, REGISTRY.parse(e)) for e in events]
        await handlers.apply_interactions(batch, deps, concurrency=2)
        await handlers.apply_interactions(batch, deps, concurrency=2)
        b1, b2, b3 = [await deps.repo.get(c) for c in ("b1", "b2", "b3")]
        assert b1 is not None and b2 is not None and b3 is not None
        assert b1.quantitative["purchases"] == 2 and b1.quantitative["total_spent"] == 400_000
        assert [(h["to"], h["by"]) for h in b1.lifecycle_history] == [
            ("customer", "event:order.paid"),
            ("evangelist", "event:order.paid"),
        ]
        assert b2.quantitative["support_requests_total"] == 1 and b2.lifecycle_stage != "customer"
        assert b3.lifecycle_stage == "customer" and b3.quantitative["purchases"] == 1
        assert len(await deps.timeline.page("b1", 10)) == 2
        assert await deps.repo.contacts_with_work() == []  # every outbox published, every marker gone
        assert [d async for d in db["contacts"].find({"outbox.0": {"$exists": True}}, {"_id": 1})] == []
        # the second delivery went the way of known profiles, all at once, and changed nothing
        third = [(e, REGISTRY.parse(e)) for e in [paid("b1", "o4", 200_000), ticket("b3")]]
        await handlers.apply_interactions(third, deps)
        b1, b3 = await deps.repo.get("b1"), await deps.repo.get("b3")
        assert b1 is not None and b3 is not None
        assert b1.quantitative["purchases"] == 3 and b1.quantitative["total_spent"] == 600_000
        assert b3.quantitative["support_requests_total"] == 1 and b3.lifecycle_stage == "customer"
        assert [h["to"] for h in b1.lifecycle_history] == ["customer", "evangelist"]
        assert await deps.repo.contacts_with_work() == []


class TestTimelinePages:
    async def test_pages_of_a_long_timeline_neither_skip_nor_repeat(self, db: AsyncDatabase[Document]) -> None:
        from cdp_contacts.adapters.timeline import Timeline

        timeline = Timeline(db)
        kinds = ["web.visited", "order.paid", "ticket.opened"]
        items = [
            (f"e{n}", kinds[n % 3], datetime(2026, 1, 1, tzinfo=UTC).replace(minute=n % 60, hour=n // 60), {"n": n})
            for n in range(130)
        ]
        await timeline.add("c1", items[:70])
        await timeline.add("c1", items[70:])
        newest_first = [f"e{n}" for n in reversed(range(130))]

        for types, expected in (
            (None, newest_first),
            (["order.paid"], [e for e in newest_first if int(e[1:]) % 3 == 1]),
        ):
            seen: list[str] = []
            after = None
            while page := await timeline.page("c1", 7, after, types):
                assert len(page) <= 7
                seen += [d["event_id"] for d in page]
                after = page[-1]["_id"]
            assert seen == expected


class TestFiguresOfProfilesStoredBeforeBases:
    async def test_counted_from_the_timeline_once_then_kept_current(self, db: AsyncDatabase[Document]) -> None:
        from cdp_contacts.domain.quantitative import compute

        deps = await deps_for(db, RecordingPublisher())
        cid = (await handlers.create_contact(command(), deps)).contact.id

        def paid(n: int, amount: int) -> Any:
            e = make_event(
                source="integration/pos",
                event_type="order.paid",
                subject=cid,
                data=OrderPaid(
                    contact_id=cid,
                    occurred_at=datetime(2026, 10, n, tzinfo=UTC),
                    order_id=f"o{n}",
                    total={"amount": amount, "currency": "VND"},  # type: ignore[arg-type]
                ),
            )
            return e, REGISTRY.parse(e)

        first = [paid(1, 100_000), paid(2, 200_000)]
        await handlers.apply_interactions(first, deps)
        # as a profile written before bases existed: figures, no basis, no applied interactions
        await db["contacts"].update_one({"_id": cid}, {"$unset": {"figures_basis": "", "applied": ""}})

        third = paid(3, 300_000)
        await handlers.apply_interactions([first[1], third], deps)  # a redelivery and a new order
        await handlers.apply_interactions([paid(4, 400_000), third], deps)
        contact = await deps.repo.get(cid)
        assert contact is not None and contact.figures_basis is not None
        entries = [e for e in await deps.timeline.all_of(cid) if e["type"] == "order.paid"]
        assert len(entries) == 4
        assert {k: v for k, v in contact.quantitative.items() if k != "computed_at"} == {
            k: v for k, v in compute(entries, contact.quantitative["computed_at"]).items() if k != "computed_at"
        }
        assert contact.quantitative["purchases"] == 4 and contact.quantitative["total_spent"] == 1_000_000
