"""Consent subjects: one document per person holding every statement ever made about them (append-only; one
atomic update per statement, deduplicated by statement id), the effective state per channel and purpose, and the
suppression list.

Merges never move statements: the survivor lists the persons it `absorbed`, the merged person points at its
survivor (`merged_into`), and the survivor's ledger is the union of its own statements and theirs. Undoing a merge
drops the pointer, and each person has exactly their own statements again. `audit` is append-only."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Any

from cdp_common.events import utcnow
from cdp_common.store import Document, find_by_ids
from pymongo import UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from cdp_consent.adapters.check_cache import CheckCache, CheckView


class ConsentSubjects:
    def __init__(self, db: AsyncDatabase[Document], cache: CheckCache | None = None) -> None:
        self.subjects = db["subjects"]
        self.suppressions = db["suppressions"]
        self.audit_log = db["consent_audit"]
        self.cache = cache if cache is not None else CheckCache(ttl_seconds=0)

    async def register_many(self, subjects: list[tuple[str, list[str], str | None, datetime]]) -> None:
        """New contacts as consent subjects (person id, reachable channels, preferred channel, when), in one write.
        Idempotent: a person registered twice is one subject, with no statement yet."""
        if subjects:
            await self.subjects.bulk_write(
                [
                    UpdateOne(
                        {"_id": person_id},
                        {
                            "$setOnInsert": {"registered_at": at, "statements": [], "effective": {}},
                            "$set": {"reachable_channels": channels, "preferred_channel": preferred},
                        },
                        upsert=True,
                    )
                    for person_id, channels, preferred, at in subjects
                ],
                ordered=False,
            )

    async def get(self, person_id: str) -> Document | None:
        return await self.subjects.find_one({"_id": person_id})

    async def get_many(self, person_ids: list[str]) -> dict[str, Document]:
        return {d["_id"]: d async for d in find_by_ids(self.subjects, person_ids)}

    async def resolve(self, person_id: str) -> str:
        """The person standing today for `person_id` (follows merges)."""
        for _ in range(10):
            doc = await self.subjects.find_one({"_id": person_id}, {"merged_into": 1})
            if doc is None or not doc.get("merged_into"):
                return person_id
            person_id = doc["merged_into"]
        return person_id

    async def ledgers(self, person_ids: list[str]) -> dict[str, tuple[Document, list[dict[str, Any]]]]:
        """For each asked id that is known: the subject standing for it today and every statement of its ledger
        (its own and those of the persons merged into it, each marked with `recorded_for`). Three reads per
        batch, whatever its size."""
        docs = await self.get_many(person_ids)
        survivors = {pid: d["merged_into"] for pid, d in docs.items() if d.get("merged_into")}
        missing = [s for s in set(survivors.values()) if s not in docs]
        docs.update(await self.get_many(missing) if missing else {})
        absorbed = [a for d in docs.values() for a in d.get("absorbed", []) if a not in docs]
        docs.update(await self.get_many(absorbed) if absorbed else {})
        out: dict[str, tuple[Document, list[dict[str, Any]]]] = {}
        for pid in person_ids:
            standing = docs.get(survivors.get(pid, pid))
            if standing is None:
                continue
            members = [standing["_id"], *standing.get("absorbed", [])]
            statements = [
                {**st, "recorded_for": m} for m in members for st in (docs.get(m) or {}).get("statements", [])
            ]
            out[pid] = (standing, statements)
        return out

    async def ledger(self, person_id: str) -> tuple[Document, list[dict[str, Any]]] | None:
        return (await self.ledgers([person_id])).get(person_id)

    async def check_views(self, person_ids: list[str], remember: bool = True) -> dict[str, CheckView]:
        """What the check API needs of each asked person: from this replica's memory when it has it, else read
        (the ledgers and suppressions of a whole batch in a few reads) and remembered when `remember`."""
        out: dict[str, CheckView] = {}
        missing: list[str] = []
        usable = self.cache.usable()
        for pid in person_ids:
            view = self.cache.get(pid) if usable else None
            if view is None:
                missing.append(pid)
            else:
                out[pid] = view
        if missing:
            out.update(await self._read_views(missing, remember and usable))
        return out

    async def _read_views(self, missing: list[str], remember: bool) -> dict[str, CheckView]:
        out: dict[str, CheckView] = {}
        epoch = self.cache.epoch
        loaded_at = time.monotonic()
        ledgers = await self.ledgers(missing)
        standing = {pid: doc["_id"] for pid, (doc, _) in ledgers.items()}
        blocked = await self.suppressed(list({*missing, *standing.values()}))
        for pid in missing:
            found = ledgers.get(pid)
            members = {pid}
            if found is not None:
                members |= {found[0]["_id"], *found[0].get("absorbed", [])}
            block = blocked.get(pid) or blocked.get(standing.get(pid, pid))
            view = CheckView(
                standing=standing.get(pid),
                statements=found[1] if found else [],
                suppressed=block["reason"] if block else None,
                members=frozenset(members),
                loaded_at=loaded_at,
            )
            out[pid] = view
            if remember:
                self.cache.put(pid, view, epoch)
        return out

    async def warm(self, chunk: int = 200, pause_s: float = 0.005) -> int:
        """Read every subject into this replica's check memory (up to its size), in chunks of `chunk` persons with
        a pause between them, so that checks served meanwhile wait for one small chunk at most. Returns how many
        are remembered."""
        if not self.cache.usable():
            return 0
        ids: list[str] = []
        read = 0
        async for d in self.subjects.find({}, {"_id": 1}):
            ids.append(d["_id"])
            if len(ids) >= chunk:
                await self._read_views(ids, remember=True)
                read, ids = read + len(ids), []
                await asyncio.sleep(pause_s)
            if read >= self.cache.max_entries:
                break
        if ids:
            await self._read_views(ids, remember=True)
        return len(self.cache)

    async def refresh_stale(self, limit: int = 500) -> int:
        """Read again what was forgotten since the last call (up to `limit` persons in a few reads), so their next
        check is answered from memory. Returns how many were read."""
        if not self.cache.usable():
            self.cache.stale.clear()
            return 0
        ids = self.cache.take_stale(limit)
        if ids:
            await self._read_views(ids, remember=True)
        return len(ids)

    async def absorb(self, survivor: str, merged: str, merge_id: str, at: datetime) -> None:
        """Idempotent: `merged`'s statements count for `survivor` from now on."""
        for pid in (survivor, merged):
            await self.ensure(pid, at)
        await self.subjects.update_one({"_id": merged}, {"$set": {"merged_into": survivor, "merge_id": merge_id}})
        await self.subjects.update_one({"_id": survivor}, {"$addToSet": {"absorbed": merged}})
        self.cache.forget([survivor, merged])

    async def release(self, survivor: str, restored: str) -> None:
        """Idempotent: undo `absorb`; each keeps exactly its own statements."""
        await self.subjects.update_one({"_id": survivor}, {"$pull": {"absorbed": restored}})
        await self.subjects.update_one({"_id": restored}, {"$set": {"merged_into": None, "merge_id": None}})
        self.cache.forget([survivor, restored])

    async def ensure(self, person_id: str, at: datetime) -> None:
        await self.subjects.update_one(
            {"_id": person_id},
            {
                "$setOnInsert": {
                    "registered_at": at,
                    "statements": [],
                    "effective": {},
                    "reachable_channels": [],
                    "preferred_channel": None,
                }
            },
            upsert=True,
        )

    async def audit(self, entry: dict[str, Any]) -> None:
        """Append-only: who did what to whose consent, when and why. Entries are inserted, never updated."""
        await self.audit_log.insert_one(entry)

    async def audit_of(self, person_id: str, limit: int = 200) -> list[Document]:
        cursor = self.audit_log.find({"person_id": person_id}, {"_id": 0}).sort("at", -1).limit(limit)
        return [d async for d in cursor]

    async def append(self, person_id: str, statement: dict[str, Any]) -> bool:
        """False when this statement is already in the ledger."""
        await self.ensure(person_id, statement["received_at"])
        # `statement_ids` beside the statements: FerretDB v1 answers `$ne` on a field of an array's documents
        # ("statements.id") as if no element had it, and so appended a redelivered statement twice. The second
        # condition keeps ledgers written before `statement_ids` right on MongoDB.
        result = await self.subjects.update_one(
            {"_id": person_id, "statement_ids": {"$ne": statement["id"]}, "statements.id": {"$ne": statement["id"]}},
            {"$push": {"statements": statement, "statement_ids": statement["id"]}},
        )
        self.cache.forget([person_id])
        return result.modified_count == 1

    async def confirm_statement(self, person_id: str, index: int, digest: str) -> bool:
        """Double opt-in: mark the grant at `index` confirmed, once. Guarded by position and state (the
        positional `$` operator is outside the store contract)."""
        result = await self.subjects.update_one(
            {"_id": person_id, f"statements.{index}.confirmation_hash": digest, f"statements.{index}.confirmed": False},
            {"$set": {f"statements.{index}.confirmed": True, f"statements.{index}.confirmed_at": utcnow()}},
        )
        self.cache.forget([person_id])
        return result.modified_count == 1

    async def delete(self, person_ids: list[str]) -> int:
        deleted = (await self.subjects.delete_many({"_id": {"$in": person_ids}})).deleted_count
        self.cache.forget(person_ids)
        return deleted

    async def set_effective(self, person_id: str, key: str, state: dict[str, Any]) -> None:
        await self.subjects.update_one({"_id": person_id}, {"$set": {f"effective.{key}": state}})

    async def suppress(self, person_id: str, reason: str, by: str, at: datetime) -> None:
        await self.suppressions.update_one(
            {"_id": person_id}, {"$set": {"reason": reason, "by": by, "at": at}}, upsert=True
        )
        self.cache.forget([person_id])

    async def unsuppress(self, person_id: str) -> None:
        await self.suppressions.delete_one({"_id": person_id})
        self.cache.forget([person_id])

    async def suppressed(self, person_ids: list[str]) -> dict[str, Document]:
        return {d["_id"]: d async for d in find_by_ids(self.suppressions, person_ids)}
