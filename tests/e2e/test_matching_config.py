"""Matching configuration through the gateway: an admin sees what the review queue's answers teach, what proposed
thresholds or weights would move (nothing changes), then adopts weights as a new version; bad input names its
field; other roles may not."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e


async def test_learn_preview_and_adopt_weights(stack: Stack) -> None:
    async with stack.client() as c:
        base = f"{stack.gateway}/v1/matching-config"
        before = (await c.get(base)).json()
        learned = await c.get(f"{base}/learned")
        assert learned.status_code == 200, learned.text
        body = learned.json()
        assert set(body["labels"]) == {"matches", "non_matches", "reviews"} and "email" in body["fields"]
        assert "would_move" in body["impact"]

        proposal = {
            "version": before["version"],
            "link_threshold": before["link_threshold"] + 5,
            "review_threshold": before["review_threshold"],
            "u": {"phone": 0.001},
        }
        preview = await c.post(f"{base}/impact", json=proposal)
        assert preview.status_code == 200, preview.text
        assert preview.json()["proposed"]["weights_changed"] is True
        assert (await c.get(base)).json()["version"] == before["version"]  # a preview changes nothing

        unknown = await c.put(base, json={**proposal, "m": {"nope": 0.5}})
        assert unknown.status_code == 422 and "m.nope" in unknown.text
        out_of_range = await c.put(base, json={**proposal, "m": {"email": 1.5}})
        assert out_of_range.status_code == 422 and "email" in out_of_range.text

        adopted = await c.put(base, json={**proposal, "link_threshold": before["link_threshold"], "m": {"email": 0.95}})
        assert adopted.status_code == 200, adopted.text
        now = (await c.get(base)).json()
        assert now["version"] == before["version"] + 1 and now["m"]["email"] == 0.95 and now["u"]["phone"] == 0.001
        restored = {
            "version": now["version"],
            "link_threshold": before["link_threshold"],
            "review_threshold": before["review_threshold"],
            "m": before["m"],
            "u": before["u"],
        }
        assert (await c.put(base, json=restored)).status_code == 200

        await c.post(
            f"{stack.gateway}/v1/users",
            json={"username": "mc-sales", "password": "a-long-enough-password-3", "role": "sales"},
        )
    async with stack.client(stack.token("mc-sales", "a-long-enough-password-3")) as sales:
        assert (await sales.get(f"{stack.gateway}/v1/matching-config/learned")).status_code == 403
        assert (await sales.post(f"{stack.gateway}/v1/matching-config/impact", json=proposal)).status_code == 403
