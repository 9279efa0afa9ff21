"""Consent follows identity: when two records of one person merge, their ledgers are resolved together (the
January opt-in of one and the March opt-out of the other: opted out, decided by the March statement, asked by
either id); when the merge is undone, each person has exactly their own statements again. Every step is in the
append-only audit with who and why."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Stack
from tests.support.kafka import eventually

pytestmark = pytest.mark.e2e


def statement(pid: str, status: str, source: str, when: str) -> dict[str, Any]:
    return {
        "person_id": pid,
        "channel": "email",
        "purpose": "newsletter",
        "status": status,
        "source": source,
        "event_time": when,
        "proof": {"text_version": f"{source}-form"},
    }


async def check(c: httpx.AsyncClient, stack: Stack, pid: str) -> dict[str, Any]:
    r = await c.get(
        f"{stack.gateway}/v1/consent/check", params={"person_id": pid, "channel": "email", "purpose": "newsletter"}
    )
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_merge_combines_ledgers_and_undo_separates_them(stack: Stack) -> None:
    email = f"lan.{uuid.uuid4().hex[:8]}@example.vn"
    async with stack.client() as c:
        first = (
            await c.post(
                f"{stack.gateway}/v1/contacts",
                json={"full_name": "Phạm Ngọc Lan", "emails": [{"address": email}], "birth_date": "1990-07-12"},
            )
        ).json()["id"]
        jan = await c.post(
            f"{stack.gateway}/v1/consent/statements",
            json=statement(first, "granted", "shop-till", "2026-01-10T10:00:00+07:00"),
        )
        assert jan.status_code == 201, jan.text
        assert (await check(c, stack, first))["allowed"] is True  # before the merge: only her own January grant
        second = (
            await c.post(
                f"{stack.gateway}/v1/contacts",
                json={
                    "full_name": "Lan Pham Ngoc",
                    "emails": [{"address": email}],
                    "birth_date": "1990-07-12",
                    "source": "contest",
                },
            )
        ).json()["id"]
        march = await c.post(
            f"{stack.gateway}/v1/consent/statements",
            json=statement(second, "withdrawn", "contest", "2026-03-05T10:00:00+07:00"),
        )
        march_id = march.json()["statement_id"]

        async def combined() -> Any:
            answer = await check(c, stack, first)
            return answer if answer["decided_by"] == march_id else None

        answer = await eventually(combined, timeout_s=40)
        assert (answer["allowed"], answer["status"]) == (False, "withdrawn")
        assert (await check(c, stack, second))["decided_by"] == march_id  # asked by the merged id: same answer
        subject = (await c.get(f"{stack.gateway}/v1/consent/subjects/{second}")).json()
        assert subject["person_id"] == first and subject["absorbed"] == [second]
        assert {s["recorded_for"] for s in subject["statements"]} == {first, second}

        person = (await c.get(f"{stack.gateway}/v1/persons/{first}")).json()
        (merge,) = [m for m in person["merges"] if m["merged_id"] == second]
        undone = await c.post(f"{stack.gateway}/v1/merges/{merge['merge_id']}/undo")
        assert undone.status_code == 200, undone.text

        async def separated() -> Any:
            a, b = await check(c, stack, first), await check(c, stack, second)
            return (a, b) if a["allowed"] and b["status"] == "withdrawn" else None

        a, b = await eventually(separated, timeout_s=40)
        assert a["decided_by"] == jan.json()["statement_id"] and b["decided_by"] == march_id
        own = (await c.get(f"{stack.gateway}/v1/consent/subjects/{first}")).json()
        assert [s["id"] for s in own["statements"]] == [jan.json()["statement_id"]]

        async def audited() -> Any:  # the audit entry is written once the separation is resolved
            entries = (await c.get(f"{stack.gateway}/v1/consent/subjects/{first}/audit")).json()["entries"]
            actions = {e["action"] for e in entries}
            return entries if {"statement_recorded", "ledgers_merged", "ledgers_separated"} <= actions else None

        audit = await eventually(audited, timeout_s=20)
        assert all(e["actor"] and e["at"] for e in audit)
