"""Contact search answered from memory, so it stays fast on a store that indexes only `_id` (docs/store-contract.md).

Each replica keeps, per active contact, only what search filters and sorts on (name tokens, stage, lead status,
tags, owner, custom field values, the sort keys), with posting sets per token and per filter value. It is filled
by one scan of the contacts at start (in the background; until it is done, search goes to the store) and kept
current by following the keys of `cdp.contacts.events.v1`: every contact an event names, whichever replica wrote
it, is read again by `_id`. The replica's own writes go in at once. The search itself returns ids; the caller reads
those contacts by `_id` and checks them again, so a moment's lag can drop a stale hit but never show a wrong one.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sortedcontainers import SortedList

PROJECTION = {
    "status": 1,
    "name_tokens": 1,
    "lifecycle_stage": 1,
    "lead_status": 1,
    "tags": 1,
    "owner": 1,
    "custom_fields": 1,
    "updated_at": 1,
    "created_at": 1,
    "search_name": 1,
}
WALK_ABOVE = 2000  # more candidates than this: walk the sort order until a page is full, instead of a heap over all
SORT_ATTR = {"updated_at": "updated_at", "created_at": "created_at", "full_name": "search_name"}


@dataclass(slots=True, frozen=True)
class Entry:
    id: str
    tokens: tuple[str, ...]
    stage: str | None
    lead: str | None
    tags: tuple[str, ...]
    owner: str | None
    custom: dict[str, Any]
    updated_at: datetime
    created_at: datetime
    search_name: str

    @classmethod
    def of(cls, d: dict[str, Any]) -> Entry:
        return cls(
            id=str(d["_id"]),
            tokens=tuple(d.get("name_tokens") or ()),
            stage=d.get("lifecycle_stage"),
            lead=d.get("lead_status"),
            tags=tuple(d.get("tags") or ()),
            owner=d.get("owner"),
            custom=dict(d.get("custom_fields") or {}),
            updated_at=d["updated_at"],
            created_at=d["created_at"],
            search_name=d.get("search_name") or "",
        )

    def postings(self) -> Iterable[tuple[str, str]]:
        for t in self.tokens:
            yield ("t", t)
        for t in self.tags:
            yield ("tag", t)
        for kind, value in (("stage", self.stage), ("lead", self.lead), ("owner", self.owner)):
            if value is not None:
                yield (kind, value)


def custom_matches(value: Any, accepted: tuple[Any, ...]) -> bool:
    """As the store matches `custom_fields.<k>: {"$in": accepted}`: the value, or any element of a list value."""
    return value in accepted or (isinstance(value, list) and any(x in accepted for x in value))


class SearchIndex:
    def __init__(self) -> None:
        self.entries: dict[str, Entry] = {}
        self.postings: dict[tuple[str, str], set[str]] = {}
        self._tokens: list[str] = []  # sorted distinct name tokens, for prefix lookups
        self._tokens_stale = False
        # sort -> id -> (sort value, id): page picking and cursors look keys up without touching the entries
        self._keys: dict[str, dict[str, tuple[Any, str]]] = {sort: {} for sort in SORT_ATTR}
        self._ordered: dict[str, SortedList] = {sort: SortedList() for sort in SORT_ATTR}
        self.ready = False  # the start-up scan is done

    def __len__(self) -> int:
        return len(self.entries)

    def put(self, doc: dict[str, Any] | None, contact_id: str) -> None:
        """Index `doc` (a contact document, or None when it is gone) under `contact_id`; only active contacts are
        searchable."""
        self.drop(contact_id)
        if doc is None or doc.get("status", "active") != "active" or doc.get("updated_at") is None:
            return
        entry = Entry.of(doc)
        self.entries[entry.id] = entry
        for sort, attr in SORT_ATTR.items():
            k = (getattr(entry, attr), entry.id)
            self._keys[sort][entry.id] = k
            self._ordered[sort].add(k)
        for key in entry.postings():
            ids = self.postings.get(key)
            if ids is None:
                self.postings[key] = ids = set()
                self._tokens_stale = self._tokens_stale or key[0] == "t"
            ids.add(entry.id)

    def drop(self, contact_id: str) -> None:
        old = self.entries.pop(contact_id, None)
        if old is None:
            return
        for sort, keys in self._keys.items():
            self._ordered[sort].remove(keys.pop(contact_id))
        for key in old.postings():
            ids = self.postings.get(key)
            if ids is not None:
                ids.discard(contact_id)
                if not ids:
                    del self.postings[key]
                    self._tokens_stale = self._tokens_stale or key[0] == "t"

    def _prefixed(self, prefix: str) -> set[str]:
        if self._tokens_stale:
            self._tokens = sorted(k[1] for k in self.postings if k[0] == "t")
            self._tokens_stale = False
        out: set[str] = set()
        i = bisect.bisect_left(self._tokens, prefix)
        while i < len(self._tokens) and self._tokens[i].startswith(prefix):
            out |= self.postings.get(("t", self._tokens[i]), set())
            i += 1
        return out

    def query(
        self,
        *,
        tokens: list[str],
        filters: dict[str, str],
        custom: tuple[tuple[str, Any], ...],
        sort: str,
        descending: bool,
        limit: int,
        after: tuple[Any, str] | None,
    ) -> tuple[list[str], tuple[Any, str] | None]:
        """Ids of one page, best first, and the (sort value, id) to continue after when there is more.
        `tokens`: folded name words, every one but the last whole, the last a prefix. `filters`: kind -> value for
        stage, lead, tag, owner. `custom`: (field, accepted values) pairs."""
        sets: list[set[str]] = []
        if tokens:
            sets += [self.postings.get(("t", t), set()) for t in tokens[:-1]]
            sets.append(self._prefixed(tokens[-1]))
        sets += [self.postings.get((kind, value), set()) for kind, value in filters.items()]
        ids: set[str] | Iterable[str]
        if sets:
            sets.sort(key=len)
            ids = sets[0].intersection(*sets[1:]) if len(sets) > 1 else sets[0]
        else:
            ids = self.entries.keys()
        if custom:
            entries = self.entries
            ids = {i for i in ids if all(custom_matches(entries[i].custom.get(k), vs) for k, vs in custom)}
        key = self._keys[sort].__getitem__
        page: list[Any]
        if len(ids) > WALK_ABOVE:  # dense: the page is near the start of the order
            ordered = self._ordered[sort]
            if descending:
                walk = ordered.islice(0, ordered.bisect_left(after) if after else len(ordered), reverse=True)
            else:
                walk = ordered.islice(ordered.bisect_right(after) if after else 0)
            page = []
            for k in walk:
                if k[1] in ids:
                    page.append(k[1])
                    if len(page) > limit:
                        break
        else:
            if after is not None:
                mark = after
                ids = [i for i in ids if key(i) < mark] if descending else [i for i in ids if key(i) > mark]
            pick = heapq.nlargest if descending else heapq.nsmallest
            page = pick(limit + 1, ids, key=key)
        more = len(page) > limit
        page = page[:limit]
        return page, (key(page[-1]) if more and page else None)
