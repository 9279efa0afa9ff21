"""The replica's memory for checks: forgets by any member of a view, never stores what was read before a forget,
expires, and keeps to its size."""

from __future__ import annotations

import time

from cdp_consent.adapters.check_cache import CheckCache, CheckView


def view(*members: str, loaded_at: float | None = None) -> CheckView:
    return CheckView(
        standing=members[0] if members else None,
        statements=[],
        suppressed=None,
        members=frozenset(members),
        loaded_at=time.monotonic() if loaded_at is None else loaded_at,
    )


class TestCheckCache:
    def test_a_view_is_forgotten_when_any_person_behind_it_changes(self) -> None:
        cache = CheckCache(ttl_seconds=60)
        # "m" was merged into "s": asking for "m" reads the ledger of "s" and its absorbed persons
        cache.put("m", view("s", "m", "x"), cache.epoch)
        cache.put("s", view("s", "m", "x"), cache.epoch)
        cache.put("other", view("other"), cache.epoch)
        cache.forget(["x"])
        assert cache.get("m") is None and cache.get("s") is None
        assert cache.get("other") is not None

    def test_a_view_read_before_a_forget_is_not_stored_after_it(self) -> None:
        cache = CheckCache(ttl_seconds=60)
        epoch = cache.epoch  # the read starts
        cache.forget(["p"])  # another replica's change arrives while it runs
        cache.put("p", view("p"), epoch)
        assert cache.get("p") is None
        cache.put("p", view("p"), cache.epoch)
        assert cache.get("p") is not None

    def test_views_expire(self) -> None:
        cache = CheckCache(ttl_seconds=5)
        cache.put("p", view("p", loaded_at=time.monotonic() - 6), cache.epoch)
        assert cache.get("p") is None and len(cache) == 0

    def test_the_oldest_views_go_first_when_full(self) -> None:
        cache = CheckCache(ttl_seconds=60, max_entries=3)
        for pid in "abcd":
            cache.put(pid, view(pid), cache.epoch)
        assert len(cache) == 3 and cache.get("a") is None and cache.get("d") is not None
        cache.forget(["a"])  # the evicted view left no stale reverse entry behind
        assert len(cache) == 3

    def test_disabled_remembers_nothing(self) -> None:
        cache = CheckCache(ttl_seconds=0)
        cache.put("p", view("p"), cache.epoch)
        assert not cache.enabled and len(cache) == 0

    def test_a_forget_of_another_person_does_not_refuse_a_view(self) -> None:
        cache = CheckCache(ttl_seconds=60)
        epoch = cache.epoch
        cache.forget(["q"])  # a busy replica forgets other persons all the time while it reads
        assert cache.put("p", view("p"), epoch)

    def test_nothing_is_used_while_the_follower_is_not_current(self) -> None:
        cache = CheckCache(ttl_seconds=60)
        cache.put("p", view("p"), cache.epoch)
        behind = True
        cache.current = lambda: not behind
        epoch = cache.epoch
        assert not cache.usable() and len(cache) == 0  # dropped: it may have missed changes
        behind = False
        assert cache.usable()
        assert not cache.put("p", view("p"), epoch)  # read before the drop
        assert cache.put("p", view("p"), cache.epoch)

    def test_forgotten_persons_are_listed_for_reading_again_with_every_view_they_were_behind(self) -> None:
        cache = CheckCache(ttl_seconds=60)
        cache.refresh_ahead = True
        cache.put("m", view("s", "m"), cache.epoch)  # "m" stands for "s" after a merge
        cache.put("other", view("other"), cache.epoch)
        cache.forget(["s"])
        cache.forget(["new", "s"])  # a repeat moves to the back, no duplicate
        assert cache.take_stale(2) == ["m", "new"]
        assert cache.take_stale(10) == ["s"]
        assert cache.take_stale(10) == []
        # read again after the forget: stored and answered from memory
        cache.put("m", view("s", "m"), cache.epoch)
        assert cache.get("m") is not None

    def test_nothing_is_listed_without_a_reader_and_the_list_keeps_to_the_size(self) -> None:
        idle = CheckCache(ttl_seconds=60)
        idle.forget(["a", "b"])
        assert idle.take_stale(10) == []
        small = CheckCache(ttl_seconds=60, max_entries=2)
        small.refresh_ahead = True
        small.forget(["a", "b", "c"])
        assert small.take_stale(10) == ["b", "c"]
