"""The timeline: one document per interaction, `_id` = "<contact id>|<inverted time>|<event id>". One contact's
entries are one `_id` range, newest first (no secondary index needed), and the same event always lands on the same
`_id`: it is applied exactly once however often it is delivered. `origin_contact_id` remembers whose it was, so
undoing a merge gives it back."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from cdp_common.store import Document, find_by_ids, insert_new
from pymongo import ReturnDocument, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

SEP = "|"


def inverted_millis(ms: int) -> str:
    """Ascending text order = newest first."""
    return f"{10**14 - ms:014d}"


def entry_id(contact_id: str, at: datetime, event_id: str) -> str:
    return f"{contact_id}{SEP}{inverted_millis(int(at.timestamp() * 1000))}{SEP}{event_id}"


def _entry(eid: str, event_id: str, contact_id: str, event_type: str, at: datetime, data: dict[str, Any]) -> Document:
    return {
        "_id": eid,
        "event_id": event_id,
        "contact_id": contact_id,
        "origin_contact_id": contact_id,
        "type": event_type,
        "at": at,
        "data": data,
    }


def _entries(
    contact_id: str, eids: list[str], items: list[tuple[str, str, datetime, dict[str, Any]]]
) -> list[Document]:
    """The entry documents of `items` (event id, type, time, data), each event once."""
    docs = {
        eid: _entry(eid, event_id, contact_id, event_type, at, data)
        for eid, (event_id, event_type, at, data) in zip(eids, items, strict=True)
    }
    return list(docs.values())


def _extended(listed: list[str], eids: list[str]) -> tuple[list[str], list[bool]]:
    """A contact's listing after `eids` joined it, and per entry whether it was not listed before."""
    out = list(listed)
    known = set(out)
    new = []
    for eid in eids:
        new.append(eid not in known)
        if eid not in known:
            known.add(eid)
            out.append(eid)
    return out, new


class Timeline:
    """Entries, plus one index document per contact listing its entry ids: reading a contact's timeline is two
    `_id` lookups, which every MongoDB-compatible store answers from its primary index (an `_id` range is a
    full scan on the local one, docs/store-contract.md)."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.entries = db["timeline"]
        self.index = db["timeline_index"]

    async def ensure_indexes(self) -> None:
        """Nothing to declare: entries are read by `_id` range."""

    async def add(
        self, contact_id: str, entries: list[tuple[str, str, datetime, dict[str, Any]]]
    ) -> tuple[list[str], list[bool]]:
        """Entries (event id, type, time, data) of one contact, in two writes, listed first: an entry written but not
        listed would be invisible, one listed but not written is skipped. Answers with the contact's
        entry ids as listed after it (for `entries_of`) and, per entry, whether it was not listed before."""
        eids = [entry_id(contact_id, at, event_id) for event_id, _, at, _ in entries]
        before = await self.index.find_one_and_update(
            {"_id": contact_id},
            {"$addToSet": {"ids": {"$each": eids}}},
            upsert=True,
            return_document=ReturnDocument.BEFORE,
        )
        await insert_new(self.entries, _entries(contact_id, eids, entries))
        return _extended((before or {}).get("ids", []), eids)

    async def add_for_many(
        self, entries: dict[str, list[tuple[str, str, datetime, dict[str, Any]]]], listings: Iterable[str] = ()
    ) -> dict[str, tuple[list[str], list[bool]]]:
        """`add` for many contacts in three round trips whatever their number, four when the `listings` of some are
        wanted back (only those are read, then extended: unlike `add`, an entry moved onto a contact by a merge in
        between may be missing from the ids answered)."""
        eids = {cid: [entry_id(cid, at, event_id) for event_id, _, at, _ in items] for cid, items in entries.items()}
        wanted = [cid for cid in listings if cid in entries]
        before = {d["_id"]: d.get("ids") or [] async for d in find_by_ids(self.index, wanted)}
        await self.index.bulk_write(
            [UpdateOne({"_id": cid}, {"$addToSet": {"ids": {"$each": ids}}}, upsert=True) for cid, ids in eids.items()],
            ordered=False,
        )
        await insert_new(self.entries, [d for cid, items in entries.items() for d in _entries(cid, eids[cid], items)])
        return {cid: _extended(before.get(cid, []), eids[cid]) for cid in wanted}

    async def entries_of_many(
        self, listed: dict[str, list[str]], types: list[str] | None = None
    ) -> dict[str, list[Document]]:
        """The entries of `listed` ids (as each contact's index lists them) still on each one's timeline, newest
        first, in one read (a few hundred ids a query)."""
        out: dict[str, list[Document]] = {cid: [] for cid in listed}
        async for d in find_by_ids(self.entries, [eid for ids in listed.values() for eid in ids]):
            if d["contact_id"] in out and (types is None or d["type"] in types):
                out[d["contact_id"]].append(d)
        for entries in out.values():
            entries.sort(key=lambda d: d["_id"])
        return out

    async def page(
        self, contact_id: str, limit: int, after: str | None = None, types: list[str] | None = None
    ) -> list[Document]:
        """Newest first; `after` is the `_id` of the last entry of the previous page. Reads the listing, then only
        as many entries as the page needs (ids sort newest first), however long the timeline."""
        listed = await self.index.find_one({"_id": contact_id})
        ids = sorted(i for i in (listed or {}).get("ids", []) if after is None or i > after)
        step = limit if not types else max(4 * limit, 100)
        out: list[Document] = []
        for i in range(0, len(ids), step):  # an entry listed but not written, or not of `types`, reads further
            out += await self.entries_of(contact_id, ids[i : i + step], types)
            if len(out) >= limit:
                break
        return out[:limit]

    async def all_of(self, contact_id: str, types: list[str] | None = None) -> list[Document]:
        listed = await self.index.find_one({"_id": contact_id})
        return await self.entries_of(contact_id, (listed or {}).get("ids", []), types)

    async def entries_of(self, contact_id: str, ids: list[str], types: list[str] | None = None) -> list[Document]:
        return (await self.entries_of_many({contact_id: ids}, types))[contact_id]

    async def _rekey(self, docs: list[Document], to_contact: str) -> None:
        if not docs:
            return
        moved = [{**d, "_id": entry_id(to_contact, d["at"], d["event_id"]), "contact_id": to_contact} for d in docs]
        await self.index.update_one(
            {"_id": to_contact}, {"$addToSet": {"ids": {"$each": [m["_id"] for m in moved]}}}, upsert=True
        )
        await insert_new(self.entries, moved)  # some may be moved by an earlier, interrupted attempt already
        await self.entries.delete_many({"_id": {"$in": [d["_id"] for d in docs]}})
        await self.index.update_one({"_id": docs[0]["contact_id"]}, {"$pullAll": {"ids": [d["_id"] for d in docs]}})

    async def move(self, from_contact: str, to_contact: str) -> None:
        """Merge: the absorbed contact's entries show on the survivor (their origin is kept)."""
        await self._rekey(await self.all_of(from_contact), to_contact)

    async def give_back(self, origin: str, holder: str) -> None:
        """Merge undone: every entry that came with `origin` goes back to it from `holder`."""
        await self._rekey([d for d in await self.all_of(holder) if d["origin_contact_id"] == origin], origin)

    async def erase(self, contact_id: str) -> int:
        ids = [d["_id"] for d in await self.all_of(contact_id)]
        if ids:
            await self.entries.delete_many({"_id": {"$in": ids}})
        await self.index.delete_one({"_id": contact_id})
        return len(ids)
