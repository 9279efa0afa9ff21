"""KPIs from events an integration publishes through the gateway: the analytics service counts each event once
(the batch is sent twice) and answers with formulas and inputs; analysts may read aggregates."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.e2e.conftest import Stack
from tests.support.kafka import eventually

pytestmark = pytest.mark.e2e
PASSWORD = "a-long-enough-password-2"


async def test_kpis_from_ingested_events(stack: Stack) -> None:
    admin = stack.token()
    name = f"analyst-{uuid.uuid4().hex[:6]}"
    async with stack.client(admin) as c:
        made = await c.post(
            f"{stack.gateway}/v1/users", json={"username": name, "password": PASSWORD, "role": "analyst"}
        )
        assert made.status_code == 201
        key = (
            await c.post(f"{stack.gateway}/v1/api-keys", json={"name": "desk", "scopes": ["survey.*", "marketing.*"]})
        ).json()["api_key"]
    run = uuid.uuid4().hex[:8]
    t = "2019-06-10T10:00:00+07:00"  # a quiet past month of its own, so other tests' events do not count
    events = [
        {
            "idempotency_key": f"{run}-{i}",
            "type": "survey.answered",
            "subject": f"nps-{run}-{i}",
            "data": {
                "contact_id": f"nps-{run}-{i}",
                "occurred_at": t,
                "response_id": f"r{i}",
                "survey_id": "nps-q2",
                "kind": "nps",
                "answers": [{"question_id": "q1", "question": "Giới thiệu cho bạn bè?", "score": score}],
            },
        }
        for i, score in enumerate([10, 9, 7, 3])
    ] + [
        {
            "idempotency_key": f"{run}-spend",
            "type": "marketing.spend_recorded",
            "subject": "summer",
            "data": {"campaign_id": "summer", "channel": "zalo-oa", "amount": 1_000_000, "occurred_at": t},
        }
    ]
    async with stack.client(key) as c:
        for _ in range(2):
            r = await c.post(f"{stack.gateway}/v1/events", json={"events": events})
            assert r.status_code == 202 and not r.json()["rejected"], r.text
    async with stack.client(stack.token(name, PASSWORD)) as c:

        async def counted() -> Any:
            k = await c.get(f"{stack.gateway}/v1/analytics/kpis", params={"from": "2019-06-01", "to": "2019-06-30"})
            body = k.json()
            k = body["kpis"]  # the answers and the spend travel on different partitions: wait for both
            return (
                body if k["nps"]["inputs"]["answers"] >= 4 and k["cost_per_lead"]["inputs"]["marketing_cost"] else None
            )

        body = await eventually(counted, timeout_s=30)
        assert body["kpis"]["nps"]["inputs"]["answers"] == 4  # sent twice, counted once
        assert body["kpis"]["nps"]["value"] == 25.0
        assert body["kpis"]["cost_per_lead"]["inputs"]["marketing_cost"] == 1_000_000
        assert body["previous"]["nps"]["value"] is None
        assert (await c.get(f"{stack.gateway}/v1/contacts")).status_code == 403

        report = await c.get(f"{stack.gateway}/v1/analytics/reports/month", params={"at": "2019-06-17"})
        assert report.status_code == 200 and report.headers["content-type"].startswith("text/csv")
        assert 'filename="kpis-month-2019-06-01.csv"' in report.headers["content-disposition"]
        rows = {r["kpi"]: r for r in csv.DictReader(io.StringIO(report.content.decode("utf-8-sig")))}
        assert rows["nps"]["value"] == "25.0" and rows["nps"]["previous"] == ""
        assert rows["nps"]["formula"].startswith("% promoters")


async def test_segment_membership_follows_an_event_to_the_360(stack: Stack) -> None:
    """Marketing defines a rule; an order published by an integration puts the customer in the segment within
    seconds, and the contact's 360° view shows it (contacts follows `segment.entered`)."""
    run = uuid.uuid4().hex[:8]
    segment = f"big-buyers-{run}"
    async with stack.client() as c:
        r = await c.put(
            f"{stack.gateway}/v1/analytics/segments/{segment}",
            json={
                "name": "Spent over 10,000,000 VND in 90 days",
                "rules": {"all": [{"metric": "revenue", "within_days": 90, "op": "gt", "value": 10_000_000}]},
            },
        )
        assert r.status_code == 202 and r.json()["evaluation"]["state"] == "running", r.text

        async def evaluated() -> Any:
            listed = {s["id"]: s for s in (await c.get(f"{stack.gateway}/v1/analytics/segments")).json()["items"]}
            return listed[segment]["evaluation"]["state"] == "done" or None

        await eventually(evaluated, timeout_s=20, interval_s=0.2)
        rules = {"all": [{"metric": "purchases", "op": "gte", "value": 1}]}
        both = {"name": "both kinds", "rules": rules, "ids": ["x"]}
        bad = await c.put(f"{stack.gateway}/v1/analytics/segments/{segment}", json=both)
        assert bad.status_code == 422 and "either" in bad.text
        contact = (await c.post(f"{stack.gateway}/v1/contacts", json={"full_name": f"Đỗ Thị Big {run}"})).json()
        cid = contact["id"]
        now = datetime.now(UTC).isoformat()
        order = {
            "idempotency_key": f"{run}-paid",
            "type": "order.paid",
            "subject": cid,
            "data": {"contact_id": cid, "occurred_at": now, "order_id": run, "total": {"amount": 12_500_000}},
        }
        assert (await c.post(f"{stack.gateway}/v1/events", json={"events": [order]})).status_code == 202

        async def member() -> Any:
            page = (await c.get(f"{stack.gateway}/v1/analytics/segments/{segment}/members")).json()
            return cid in [m["contact_id"] for m in page["items"]] or None

        await eventually(member, timeout_s=20, interval_s=0.1)

        async def shown() -> Any:
            view = (await c.get(f"{stack.gateway}/v1/contacts/{cid}/360")).json()
            return view["segments"] if segment in view["segments"] else None

        await eventually(shown, timeout_s=20)
        sizes = {s["id"]: s["size"] for s in (await c.get(f"{stack.gateway}/v1/analytics/segments")).json()["items"]}
        assert sizes[segment] == 1 and "silent" in sizes

        day = datetime.now(UTC).date().isoformat()
        per_segment = await c.get(
            f"{stack.gateway}/v1/analytics/kpis", params={"from": day, "to": day, "segment": segment}
        )
        figures = per_segment.json()["kpis"]
        assert figures["segment_members"] == 1 and figures["new_customers"] == 1
        assert figures["average_order_value"]["inputs"] == {"revenue": 12_500_000, "orders": 1}
        unknown = await c.get(f"{stack.gateway}/v1/analytics/kpis", params={"from": day, "to": day, "segment": "nope"})
        assert unknown.status_code == 404

        today = datetime.now(UTC).date().isoformat()
        cohort = (await c.get(f"{stack.gateway}/v1/analytics/journey", params={"from": today, "to": today})).json()
        stages = {g["stage"]: g for g in cohort["stages"]}
        assert list(stages) == ["awareness", "consideration", "purchase", "retention", "advocacy"]
        assert stages["purchase"]["reached"] >= 1 and stages["purchase"]["touchpoints"].get("order.paid", 0) >= 1


async def test_a_consumable_bought_on_a_rhythm_is_due_for_a_reminder(stack: Stack) -> None:
    """Marketing declares rice consumable; an integration's paid orders carry their lines; the next evaluation
    predicts the run-out from the customer's own rhythm and says a reminder is due."""
    run = uuid.uuid4().hex[:8]
    sku = f"rice-{run}"
    async with stack.client() as c:
        bad = await c.put(f"{stack.gateway}/v1/analytics/consumables/{sku}", json={"name": "Gạo", "days_per_unit": 0})
        assert bad.status_code == 422 and "days_per_unit" in bad.text
        r = await c.put(
            f"{stack.gateway}/v1/analytics/consumables/{sku}",
            json={"name": "Gạo ST25 túi 5 kg", "days_per_unit": 30, "remind_days_before": 5},
        )
        assert r.status_code == 200, r.text
        assert sku in [i["sku"] for i in (await c.get(f"{stack.gateway}/v1/analytics/consumables")).json()["items"]]
        cid = (await c.post(f"{stack.gateway}/v1/contacts", json={"full_name": f"Lê Thị Gạo {run}"})).json()["id"]
        events = []
        for n, ago in enumerate((26, 13)):  # a bag every 13 days: the last runs out today
            at = (datetime.now(UTC) - timedelta(days=ago)).isoformat()
            data = {"contact_id": cid, "occurred_at": at, "order_id": f"{run}-{n}", "total": {"amount": 185_000}}
            data["lines"] = [{"sku": sku, "quantity": 1, "unit_price": 185_000}]
            events.append({"idempotency_key": f"{run}-{n}", "type": "order.paid", "subject": cid, "data": data})
        assert (await c.post(f"{stack.gateway}/v1/events", json={"events": events})).status_code == 202

        async def counted() -> Any:
            view = (await c.get(f"{stack.gateway}/v1/analytics/customers/{cid}")).json()
            return view if view.get("purchases") == 2 else None

        await eventually(counted, timeout_s=20, interval_s=0.2)  # both orders are facts; now evaluate
        assert (await c.post(f"{stack.gateway}/v1/analytics/evaluations")).status_code == 200
        (reorder,) = (await c.get(f"{stack.gateway}/v1/analytics/customers/{cid}")).json()["replenishment"]
        assert (reorder["sku"], reorder["basis"], reorder["days_per_unit"], reorder["due"]) == (
            sku,
            "own_rhythm",
            13.0,
            True,
        )
