"""Faults in the middle of a stream (the short version of `make chaos`): an integration keeps publishing while the
contacts and analytics services are killed with SIGKILL; once they are back, every event is on the timeline and a
KPI input exactly once, none lost, none twice."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from tests.e2e.conftest import Stack
from tests.support.infra import Infra
from tests.support.kafka import eventually

pytestmark = pytest.mark.e2e


def kill(stack: Stack, service: str) -> None:
    """SIGKILL, and wait until the process is gone (or a zombie: dead, not yet reaped)."""
    for pidfile in (Path(stack.env["CDP_LOCAL_DIR"]) / "run").glob(f"{service}-*.pid"):
        pid = int(pidfile.read_text().strip())
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":
                    break
            except (FileNotFoundError, ProcessLookupError):
                break
            time.sleep(0.05)


async def test_consumers_killed_mid_stream_lose_nothing_and_apply_nothing_twice(stack: Stack, infra: Infra) -> None:
    run = uuid.uuid4().hex[:8]
    async with stack.client() as c:
        key = (
            await c.post(f"{stack.gateway}/v1/api-keys", json={"name": f"faults-{run}", "scopes": ["web.*"]})
        ).json()["api_key"]
        cid = (await c.post(f"{stack.gateway}/v1/contacts", json={"full_name": f"Trịnh Thị Lỗi {run}"})).json()["id"]
        ids: list[str] = []
        now = datetime.now(UTC).isoformat()
        for batch in range(4):
            events = [
                {
                    "idempotency_key": f"{run}-{batch}-{n}",
                    "type": "web.visited",
                    "subject": cid,
                    "data": {"contact_id": cid, "occurred_at": now, "session_id": f"{run}-{batch}-{n}"},
                }
                for n in range(100)
            ]
            r = await c.post(
                f"{stack.gateway}/v1/events", json={"events": events}, headers={"authorization": f"Bearer {key}"}
            )
            assert r.status_code == 202 and not r.json()["rejected"], r.text
            ids += [a["id"] for a in r.json()["accepted"]]
            if batch == 0:  # the consumers die while they work through the first batch
                kill(stack, "contacts")
                kill(stack, "analytics")
        started = stack.services("start", "contacts", "analytics")
        assert started.returncode == 0, started.stderr

    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongodb_uri)
    try:
        wanted = set(ids)

        async def all_applied() -> Any:
            timeline = Counter(
                [
                    d["event_id"]
                    async for d in client["cdp_contacts"]["timeline"].find({"contact_id": cid}, {"event_id": 1})
                ]
            )
            facts = Counter(
                [
                    f["id"]
                    async for d in client["cdp_analytics"]["activity_months"].find({"subject": cid}, {"facts.id": 1})
                    for f in d["facts"]
                    if f["id"] in wanted  # not the contact's own creation
                ]
            )
            return (timeline, facts) if len(timeline) == len(ids) and len(facts) == len(ids) else None

        timeline, facts = await eventually(all_applied, timeout_s=90, interval_s=1)
        assert set(timeline) == set(ids) and max(timeline.values()) == 1
        assert set(facts) == set(ids) and max(facts.values()) == 1
    finally:
        await client.close()
