"""Event-loop stalls: while one step of one task runs, every other request of the process waits.

- `cdp_loop_lag_seconds` (always on): how late a heartbeat that asks to wake every 50 ms wakes. A late heartbeat
  means the loop was busy (a long synchronous step, a garbage collection, the CPU taken by another process).
- With `CRM_STALL_REPORT_MS` set (off by default), a watchdog thread looks at the loop every few milliseconds and,
  when the heartbeat is that late, logs where the loop's thread is at that moment: the stack as file, line and
  function, never a value (no personal data reaches the log). Works with uvloop, which has no Python-level handles
  to time.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
import traceback

from prometheus_client import Histogram

log = logging.getLogger("cdp.stalls")

HEARTBEAT_S = 0.05

LOOP_LAG_SECONDS = Histogram(
    "cdp_loop_lag_seconds",
    "How late the event loop woke a heartbeat that sleeps 50 ms (every request waits as long).",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)


def where(frame: object, depth: int = 12) -> list[str]:
    """The innermost `depth` frames of a stack as `file:line function`, innermost last; no local values."""
    summary = traceback.extract_stack(frame, limit=None)[-depth:]  # type: ignore[arg-type]
    return [f"{f.filename.rsplit('/site-packages/', 1)[-1]}:{f.lineno} {f.name}" for f in summary]


class StallWatch:
    """The heartbeat task and, when `report_ms` > 0, the watchdog thread that reports where a stall is."""

    def __init__(self, report_ms: float = 0.0) -> None:
        self.report_s = report_ms / 1000.0
        self.beat = time.monotonic()
        self.reports = 0
        self._loop_thread = 0
        self._stop = threading.Event()
        self._task: asyncio.Task[None] | None = None
        self._thread: threading.Thread | None = None

    async def start(self) -> None:
        self._loop_thread = threading.get_ident()
        self.beat = time.monotonic()
        self._task = asyncio.create_task(self._heartbeat(), name="loop-heartbeat")
        if self.report_s > 0:
            self._thread = threading.Thread(target=self._watch, name="stall-watch", daemon=True)
            self._thread.start()

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._thread is not None:
            self._thread.join(timeout=1.0)

    async def _heartbeat(self) -> None:
        while True:
            asked = time.monotonic()
            await asyncio.sleep(HEARTBEAT_S)
            self.beat = now = time.monotonic()
            LOOP_LAG_SECONDS.observe(max(0.0, now - asked - HEARTBEAT_S))

    def _watch(self) -> None:
        """Every few ms: if the heartbeat is overdue by the threshold, log the loop thread's stack once per stall."""
        step = max(0.002, self.report_s / 5)
        reported_beat = -1.0
        while not self._stop.wait(step):
            beat = self.beat
            late = time.monotonic() - beat - HEARTBEAT_S
            if late < self.report_s or beat == reported_beat:
                continue
            frame = sys._current_frames().get(self._loop_thread)
            if frame is None:
                continue
            reported_beat = beat
            self.reports += 1
            log.warning("event loop stalled", extra={"ms_so_far": round(late * 1e3, 1), "stack": where(frame)})
