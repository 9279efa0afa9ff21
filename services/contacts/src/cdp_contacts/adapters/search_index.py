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
        if sets:
            sets.sort(key=len)
            first, rest = sets[0], sets[1:]
            ids: Iterable[str] = (i for i in first if all(i in s for s in rest))
        else:
            ids = self.entries.keys()
        attr = SORT_ATTR[sort]
        candidates = (self.entries[i] for i in ids)
        if custom:
            candidates = (e for e in candidates if all(custom_matches(e.custom.get(k), vs) for k, vs in custom))

        def key(e: Entry) -> tuple[Any, str]:
            return (getattr(e, attr), e.id)

        if after is not None:
            mark = after
            candidates = (e for e in candidates if (key(e) < mark if descending else key(e) > mark))
        pick = heapq.nlargest if descending else heapq.nsmallest
        page = pick(limit + 1, candidates, key=key)
        more = len(page) > limit
        page = page[:limit]
        return [e.id for e in page], (key(page[-1]) if more and page else None)
