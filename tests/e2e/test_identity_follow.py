"""Through real processes: a contact staff create twice becomes one person (identity matches it, contacts follow
the merge: the second id answers with the survivor), and undoing the merge gives the second contact back."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.e2e.conftest import Stack
from tests.support.kafka import eventually

pytestmark = pytest.mark.e2e


async def test_duplicate_is_merged_and_the_merge_can_be_undone(stack: Stack) -> None:
    email = f"quynh.{uuid.uuid4().hex[:8]}@example.vn"
    async with stack.client() as c:
        first = (
            await c.post(
                f"{stack.gateway}/v1/contacts",
                json={"full_name": "Đỗ Thị Quỳnh", "emails": [{"address": email}], "birth_date": "1992-04-01"},
            )
        ).json()
        second = (
            await c.post(
                f"{stack.gateway}/v1/contacts",
                json={
                    "full_name": "Quynh Do Thi",
                    "emails": [{"address": email}],
                    "birth_date": "1992-04-01",
                    "source": "ecommerce",
                },
            )
        ).json()
        assert second["likely_duplicates"][0]["id"] == first["id"]

        async def merged() -> Any:
            r = (await c.get(f"{stack.gateway}/v1/contacts/{second['id']}")).json()
            return r if r["id"] == first["id"] and second["id"] in r["merged_from"] else None

        survivor = await eventually(merged, timeout_s=30)
        assert survivor["full_name"] == "Đỗ Thị Quỳnh"  # the staff entry outranks the e-commerce one
        person = (await c.get(f"{stack.gateway}/v1/persons/{first['id']}")).json()
        (merge,) = [m for m in person["merges"] if m["merged_id"] == second["id"]]
        assert any(e["field"] == "email" for e in merge["evidence"])

        undone = await c.post(f"{stack.gateway}/v1/merges/{merge['merge_id']}/undo")
        assert undone.status_code == 200, undone.text

        async def restored() -> Any:
            r = (await c.get(f"{stack.gateway}/v1/contacts/{second['id']}")).json()
            return r if r["id"] == second["id"] else None

        back = await eventually(restored, timeout_s=30)
        assert back["full_name"] == "Quynh Do Thi"
        assert (await c.get(f"{stack.gateway}/v1/contacts/{first['id']}")).json()["merged_from"] == []
