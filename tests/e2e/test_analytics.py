"""KPIs from events an integration publishes through the gateway: the analytics service counts each event once
(the batch is sent twice) and answers with formulas and inputs; analysts may read aggregates."""

from __future__ import annotations

import uuid
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
            return body if body["kpis"]["nps"]["inputs"]["answers"] >= 4 else None

        body = await eventually(counted, timeout_s=30)
        assert body["kpis"]["nps"]["inputs"]["answers"] == 4  # sent twice, counted once
        assert body["kpis"]["nps"]["value"] == 25.0
        assert body["kpis"]["cost_per_lead"]["inputs"]["marketing_cost"] == 1_000_000
        assert body["previous"]["nps"]["value"] is None
        assert (await c.get(f"{stack.gateway}/v1/contacts")).status_code == 403
