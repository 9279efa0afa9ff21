"""The golden record: survivorship picks one value per field and can explain it; staff edits win by default;
lists are unions minus what staff removed; a merge can be undone giving each contact back what was its own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from cdp_common.contracts import REGISTRY
from cdp_common.contracts.contacts import ContactCreated, ContactUpdated
from cdp_contacts.domain.model import Contact
from cdp_contacts.domain.survivorship import SurvivorshipPolicy

T0 = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)
POLICY = SurvivorshipPolicy()


def at(days: int) -> datetime:
    return T0 + timedelta(days=days)


def new(values: dict[str, Any], source: str = "shop-till", staff: bool = False, cid: str = "c1") -> Contact:
    return Contact.create(values=values, source=source, now=T0, policy=POLICY, staff=staff, contact_id=cid)


def email(address: str, primary: bool = False) -> dict[str, Any]:
    return {"address": address, "type": "personal", "verified": False, "primary": primary}


class TestCreation:
    def test_records_contact_created_with_what_was_stored(self) -> None:
        c = new({"full_name": "Nguyễn Thị Minh Khai", "emails": [email("khai@example.vn")]})
        assert [e.type for e in c.events] == ["contact.created"]
        payload = REGISTRY.parse(c.events[0])
        assert isinstance(payload, ContactCreated)
        assert payload.full_name == "Nguyễn Thị Minh Khai" and payload.emails[0].primary

    def test_search_name_is_folded(self) -> None:
        assert new({"full_name": "Đặng Thị Ngọc Hân"}).search_name == "dang thi ngoc han"


class TestSurvivorship:
    """Default rule: a staff edit wins; otherwise the more trusted source; otherwise the more recent value."""

    def test_staff_edit_beats_a_later_source(self) -> None:
        c = new({"full_name": "Nguyễn Văn An"}, source="staff", staff=True)
        c.contribute(
            {"full_name": "Nguyen Van Ann"},
            source="ecommerce",
            observed_at=at(5),
            staff=False,
            policy=POLICY,
            now=at(5),
        )
        assert c.golden["full_name"] == "Nguyễn Văn An"
        assert c.provenance["full_name"]["rule"].startswith("staff_edit_wins")

    def test_source_priority_then_recency(self) -> None:
        c = new({"full_name": "An Nguyen"}, source="contest")
        changes = c.contribute(
            {"full_name": "Nguyễn Văn An"}, source="ecommerce", observed_at=at(1), staff=False, policy=POLICY, now=at(1)
        )
        assert changes == {"full_name": "Nguyễn Văn An"}
        c.contribute(
            {"full_name": "A. Nguyen"}, source="contest", observed_at=at(2), staff=False, policy=POLICY, now=at(2)
        )
        assert c.golden["full_name"] == "Nguyễn Văn An"  # ecommerce outranks contest, however recent
        assert c.provenance["full_name"]["source"] == "ecommerce"

    def test_the_winning_source_without_accents_keeps_the_name_with_them(self) -> None:
        c = new({"full_name": "Vũ Thanh Trang"}, source="shop-till")
        c.contribute(
            {"full_name": "Trang Vu Thanh"},
            source="ecommerce",
            observed_at=at(1),
            staff=False,
            policy=POLICY,
            now=at(1),
        )
        assert c.golden["full_name"] == "Vũ Thanh Trang"  # ecommerce outranks the till, but says the same name
        assert c.provenance["full_name"]["source"] == "shop-till"
        assert "the same name with its accents" in c.provenance["full_name"]["rule"]
        c.contribute(
            {"full_name": "Trang Vu Thi"}, source="ecommerce", observed_at=at(2), staff=False, policy=POLICY, now=at(2)
        )
        assert c.golden["full_name"] == "Trang Vu Thi"  # another name: the trusted source wins as before

    def test_most_recent_strategy_per_field(self) -> None:
        policy = SurvivorshipPolicy(version=2, field_strategies={"preferred_channel": "most_recent"})
        c = Contact.create(
            values={"full_name": "B", "preferred_channel": "email"},
            source="staff",
            now=T0,
            policy=policy,
            staff=True,
            contact_id="c",
        )
        c.contribute(
            {"preferred_channel": "zalo"}, source="social", observed_at=at(3), staff=False, policy=policy, now=at(3)
        )
        assert c.golden["preferred_channel"] == "zalo"
        assert "policy v2" in c.provenance["preferred_channel"]["rule"]

    def test_late_older_statement_never_overrides_a_newer_one_of_the_same_source(self) -> None:
        c = new({"full_name": "X"})
        c.contribute(
            {"preferred_channel": "sms"}, source="ecommerce", observed_at=at(5), staff=False, policy=POLICY, now=at(5)
        )
        c.contribute(
            {"preferred_channel": "email"}, source="ecommerce", observed_at=at(1), staff=False, policy=POLICY, now=at(6)
        )
        assert c.golden["preferred_channel"] == "sms"

    def test_update_event_names_only_changed_fields(self) -> None:
        c = new({"full_name": "X", "gender": "female"})
        c.events.clear()
        c.contribute(
            {"gender": "female", "birth_date": "1990-01-02"},
            source="ecommerce",
            observed_at=at(1),
            staff=False,
            policy=POLICY,
            now=at(1),
        )
        (event,) = c.events
        payload = REGISTRY.parse(event)
        assert isinstance(payload, ContactUpdated) and payload.changes == {"birth_date": "1990-01-02"}

    def test_explain_lists_every_candidate_in_rank_order(self) -> None:
        c = new({"full_name": "An Nguyen"}, source="contest")
        c.contribute(
            {"full_name": "Nguyễn Văn An"}, source="ecommerce", observed_at=at(1), staff=False, policy=POLICY, now=at(1)
        )
        why = c.explain("full_name", POLICY)
        assert [x["source"] for x in why["candidates"]] == ["ecommerce", "contest"]
        assert why["rule"] == "source_priority" and why["value"] == "Nguyễn Văn An"


class TestListFields:
    def test_union_across_sources_with_one_primary(self) -> None:
        c = new({"full_name": "X", "emails": [email("a@x.vn")]})
        c.contribute(
            {"emails": [email("b@x.vn", primary=True)]},
            source="ecommerce",
            observed_at=at(1),
            staff=False,
            policy=POLICY,
            now=at(1),
        )
        assert [e["address"] for e in c.golden["emails"]] == ["b@x.vn", "a@x.vn"]
        assert [e["primary"] for e in c.golden["emails"]] == [True, False]

    def test_staff_removal_sticks_until_a_source_states_it_again(self) -> None:
        c = new({"full_name": "X", "emails": [email("old@x.vn"), email("new@x.vn")]})
        c.contribute(
            {"emails": [email("new@x.vn")]}, source="staff", observed_at=at(1), staff=True, policy=POLICY, now=at(1)
        )
        assert [e["address"] for e in c.golden["emails"]] == ["new@x.vn"]
        c.contribute(
            {"emails": [email("old@x.vn")]},
            source="shop-till",
            observed_at=at(2),
            staff=False,
            policy=POLICY,
            now=at(2),
        )
        assert {e["address"] for e in c.golden["emails"]} == {"new@x.vn", "old@x.vn"}


class TestMergeAndUndo:
    """Undoing a merge gives each contact back exactly what was its own."""

    def test_release_restores_the_survivor(self) -> None:
        a = new({"full_name": "Nguyễn Văn An", "emails": [email("an@x.vn")]}, cid="a")
        a.tags = ["vip"]
        a.set_lead_status("open", by="lan", note=None, now=at(1))
        b = new(
            {
                "full_name": "An Nguyen",
                "phones": [{"number": "+84912000111", "type": "mobile", "verified": False, "primary": True}],
                "birth_date": "1990-05-06",
            },
            source="ecommerce",
            cid="b",
        )
        b.tags = ["newsletter"]
        b.owner = "minh"
        b.set_lifecycle("customer", by="event:order.paid", reason="paid", now=at(2))
        before = (dict(a.golden), list(a.tags), a.owner, a.lifecycle_stage, a.lead_status, list(a.lead_status_history))

        assert a.absorb(b, merge_id="m1", policy=POLICY, now=at(3))
        assert not a.absorb(b, merge_id="m1", policy=POLICY, now=at(3))  # idempotent
        assert a.golden["birth_date"] == "1990-05-06" and len(a.golden["phones"]) == 1
        assert a.tags == ["newsletter", "vip"] and a.owner == "minh" and a.lifecycle_stage == "customer"
        assert len(a.lifecycle_history) == 1

        assert a.release("m1", policy=POLICY, now=at(4)) == "b"
        assert (
            dict(a.golden),
            list(a.tags),
            a.owner,
            a.lifecycle_stage,
            a.lead_status,
            list(a.lead_status_history),
        ) == before
        assert a.lifecycle_history == []
        assert a.release("m1", policy=POLICY, now=at(4)) is None

    def test_changes_made_after_the_merge_stay_with_the_survivor(self) -> None:
        a = new({"full_name": "A"}, cid="a")
        b = new({"full_name": "B"}, cid="b")
        a.absorb(b, merge_id="m1", policy=POLICY, now=at(1))
        a.set_lead_status("connected", by="lan", note="called", now=at(2))
        a.release("m1", policy=POLICY, now=at(3))
        assert a.lead_status == "connected"


class TestLifecycle:
    def test_automatic_moves_forward_only_and_once_per_event(self) -> None:
        c = new({"full_name": "X"})
        assert c.advance_lifecycle("customer", cause_type="order.paid", cause_event_id="e1", now=at(1))
        assert not c.advance_lifecycle("lead", cause_type="lead.form_submitted", cause_event_id="e2", now=at(2))
        assert not c.advance_lifecycle("evangelist", cause_type="referral.made", cause_event_id="e1", now=at(3))
        assert c.lifecycle_stage == "customer"

    def test_staff_may_go_back_with_a_reason_kept_in_history(self) -> None:
        c = new({"full_name": "X"})
        c.advance_lifecycle("customer", cause_type="order.paid", cause_event_id="e1", now=at(1))
        c.set_lifecycle("lead", by="lan", reason="order was a test", now=at(2))
        assert c.lifecycle_stage == "lead"
        last = c.lifecycle_history[-1]
        assert (last["from"], last["to"], last["by"], last["reason"], last["automatic"]) == (
            "customer",
            "lead",
            "lan",
            "order was a test",
            False,
        )
