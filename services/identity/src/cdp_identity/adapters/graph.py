"""The identity graph in the identity service's own database. Every read on the matching path is by `_id`
(docs/store-contract.md): records by record key, persons by person id, candidates through blocking-key documents,
identifier claims (the serialisation point that keeps two replicas from creating one person twice)."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from cdp_common.events import utcnow
from cdp_common.store import DUPLICATE_KEY, Document, find_by_ids
from pymongo import ReturnDocument, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from cdp_identity.domain.normalise import Profile
from cdp_identity.domain.scoring import Frequencies, MatchingConfig


def profile_doc(p: Profile) -> dict[str, Any]:
    return {
        "name_exact": sorted(p.name_exact),
        "name_folded": sorted(p.name_folded),
        "birth_date": p.birth_date.isoformat() if p.birth_date else None,
        "emails": sorted(p.emails),
        "phones": sorted(p.phones),
        "verified_emails": sorted(p.verified_emails),
        "verified_phones": sorted(p.verified_phones),
        "external_ids": p.external_ids,
        "city": p.city,
    }


def profile_from(key: str, source: str, d: dict[str, Any]) -> Profile:
    return Profile(
        key,
        source,
        frozenset(d["name_exact"]),
        frozenset(d["name_folded"]),
        date.fromisoformat(d["birth_date"]) if d.get("birth_date") else None,
        frozenset(d["emails"]),
        frozenset(d["phones"]),
        frozenset(d["verified_emails"]),
        frozenset(d["verified_phones"]),
        dict(d.get("external_ids", {})),
        d.get("city"),
    )


def profile_slot(record_key: str) -> str:
    """Where a person's document keeps a record's profile (`profiles.<slot>`): a field name of hex digits, whatever
    the record key holds (a dot or a dollar sign cannot be part of a field path)."""
    return hashlib.blake2b(record_key.encode(), digest_size=8).hexdigest()


@dataclass(frozen=True)
class Link:
    """One record joining (or staying with) a person, as `IdentityGraph.link_many` writes it."""

    profile: Profile
    person_id: str
    attributes: dict[str, Any]
    observed_at: datetime
    link: dict[str, Any]
    new_person: bool
    known: bool


COMMON_NAME_PERSONS = 8


def candidates_in(
    blocks: dict[str, list[str]], blocking_keys: list[str], limit: int = 50, common: int = COMMON_NAME_PERSONS
) -> list[str]:
    """The persons listed under a record's blocking keys, the latest `limit` of each key, at most twice `limit` in
    all (before merge redirects are followed).

    A whole name borne by more than `common` persons brings none of them: sharing "Nguyễn Văn An" and nothing else
    cannot link (a name alone never does), and a review asking which of dozens of namesakes is the one helps
    nobody. Namesakes that share anything more are still found, under that identifier or under a name token with
    the birth date (or the birth date with day and month swapped)."""
    persons: dict[str, None] = {}
    for key in blocking_keys:
        listed = blocks.get(key, [])
        if key.startswith("name:") and len(listed) > common:
            continue
        for pid in listed[-limit:]:
            persons.setdefault(pid)
    return list(persons)[: limit * 2]


def standing_candidates(listed: list[str], standing: dict[str, str], limit: int = 50) -> list[str]:
    """The listed persons as they stand today (merged ones redirected), each once, at most `limit`."""
    return list(dict.fromkeys(standing[pid] for pid in listed))[:limit]


def frequencies_of(profile: Profile, counts: dict[str, int], blocks: dict[str, list[str]]) -> Frequencies:
    """How common the record's name tokens are (`counts` from `token_counts`) and how many persons share each of its
    identifiers (`blocks` from `blocks_of`)."""
    total = max(counts.get("total", 0), 1)
    # smoothing: an unseen token counts as seen once; tiny stores fall back to prior name shares
    share = {t: max(counts.get(f"tok:{t}", 0), 1) / max(total, 100) for t in profile.name_folded}
    keys = profile.strong_identifiers() + [k for k in profile.blocking_keys() if k.startswith("name:")]
    sharers = {key: len(blocks[key]) for key in keys if key in blocks}
    return Frequencies(share, sharers, counts.get("total", 0))


class IdentityGraph:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.records = db["source_records"]
        self.persons = db["persons"]
        self.blocks = db["blocks"]
        self.claims = db["claims"]
        self.counts = db["token_counts"]
        self.reviews = db["reviews"]
        self.merges = db["merges"]
        self.config = db["matching_config"]
        self._config: tuple[float, MatchingConfig] | None = None

    async def ensure_indexes(self) -> None:
        """Nothing to declare: every lookup is by `_id`."""

    # --------------------------------------------------------------------------------------------- config
    async def matching_config(self, max_age: float = 0.0) -> MatchingConfig:
        """The configuration in force; with `max_age` (seconds), as read at most that long ago by this process.
        Matching takes it a second old at most, not a read per poll."""
        now = time.monotonic()
        if self._config is not None and now - self._config[0] <= max_age:
            return self._config[1]
        doc = await self.config.find_one({"_id": "current"})
        cfg = MatchingConfig.from_doc(doc) if doc else MatchingConfig()
        self._config = (now, cfg)
        return cfg

    async def save_config(self, cfg: MatchingConfig, expected_version: int, by: str) -> bool:
        result = await self.config.update_one(
            {"_id": "current", "version": expected_version}, {"$set": {**cfg.to_doc(), "by": by, "at": utcnow()}}
        )
        if (
            result.matched_count == 0
            and expected_version == 1
            and await self.config.find_one({"_id": "current"}) is None
        ):
            try:
                await self.config.insert_one({"_id": "current", **cfg.to_doc(), "by": by, "at": utcnow()})
                self._config = None
                return True
            except DuplicateKeyError:
                return False
        self._config = None
        return result.matched_count == 1

    # ---------------------------------------------------------------------------------------------- reads
    async def record(self, key: str) -> Document | None:
        return await self.records.find_one({"_id": key})

    async def person(self, person_id: str) -> Document | None:
        return await self.persons.find_one({"_id": person_id})

    async def resolve(self, person_id: str) -> str:
        """Follow merge redirects to the person that stands today."""
        return (await self.resolve_many([person_id]))[person_id]

    async def resolve_many(self, person_ids: list[str]) -> dict[str, str]:
        """`resolve` for many persons, one round trip per redirect level (usually one in all); at most ten levels."""
        return (await self.standing_persons(person_ids))[0]

    async def standing_persons(self, person_ids: list[str]) -> tuple[dict[str, str], dict[str, Document]]:
        """`resolve_many`, and the documents of the persons standing (those it read)."""
        standing: dict[str, str] = {}
        read: dict[str, Document] = {}
        pending = {pid: pid for pid in person_ids}
        for _ in range(10):
            if not pending:
                break
            docs = {d["_id"]: d async for d in find_by_ids(self.persons, list(set(pending.values())))}
            onward = {}
            for asked, current in pending.items():
                into = (docs.get(current) or {}).get("merged_into")
                if into:
                    onward[asked] = into
                else:
                    standing[asked] = current
                    if current in docs:
                        read[current] = docs[current]
            pending = onward
        return {**standing, **pending}, read

    async def blocks_of(self, keys: list[str]) -> dict[str, list[str]]:
        """Blocking key -> the persons listed under it (keys nobody holds are absent)."""
        return {d["_id"]: d.get("persons", []) async for d in find_by_ids(self.blocks, keys)}

    async def profiles_of(self, person_id: str, limit: int = 20) -> list[Profile]:
        return (await self.profiles_of_many([person_id], limit)).get(person_id, [])

    async def profiles_of_many(
        self, person_ids: list[str], limit: int = 20, persons: dict[str, Document] | None = None
    ) -> dict[str, list[Profile]]:
        """The latest `limit` records of each person, in the order they joined it: two round trips in all, one if
        `persons` holds the persons' documents already."""
        given = persons or {}
        docs = [given[p] for p in person_ids if p in given]
        docs += [d async for d in find_by_ids(self.persons, [p for p in person_ids if p not in given])]
        keys = {d["_id"]: d.get("records", [])[-limit:] for d in docs}
        # each person's document keeps its records' profiles as they were linked; those it lacks (a person stored
        # before it did, records it received by a merge) are read from the records themselves
        found: dict[str, Profile] = {}
        for d in docs:
            kept = d.get("profiles") or {}
            for k in keys[d["_id"]]:
                slot = kept.get(profile_slot(k))
                if slot is not None and slot.get("k") == k:
                    found[k] = profile_from(k, slot["s"], slot["p"])
        wanted = [k for ks in keys.values() for k in ks if k not in found]
        async for d in find_by_ids(self.records, wanted, {"source": 1, "profile": 1}):  # no query when none
            found[d["_id"]] = profile_from(d["_id"], d["source"], d["profile"])
        return {pid: [found[k] for k in ks if k in found] for pid, ks in keys.items()}

    async def frequencies(self, profile: Profile) -> Frequencies:
        counts = await self.token_counts(profile.name_folded)
        keys = profile.strong_identifiers() + [k for k in profile.blocking_keys() if k.startswith("name:")]
        return frequencies_of(profile, counts, await self.blocks_of(keys))

    async def token_counts(self, tokens: Iterable[str]) -> dict[str, int]:
        """How many records carry each name token, and under "total" how many records there are."""
        ids = [f"tok:{t}" for t in tokens] + ["total"]
        return {d["_id"]: d["n"] async for d in find_by_ids(self.counts, ids)}

    # --------------------------------------------------------------------------------------------- writes
    async def claim(self, identifier: str, person_id: str) -> str:
        """The person that owns this identifier: ours if we are first. One atomic upsert per identifier."""
        for _ in range(3):
            try:
                doc = await self.claims.find_one_and_update(
                    {"_id": identifier},
                    {"$setOnInsert": {"person_id": person_id, "at": utcnow()}},
                    upsert=True,
                    return_document=ReturnDocument.AFTER,
                )
                return str(doc["person_id"]) if doc else person_id
            except DuplicateKeyError:
                continue  # a concurrent upsert won the insert; read its owner on the next pass
        doc = await self.claims.find_one({"_id": identifier})
        return str(doc["person_id"]) if doc else person_id

    async def claim_many(self, wanted: dict[str, str]) -> dict[str, str]:
        """`claim` of many identifiers (identifier -> the person wanting it) in two round trips; returns each
        identifier's owner, which is the one wanting it unless another replica claimed it first."""
        if not wanted:
            return {}
        now = utcnow()
        idents = list(wanted)
        # inserts, not upserts: FerretDB v1 answers a batch of upserts with one failing with no counts at all
        try:
            await self.claims.insert_many(
                [{"_id": ident, "person_id": pid, "at": now} for ident, pid in wanted.items()], ordered=False
            )
            ours = set(idents)
        except BulkWriteError as e:  # claimed before, by us or by another person: its owner is read below
            if any(err.get("code") != DUPLICATE_KEY for err in e.details.get("writeErrors", [])):
                raise
            ours = set(idents) - {err["op"]["_id"] for err in e.details["writeErrors"]}
        # an identifier this write inserted is ours; any other was claimed before, by us or by another person
        others = [ident for ident in idents if ident not in ours]
        owners = {d["_id"]: str(d["person_id"]) async for d in find_by_ids(self.claims, others)}
        return {ident: owners.get(ident, pid) for ident, pid in wanted.items()}

    async def link_many(self, links: list[Link], reviews: list[UpdateOne] | None = None) -> None:
        """Records joining (or staying with) their persons, in two steps whatever their number: the records, then
        at once the persons, blocking keys, token counts and `reviews` (review upserts). Idempotent: linking a
        record to the same person again changes nothing; each record's `known` says whether it was stored before
        (its name tokens are counted already). If a step fails, the redelivered poll finds the records stored,
        links them again as known, and so completes the rest without counting a name twice."""
        if not links:
            return
        await self.records.bulk_write(
            [
                UpdateOne(
                    {"_id": x.profile.key},
                    {
                        "$set": {
                            "source": x.profile.source,
                            "profile": profile_doc(x.profile),
                            "attributes": x.attributes,
                            "observed_at": x.observed_at,
                            "person_id": x.person_id,
                            "link": x.link,
                        }
                    },
                    upsert=True,
                )
                for x in links
            ],
            ordered=False,
        )
        now = utcnow()
        persons = []
        for x in links:
            kept = {"k": x.profile.key, "s": x.profile.source, "p": profile_doc(x.profile)}
            update: dict[str, Any] = {
                "$addToSet": {"records": x.profile.key},
                "$set": {f"profiles.{profile_slot(x.profile.key)}": kept},
            }
            if x.new_person:
                update["$setOnInsert"] = {"created_at": now, "merged_into": None}
            persons.append(UpdateOne({"_id": x.person_id}, update, upsert=True))
        writes = [self.persons.bulk_write(persons, ordered=False)]
        blocks: dict[str, set[str]] = {}
        for x in links:
            for key in x.profile.blocking_keys():
                blocks.setdefault(key, set()).add(x.person_id)
        if blocks:
            writes.append(
                self.blocks.bulk_write(
                    [
                        UpdateOne({"_id": key}, {"$addToSet": {"persons": {"$each": sorted(pids)}}}, upsert=True)
                        for key, pids in blocks.items()
                    ],
                    ordered=False,
                )
            )
        counts: dict[str, int] = {}
        for x in links:
            if not x.known:
                for k in ["total", *(f"tok:{t}" for t in x.profile.name_folded)]:
                    counts[k] = counts.get(k, 0) + 1
        if counts:
            writes.append(
                self.counts.bulk_write(
                    [UpdateOne({"_id": k}, {"$inc": {"n": n}}, upsert=True) for k, n in counts.items()],
                    ordered=False,
                )
            )
        if reviews:
            writes.append(self.reviews.bulk_write(reviews, ordered=False))
        await asyncio.gather(*writes)

    async def records_of(self, person_id: str) -> list[Document]:
        p = await self.person(person_id)
        if p is None:
            return []
        return [d async for d in self.records.find({"_id": {"$in": p.get("records", [])}})]

    async def subjects_of(self, person_id: str) -> list[str]:
        """Every Kafka subject whose events may carry this person's data: their source records' keys and the persons
        merged into them (crypto-shredding destroys the keys of all of them on erasure)."""
        p = await self.person(person_id)
        merged = [d["_id"] async for d in self.persons.find({"merged_into": person_id}, {"_id": 1})]
        return [*(p or {}).get("records", []), *merged]

    # ------------------------------------------------------------------------------------ merge and undo
    async def merge(self, merge_id: str, survivor: str, merged: str, by: str, evidence: list[dict[str, Any]]) -> bool:
        """Idempotent by merge id. The merged person keeps its record list (to undo); it redirects to the survivor."""
        try:
            moved = (await self.person(merged) or {}).get("records", [])
            await self.merges.insert_one(
                {
                    "_id": merge_id,
                    "survivor": survivor,
                    "merged": merged,
                    "records": moved,
                    "by": by,
                    "evidence": evidence,
                    "at": utcnow(),
                    "undone": False,
                }
            )
        except DuplicateKeyError:
            pass
        m = await self.merges.find_one({"_id": merge_id})
        assert m is not None
        await self.persons.update_one({"_id": survivor}, {"$addToSet": {"records": {"$each": m["records"]}}})
        await self.persons.update_one({"_id": merged}, {"$set": {"merged_into": survivor, "merge_id": merge_id}})
        await self.records.update_many({"_id": {"$in": m["records"]}}, {"$set": {"person_id": survivor}})
        return True

    async def undo_merge(self, merge_id: str, by: str) -> Document | None:
        m = await self.merges.find_one({"_id": merge_id})
        if m is None:
            return None
        await self.persons.update_one(
            {"_id": m["survivor"]},
            {
                "$pullAll": {"records": m["records"]},
                # a record of the merged person seen again after the merge left its profile with the survivor
                "$unset": {f"profiles.{profile_slot(k)}": "" for k in m["records"]},
            },
        )
        await self.persons.update_one({"_id": m["merged"]}, {"$set": {"merged_into": None, "merge_id": None}})
        await self.records.update_many({"_id": {"$in": m["records"]}}, {"$set": {"person_id": m["merged"]}})
        await self.merges.update_one(
            {"_id": merge_id}, {"$set": {"undone": True, "undone_by": by, "undone_at": utcnow()}}
        )
        return m

    # ------------------------------------------------------------------------------------------- privacy
    async def erase_person(self, person_id: str) -> dict[str, int]:
        records = await self.records_of(person_id)
        blocking: set[str] = set()
        for r in records:
            p = profile_from(r["_id"], r["source"], r["profile"])
            blocking |= set(p.blocking_keys())
            for ident in p.strong_identifiers():
                await self.claims.delete_one({"_id": ident, "person_id": person_id})
        tokens: list[str] = []
        for r in records:
            tokens += [f"tok:{t}" for t in r["profile"]["name_folded"]]
        # blocking keys and token counts carry names and identifiers in their ids: none may outlive the person
        for key in blocking:
            await self.blocks.update_one({"_id": key}, {"$pull": {"persons": person_id}})
            await self.blocks.delete_one({"_id": key, "persons": {"$size": 0}})
        for tok in tokens:
            await self.counts.update_one({"_id": tok}, {"$inc": {"n": -1}})
            await self.counts.delete_one({"_id": tok, "n": {"$lte": 0}})
        if records:
            await self.counts.update_one({"_id": "total"}, {"$inc": {"n": -len(records)}})
        deleted = 0
        if records:
            deleted = (await self.records.delete_many({"_id": {"$in": [r["_id"] for r in records]}})).deleted_count
        persons = (await self.persons.delete_one({"_id": person_id})).deleted_count
        # persons merged into this one keep their record lists (to undo the merge) and the profiles of the records
        # they had: those records are erased above, so are their profiles
        await self.persons.update_many({"merged_into": person_id}, {"$unset": {"profiles": ""}})
        return {"source_records": deleted, "persons": persons, "blocking_keys": len(blocking)}

    async def export_person(self, person_id: str) -> dict[str, Any]:
        return {"person": await self.person(person_id), "records": await self.records_of(person_id)}
