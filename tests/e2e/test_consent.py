"""Consent through real processes: the classic conflict from two systems arriving out of order ends opted out,
every statement is kept with its proof, the check answers with the reason, suppression overrides everything, and
contacts follow (a newsletter opt-in makes a subscriber; the 360° view shows the consent state)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Stack
from tests.support.kafka import eventually

pytestmark = pytest.mark.e2e


async def test_classic_conflict_check_suppression_and_contacts_follow(stack: Stack) -> None:
    async with stack.client() as c:
        pid = (await c.post(f"{stack.gateway}/v1/contacts", json={"full_name": "Hồ Ngọc Diệp"})).json()["id"]
        march_out = {
            "person_id": pid,
            "channel": "email",
            "purpose": "newsletter",
            "status": "withdrawn",
            "source": "contest-2026-03",
            "event_time": "2026-03-15T10:00:00+07:00",
            "proof": {"text_version": "contest-form-v2", "ip": "203.0.113.7"},
            "idempotency_key": "c-1",
        }
        jan_in = {
            "person_id": pid,
            "channel": "email",
            "purpose": "newsletter",
            "status": "granted",
            "source": "ecommerce",
            "event_time": "2026-01-20T09:00:00+07:00",
            "proof": {"text_version": "checkout-v7"},
            "idempotency_key": "o-1",
        }
        # the March opt-out arrives first, the January opt-in later
        for body in (march_out, jan_in, jan_in):
            r = await c.post(f"{stack.gateway}/v1/consent/statements", json=body)
            assert r.status_code == 201, r.text
        check = (
            await c.get(
                f"{stack.gateway}/v1/consent/check",
                params={"person_id": pid, "channel": "email", "purpose": "newsletter"},
            )
        ).json()
        assert (check["allowed"], check["status"]) == (False, "withdrawn")
        subject = (await c.get(f"{stack.gateway}/v1/consent/subjects/{pid}")).json()
        assert len(subject["statements"]) == 2  # the repeated January statement was recorded once
        assert subject["statements"][0]["proof"]["text_version"] == "contest-form-v2"
        assert check["decided_by"] == subject["statements"][0]["id"]

        # a later opt-in wins, and contacts make the person a subscriber
        later = {**jan_in, "event_time": "2026-05-01T09:00:00+07:00", "idempotency_key": "o-2"}
        await c.post(f"{stack.gateway}/v1/consent/statements", json=later)

        async def subscribed() -> Any:
            r = (await c.get(f"{stack.gateway}/v1/contacts/{pid}/360")).json()
            ok = (
                r["profile"]["lifecycle_stage"] == "subscriber"
                and r["consent"].get("email:newsletter", {}).get("status") == "granted"
            )
            return r if ok else None

        await eventually(subscribed, timeout_s=30)

        await c.put(f"{stack.gateway}/v1/consent/suppressions/{pid}", json={"reason": "asked not to be contacted"})
        batch = (
            await c.post(
                f"{stack.gateway}/v1/consent/check-batch",
                json={"channel": "email", "purpose": "newsletter", "person_ids": [pid, "nobody-known"]},
            )
        ).json()
        assert batch["allowed"] == 0
        assert [r["status"] for r in batch["results"]] == ["suppressed", "none"]


async def test_double_opt_in_counts_only_after_confirmation(stack: Stack) -> None:
    async with stack.client() as c:
        pid = (
            await c.post(
                f"{stack.gateway}/v1/contacts",
                json={"full_name": "Mai Anh Thư", "emails": [{"address": "thu.mai@example.vn"}]},
            )
        ).json()["id"]

        async def registered() -> Any:
            return (await c.get(f"{stack.gateway}/v1/consent/subjects/{pid}")).status_code == 200

        await eventually(registered)
        r = (
            await c.post(
                f"{stack.gateway}/v1/consent/statements",
                json={
                    "person_id": pid,
                    "channel": "email",
                    "purpose": "newsletter",
                    "status": "granted",
                    "source": "ecommerce",
                    "event_time": "2026-06-01T10:00:00+07:00",
                    "double_opt_in": True,
                },
            )
        ).json()
        token = r["confirmation_token"]
        check = {"person_id": pid, "channel": "email", "purpose": "newsletter"}
        assert (await c.get(f"{stack.gateway}/v1/consent/check", params=check)).json()["allowed"] is False
        assert (
            await c.get(f"{stack.gateway}/v1/consent/best-channel", params={"person_id": pid, "purpose": "newsletter"})
        ).json()["channel"] is None
    async with httpx.AsyncClient(timeout=10) as anonymous:  # the person clicks the link: no sign-in
        assert (await anonymous.post(f"{stack.gateway}/v1/consent/confirmations/{token}")).status_code == 200
        assert (await anonymous.post(f"{stack.gateway}/v1/consent/confirmations/{token}")).status_code == 404
    async with stack.client() as c:
        assert (await c.get(f"{stack.gateway}/v1/consent/check", params=check)).json()["allowed"] is True
        best = (
            await c.get(f"{stack.gateway}/v1/consent/best-channel", params={"person_id": pid, "purpose": "newsletter"})
        ).json()
        assert best["channel"] == "email"
