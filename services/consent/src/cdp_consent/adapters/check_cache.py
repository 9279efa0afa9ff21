"""What a replica remembers for the check API: each asked person's ledger (after merges) and suppression, as last
read from the store, so a check is answered from memory.

Staying right when the data changes:
- on this replica, every write through `ConsentSubjects` forgets the persons it touched before it returns, so a
  check after a write on the same replica sees it;
- every replica follows the consent topic (every record is keyed by the person it concerns; merges, separations,
  suppressions and erasures publish `consent.subject_changed`) and forgets those persons within milliseconds;
- a view read before a forget of any person behind it is never stored after it (the epoch check);
- while the follower is not current (no poll for seconds, or too far behind the topic) the memory is dropped and
  every check reads the store; and every entry expires after `ttl_seconds` whatever happens.

A replica can be warmed with every subject (`ConsentSubjects.warm`), so that even the first check of a person is
answered from memory; `max_entries` bounds what it holds (the oldest go first). What is forgotten is also noted as
`stale` (the changed persons and every asked id whose view they were behind), so that the replica reads them
again in the background (`ConsentSubjects.refresh_stale`) and the next check of a person who just changed, or
who just appeared, is still answered from memory.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import Counter

CACHE_LOOKUPS = Counter(
    "cdp_consent_check_cache_total", "Check lookups in the replica's memory, by outcome", ["outcome"]
)
HIT, MISS, EXPIRED = (CACHE_LOOKUPS.labels(o) for o in ("hit", "miss", "expired"))


@dataclass(frozen=True)
class CheckView:
    """What a check needs of one asked person."""

    standing: str | None  # the person standing for the asked id today (None: unknown to the ledger)
    statements: list[dict[str, Any]]
    suppressed: str | None  # the reason, when the asked person or the one standing for it is suppressed
    members: frozenset[str] = field(default_factory=frozenset)  # every id whose change makes this view stale
    loaded_at: float = 0.0


class CheckCache:
    FORGOTTEN_KEPT_SECONDS = 120.0  # a read slower than this could store a stale view; reads take milliseconds

    def __init__(self, ttl_seconds: float = 600.0, max_entries: int = 100_000) -> None:
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self.epoch = 0
        self.current: Callable[[], bool] = lambda: True  # is the follower of the consent topic current?
        self._views: dict[str, CheckView] = {}
        self._by_member: dict[str, set[str]] = {}
        self._forgotten: dict[str, tuple[int, float]] = {}  # person -> (epoch, monotonic time) of the last forget
        self._floor = 0
        self.stale: dict[str, None] = {}  # persons to read again, oldest first (a dict keeps the order, no repeats)
        self.refresh_ahead = False  # set by whoever reads `stale` again; nothing is noted otherwise

    @property
    def enabled(self) -> bool:
        return self.ttl > 0 and self.max_entries > 0

    def __len__(self) -> int:
        return len(self._views)

    def usable(self) -> bool:
        if not self.enabled:
            return False
        if not self.current():
            if self._views:
                CACHE_LOOKUPS.labels("follower_behind").inc()
                self.clear()
            return False
        return True

    def get(self, person_id: str) -> CheckView | None:
        view = self._views.get(person_id)
        if view is None:
            MISS.inc()
            return None
        if time.monotonic() - view.loaded_at > self.ttl:
            self._drop(person_id)
            EXPIRED.inc()
            return None
        HIT.inc()
        return view

    def put(self, person_id: str, view: CheckView, epoch: int) -> bool:
        """`epoch`: `self.epoch` read before the view was read from the store. A forget of any person behind the
        view since then means it may be stale: it is not stored. Returns whether it was."""
        if not self.enabled or epoch < self._floor:
            return False
        for m in view.members | {person_id}:
            forgotten = self._forgotten.get(m)
            if forgotten is not None and forgotten[0] > epoch:
                return False
        if person_id in self._views:
            self._drop(person_id)
        while len(self._views) >= self.max_entries:  # the oldest entry goes first (dicts keep insertion order)
            self._drop(next(iter(self._views)))
        self._views[person_id] = view
        for m in view.members | {person_id}:
            self._by_member.setdefault(m, set()).add(person_id)
        return True

    def forget(self, person_ids: Iterable[str]) -> None:
        self.epoch += 1
        now = time.monotonic()
        for pid in person_ids:
            self._forgotten[pid] = (self.epoch, now)
            for asked in list(self._by_member.get(pid, ())):
                self._drop(asked)
                self._note_stale(asked)
            self._note_stale(pid)
        if len(self._forgotten) > 10_000:
            old = now - self.FORGOTTEN_KEPT_SECONDS
            self._forgotten = {k: v for k, v in self._forgotten.items() if v[1] >= old}

    def _note_stale(self, person_id: str) -> None:
        if not self.refresh_ahead:
            return
        self.stale.pop(person_id, None)
        self.stale[person_id] = None
        if len(self.stale) > self.max_entries:  # the refresher is far behind: the oldest wait for their next check
            del self.stale[next(iter(self.stale))]

    def take_stale(self, limit: int) -> list[str]:
        """Up to `limit` persons forgotten since the last call, oldest first; they leave the stale list."""
        taken: list[str] = []
        for pid in self.stale:
            if len(taken) >= limit:
                break
            taken.append(pid)
        for pid in taken:
            del self.stale[pid]
        return taken

    def clear(self) -> None:
        self.epoch += 1
        self.stale.clear()  # a warm reads everything again
        self._views.clear()
        self._by_member.clear()
        self._forgotten.clear()
        self._floor = self.epoch  # what was read before a clear is not stored after it

    def _drop(self, person_id: str) -> None:
        view = self._views.pop(person_id, None)
        if view is None:
            return
        for m in view.members | {person_id}:
            askers = self._by_member.get(m)
            if askers is not None:
                askers.discard(person_id)
                if not askers:
                    del self._by_member[m]
