"""Event-loop stalls are measured, and the watchdog names where the loop was, without any value."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from cdp_common.stalls import LOOP_LAG_SECONDS, StallWatch


def _blocking_step_holding(secret: str) -> None:
    time.sleep(0.25)  # a synchronous step: every other task of the loop waits


def _lag_count() -> float:
    return next(s.value for m in LOOP_LAG_SECONDS.collect() for s in m.samples if s.name.endswith("_count"))


def _over_100ms() -> float:
    return next(
        s.value
        for m in LOOP_LAG_SECONDS.collect()
        for s in m.samples
        if s.name.endswith("_bucket") and s.labels["le"] == "0.1"
    )


@pytest.mark.asyncio
async def test_a_stall_is_measured_and_reported_with_its_stack(caplog: pytest.LogCaptureFixture) -> None:
    watch = StallWatch(report_ms=100)
    caplog.set_level(logging.WARNING, logger="cdp.stalls")
    before_count, before_fast = _lag_count(), _over_100ms()
    await watch.start()
    try:
        await asyncio.sleep(0.12)  # two quiet heartbeats
        _blocking_step_holding("nguyen.van.an@example.vn")
        await asyncio.sleep(0.12)
    finally:
        await watch.stop()
    assert watch.reports == 1
    [record] = [r for r in caplog.records if r.getMessage() == "event loop stalled"]
    stack = record.stack  # type: ignore[attr-defined]
    assert any("_blocking_step_holding" in line for line in stack)
    assert record.ms_so_far >= 100  # type: ignore[attr-defined]
    assert "nguyen.van.an" not in repr(record.__dict__)
    # the late heartbeat lands above 100 ms; the quiet ones below
    assert _lag_count() - before_count >= 3
    assert _lag_count() - before_count > _over_100ms() - before_fast


@pytest.mark.asyncio
async def test_without_a_threshold_nothing_is_reported() -> None:
    watch = StallWatch(report_ms=0)
    await watch.start()
    try:
        await asyncio.sleep(0.06)
        _blocking_step_holding("")
        await asyncio.sleep(0.06)
    finally:
        await watch.stop()
    assert watch.reports == 0
