"""Custom field validation, quantitative figures from the timeline, lifecycle rules and data health."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from cdp_contacts.domain.custom_fields import CustomFieldDefinition, InvalidValue, validate_values
from cdp_contacts.domain.health import assess
from cdp_contacts.domain.lifecycle import LifecycleRules
from cdp_contacts.domain.quantitative import QUANTITATIVE_TYPES, compute

NOW = datetime(2026, 11, 22, tzinfo=UTC)


class TestCustomFields:
    @pytest.mark.parametrize(
        ("definition", "value", "stored"),
        [
            (CustomFieldDefinition("size", "Size", "single_select", options=("S", "M", "L")), "M", "M"),
            (
                CustomFieldDefinition("sizes", "Sizes", "multi_select", options=("S", "M", "L")),
                ["L", "S", "L"],
                ["S", "L"],
            ),
            (CustomFieldDefinition("spend", "Spend", "number", min=0), 12.5, 12.5),
            (CustomFieldDefinition("since", "Since", "date"), "2024-02-29", "2024-02-29"),
            (CustomFieldDefinition("ok", "OK", "boolean"), False, False),
            (CustomFieldDefinition("site", "Site", "url"), " https://shop.vn/a ", "https://shop.vn/a"),
            (CustomFieldDefinition("alt", "Alt", "email"), "A@Example.VN", "A@example.vn"),
            (CustomFieldDefinition("zalo", "Zalo", "phone"), "0912 345 678", "+84912345678"),
            (CustomFieldDefinition("note", "Note", "text"), "  Khách  quen ", "Khách quen"),
        ],
    )
    def test_valid_values_are_normalised(self, definition: CustomFieldDefinition, value: Any, stored: Any) -> None:
        assert definition.validate(value) == stored

    @pytest.mark.parametrize(
        ("definition", "value"),
        [
            (CustomFieldDefinition("size", "Size", "single_select", options=("S", "M")), "XL"),
            (CustomFieldDefinition("spend", "Spend", "number", min=0), -1),
            (CustomFieldDefinition("spend", "Spend", "number"), True),
            (CustomFieldDefinition("since", "Since", "date"), "2023-02-29"),
            (CustomFieldDefinition("site", "Site", "url"), "javascript:alert(1)"),
            (CustomFieldDefinition("zalo", "Zalo", "phone"), "12"),
            (CustomFieldDefinition("note", "Note", "text", max_length=3), "abcd"),
        ],
    )
    def test_invalid_values_are_refused(self, definition: CustomFieldDefinition, value: Any) -> None:
        with pytest.raises(InvalidValue):
            definition.validate(value)

    def test_unknown_and_retired_fields_are_errors_naming_the_field(self) -> None:
        defs = {"old": CustomFieldDefinition("old", "Old", "text", retired=True)}
        _, errors = validate_values({"old": "x", "nope": 1}, defs)
        assert [e["field"] for e in errors] == ["custom_fields.old", "custom_fields.nope"]


def entry(t: str, days_ago: int, **data: Any) -> dict[str, Any]:
    return {"type": t, "at": NOW - timedelta(days=days_ago), "data": data}


class TestQuantitative:
    def test_figures_from_the_timeline(self) -> None:
        entries = [
            entry("order.paid", 100, total={"amount": 1_000_000, "currency": "VND"}),
            entry("order.paid", 10, total={"amount": 3_000_000, "currency": "VND"}),
            entry("order.refunded", 5, refund={"amount": 500_000, "currency": "VND"}),
            entry("ticket.opened", 10),
            entry("ticket.opened", 60),
            entry("ticket.opened", 200),
            entry("web.visited", 1),
            entry("social.interacted", 40),
        ]
        q = compute(entries, NOW)
        assert (q["purchases"], q["total_spent"], q["average_order_value"]) == (2, 3_500_000, 1_750_000)
        assert q["first_purchase_at"] == NOW - timedelta(days=100) and q["last_purchase_at"] == NOW - timedelta(days=10)
        assert (q["support_requests_30d"], q["support_requests_90d"], q["support_requests_total"]) == (1, 2, 3)
        assert (q["web_visits_30d"], q["social_interactions_30d"], q["social_interactions_total"]) == (1, 0, 1)

    def test_no_purchases(self) -> None:
        q = compute([], NOW)
        assert q["purchases"] == 0 and q["average_order_value"] is None


class TestLifecycleRules:
    @pytest.mark.parametrize(
        ("event_type", "payload", "purchases", "stage"),
        [
            ("lead.form_submitted", None, 0, "lead"),
            ("lead.qualified", SimpleNamespace(level="mql"), 0, "marketing_qualified_lead"),
            ("lead.qualified", SimpleNamespace(level="sql"), 0, "sales_qualified_lead"),
            ("deal.opened", None, 0, "opportunity"),
            ("order.paid", None, 1, "customer"),
            ("order.paid", None, 5, "evangelist"),
            ("referral.made", None, 0, "evangelist"),
            ("web.visited", None, 0, None),
        ],
    )
    def test_stage_for(self, event_type: str, payload: Any, purchases: int, stage: str | None) -> None:
        assert LifecycleRules(evangelist_after_purchases=5).stage_for(event_type, payload, purchases) == stage


class TestHealth:
    def test_complete_and_fresh(self) -> None:
        golden = {
            "full_name": "A",
            "emails": [1],
            "phones": [1],
            "birth_date": "x",
            "addresses": [1],
            "preferred_channel": "sms",
            "descriptive.occupation": {"company": "x"},
            "interests": ["x"],
        }
        prov = {"full_name": {"observed_at": NOW}}
        h = assess(golden, prov, NOW)
        assert (h.completeness, h.freshness, h.stale, h.missing) == (1.0, 1.0, False, [])

    def test_a_year_old_profile_is_stale(self) -> None:
        h = assess({"full_name": "A"}, {"full_name": {"observed_at": NOW - timedelta(days=400)}}, NOW)
        assert h.stale and h.freshness == 0.0 and "emails" in h.missing


class TestFiguresKeptCurrent:
    def test_interactions_folded_batch_by_batch_give_the_figures_of_the_whole_timeline(self) -> None:
        """Any order, any batches, redeliveries included: the same figures as computed from every entry once."""
        import random

        from cdp_contacts.domain.model import Contact

        rng = random.Random(3)
        kinds = ["order.paid", "order.refunded", "ticket.opened", "web.visited", "social.interacted", "email.opened"]
        items = []
        for n in range(300):
            kind = rng.choice(kinds)
            data: dict[str, Any] = {}
            if kind == "order.paid":
                data = {"total": {"amount": rng.choice([150_000, 99_999.5]), "currency": "VND"}}
            elif kind == "order.refunded":
                data = {"refund": {"amount": 50_000, "currency": "VND"}}
            items.append((f"e{n}", kind, NOW - timedelta(days=rng.uniform(0, 200)), data))
        contact = Contact(id="c", source="test", created_at=NOW, updated_at=NOW)
        delivered = items + rng.sample(items, 60)  # some twice
        rng.shuffle(delivered)
        news = []
        for i in range(0, len(delivered), 17):
            news += contact.take_interactions(delivered[i : i + 17], NOW)
        assert sum(news) == len(items)
        whole = [{"type": k, "at": at, "data": d} for _, k, at, d in items if k in QUANTITATIVE_TYPES]
        assert contact.quantitative == compute(whole, NOW)
        assert contact.quantitative["purchases"] == sum(1 for _, k, _, _ in items if k == "order.paid")
