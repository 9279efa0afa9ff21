"""Contacts in the service's own database.

One contact is one document; every change is one atomic `update_one` guarded by the version it was read at
(optimistic concurrency), and the events the change recorded are pushed into the same document's `outbox` by that
same update, so a crash between the write and the publish loses nothing, without multi-document transactions.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from cdp_common.digests import pack, unpack
from cdp_common.events import EventEnvelope
from cdp_common.identifiers import fold
from cdp_common.store import Document, find_by_ids
from pymongo import ASCENDING, DESCENDING, ReturnDocument, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from cdp_contacts.adapters.search_index import PROJECTION, SORT_ATTR, SearchIndex, custom_matches
from cdp_contacts.domain.model import Contact
from cdp_contacts.domain.quantitative import Basis
from cdp_contacts.domain.survivorship import Candidate


class ContactAlreadyExists(Exception):
    def __init__(self, contact_id: str) -> None:
        super().__init__(contact_id)
        self.contact_id = contact_id


class ConcurrentChange(Exception):
    """Someone saved the contact after we read it; the caller reloads and applies its change again."""


@dataclass(frozen=True)
class Written:
    """What a write left to publish: the work marker's token, and the whole outbox in order (what earlier writes
    left behind, then this write's events), so the writer publishes without reading the outbox back. `stored`: the
    same outbox entries as stored, which leave it by value once published (a single contact's write)."""

    token: str
    outbox: list[tuple[str, EventEnvelope]]
    stored: list[Document] = field(default_factory=list)


SORTS = SORT_ATTR  # sort name -> the stored field it orders by


@dataclass(frozen=True)
class SearchQuery:
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    lifecycle_stage: str | None = None
    lead_status: str | None = None
    tag: str | None = None
    owner: str | None = None
    custom: tuple[tuple[str, Any], ...] = ()
    sort: str = "updated_at"
    descending: bool = True
    limit: int = 50
    cursor: str | None = None


def outbox_entry(topic: str, event: EventEnvelope) -> Document:
    """An event waiting in a document to be published. The envelope is kept as its JSON text: a payload may name
    fields by their dotted paths (`{"descriptive.income_band": ...}` in `contact.updated`), which FerretDB v1
    refuses as keys, and the text compares exactly when the entry leaves by value (`$pullAll`)."""
    return {"topic": topic, "event": event.model_dump_json()}


def stored_envelope(entry: Document) -> EventEnvelope:
    raw = entry["event"]
    return EventEnvelope.model_validate_json(raw) if isinstance(raw, str) else EventEnvelope.model_validate(raw)


def _next_version(contact: Contact, topic: str) -> tuple[Document, dict[str, Any], list[Document]]:
    """The contact's next version as a document (without `_id`), the update writing it, and the outbox entries it
    adds (the contact's recorded events), as stored: they leave the outbox by value (`$pullAll`)."""
    doc = to_document(contact)
    doc.pop("_id")
    doc["version"] = contact.version + 1
    update: dict[str, Any] = {"$set": doc}
    entries = [outbox_entry(topic, e) for e in contact.events]
    if entries:
        update["$push"] = {"outbox": {"$each": entries}}
    return doc, update, entries


class ContactRepository:
    """Contacts in their own collection, queried through secondary indexes; `contact_work` lists the contacts whose
    events still wait to be published (a marker written before the change), so the relay never scans contacts."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.contacts = db["contacts"]
        self.work = db["contact_work"]
        self.batches = db["contact_batches"]  # a bulk import's events until Kafka acknowledged them
        # identifier -> contact ids, keyed by `_id`: exact lookups stay fast on a store that only indexes `_id`
        self.keys = db["contact_keys"]
        # search in memory (adapters/search_index.py), when the service turns it on; `memory_current` says whether
        # the replica is following the other replicas' writes right now
        self.memory: SearchIndex | None = None
        self.memory_current: Callable[[], bool] = lambda: False

    async def ensure_indexes(self) -> None:
        for keys, name in (
            ([("name_tokens", ASCENDING)], "name_tokens"),
            ([("email_keys", ASCENDING)], "email_keys"),
            ([("phone_keys", ASCENDING)], "phone_keys"),
            ([("lifecycle_stage", ASCENDING), ("updated_at", DESCENDING)], "stage_updated"),
            ([("lead_status", ASCENDING)], "lead_status"),
            ([("tags", ASCENDING)], "tags"),
            ([("owner", ASCENDING)], "owner"),
            ([("updated_at", DESCENDING)], "updated_at"),
            ([("status", ASCENDING)], "status"),
        ):
            await self.contacts.create_index(keys, name=name)

    # ------------------------------------------------------------------------------------------ read / write
    async def get(self, contact_id: str) -> Contact | None:
        doc = await self.contacts.find_one({"_id": contact_id}, {"outbox": 0})
        return from_document(doc) if doc else None

    async def add(self, contact: Contact, topic: str) -> Written:
        """Insert a new contact with its recorded events. Raises `ContactAlreadyExists` for a known id."""
        doc = to_document(contact)
        doc["version"] = 1
        doc["outbox"] = [outbox_entry(topic, e) for e in contact.events]
        token = await self._mark_work(contact.id)
        try:
            await self.contacts.insert_one(doc)
        except DuplicateKeyError:
            raise ContactAlreadyExists(contact.id) from None
        written = Written(token, [(topic, e) for e in contact.events], doc["outbox"])
        contact.version = 1
        contact.events.clear()
        await self.index_keys([contact])
        self._remember(doc)
        return written

    async def add_many(self, contacts: list[Contact], topic: str) -> tuple[set[str], Written]:
        """Insert new contacts in one round trip; ids that exist already are skipped. Returns the ids inserted and
        what they left to publish (finished with `batch_published` and the written token).

        Their events wait in one batch document written first, not in each contact's outbox: a batch of a
        thousand costs three writes besides the contacts themselves, where markers and outboxes cost three
        thousand. Each contact records the batch that created it, so the relay sends the events of those only."""
        if not contacts:
            return set(), Written("", [])
        token = uuid.uuid4().hex
        await self.batches.insert_one(
            {
                "_id": token,
                "at": datetime.now(UTC),
                "events": [{"contact_id": c.id, **outbox_entry(topic, e)} for c in contacts for e in c.events],
            }
        )
        docs = [{**to_document(c), "version": 1, "outbox": [], "created_in_batch": token} for c in contacts]
        ids = {c.id for c in contacts}
        try:
            await self.contacts.insert_many(docs, ordered=False)
            inserted = ids
        except BulkWriteError as e:
            duplicate_ids = {err["op"]["_id"] for err in e.details.get("writeErrors", []) if err.get("code") == 11000}
            other = [err for err in e.details.get("writeErrors", []) if err.get("code") != 11000]
            if other:
                raise
            inserted = ids - duplicate_ids
        written = Written(token, [(topic, e) for c in contacts if c.id in inserted for e in c.events])
        for c in contacts:
            if c.id in inserted:
                c.version = 1
                c.events.clear()
        await self.index_keys([c for c in contacts if c.id in inserted])
        for d in docs:
            if d["_id"] in inserted:
                self._remember(d)
        return inserted, written

    async def batch_published(self, token: str) -> None:
        """After a bulk publish acknowledged every event of the batch."""
        await self.batches.delete_one({"_id": token})

    async def batches_left(self, before: datetime, limit: int = 10) -> list[str]:
        """Batches written before `before` whose publish never finished (Kafka was down, or the process died)."""
        return [d["_id"] async for d in self.batches.find({"at": {"$lt": before}}, {"_id": 1}).limit(limit)]

    async def batch_outbox(self, token: str) -> list[tuple[str, EventEnvelope]]:
        """The batch's events of the contacts it created, in order (a row already imported before sends nothing)."""
        doc = await self.batches.find_one({"_id": token})
        if doc is None:
            return []
        ids = list({e["contact_id"] for e in doc["events"]})
        created = {
            d["_id"]
            async for d in find_by_ids(self.contacts, ids, {"created_in_batch": 1})
            if d.get("created_in_batch") == token
        }
        return [(e["topic"], stored_envelope(e)) for e in doc["events"] if e["contact_id"] in created]

    async def save(self, contact: Contact, topic: str, *, reindex: bool = True) -> Written:
        """Store the changed contact if nobody else changed it since it was read; raises `ConcurrentChange`.
        `reindex=False` when the change left its identifiers as they were (the identifier index is then current)."""
        token = await self._mark_work(contact.id)
        doc, update, added = _next_version(contact, topic)
        # the outbox as it was before this write comes back with it: no second read to know what to publish
        # (the whole document: FerretDB v1 takes no projection in findAndModify)
        before = await self.contacts.find_one_and_update({"_id": contact.id, "version": contact.version}, update)
        if before is None:
            raise ConcurrentChange(contact.id)
        left = before.get("outbox", [])
        pending = [(e["topic"], stored_envelope(e)) for e in left] + [(topic, e) for e in contact.events]
        written = Written(token, pending, left + added)
        contact.version += 1
        contact.events.clear()
        if reindex:
            await self.index_keys([contact])
        self._remember({**doc, "_id": contact.id})
        return written

    async def load_for_update(self, ids: list[str]) -> dict[str, tuple[Contact, list[dict[str, Any]]]]:
        """Contacts with their outbox as stored (what `save_many` must publish with their new events), one read."""
        return {str(d["_id"]): (from_document(d), d.get("outbox") or []) async for d in find_by_ids(self.contacts, ids)}

    async def save_many(
        self, contacts: list[Contact], outboxes: dict[str, list[dict[str, Any]]], topic: str
    ) -> tuple[Written, dict[str, list[Document]]]:
        """`save` of many contacts read with `load_for_update` (their identifiers unchanged), in one write: each is
        stored only if nobody changed it since it was read. Returns what the stored ones leave to publish (their
        outbox as read, then their new events) and, per stored contact, those outbox entries as stored; the others
        are for the caller to apply again."""
        if not contacts:
            return Written("", []), {}
        token = await self._mark_work(*[c.id for c in contacts])
        docs: dict[str, Document] = {}
        added: dict[str, list[Document]] = {}
        ops = []
        for c in contacts:
            docs[c.id], update, added[c.id] = _next_version(c, topic)
            ops.append(UpdateOne({"_id": c.id, "version": c.version}, update))
        result = await self.contacts.bulk_write(ops, ordered=False)
        if result.matched_count == len(ops):
            saved = set(docs)
        else:  # which ones lost to another writer: those not at the version this write gave them
            versions = {d["_id"]: d.get("version") async for d in find_by_ids(self.contacts, docs, {"version": 1})}
            saved = {c.id for c in contacts if versions.get(c.id) == c.version + 1}
        pending: list[tuple[str, EventEnvelope]] = []
        entries: dict[str, list[Document]] = {}
        for c in contacts:
            if c.id not in saved:
                continue
            pending += [(e["topic"], stored_envelope(e)) for e in outboxes.get(c.id, [])]
            pending += [(topic, e) for e in c.events]
            entries[c.id] = [*outboxes.get(c.id, []), *added[c.id]]
            c.version += 1
            c.events.clear()
            self._remember({**docs[c.id], "_id": c.id})
        return Written(token, pending), entries

    async def mark_many_published(self, entries: dict[str, list[Document]], token: str) -> None:
        """`mark_published` and `finish_work` of many contacts: their acknowledged outbox entries (as stored) leave
        their outboxes, and the marker of each whose outbox is then empty goes (unless another writer re-marked it
        since)."""
        pulls = [UpdateOne({"_id": c}, {"$pullAll": {"outbox": gone}}) for c, gone in entries.items() if gone]
        if pulls:
            await self.contacts.bulk_write(pulls, ordered=False)
        done = [d["_id"] async for d in find_by_ids(self.contacts, entries, {"outbox": 1}) if not d.get("outbox")]
        if done:
            await self.work.delete_many({"_id": {"$in": done}, "token": token})

    def _remember(self, doc: Document) -> None:
        if self.memory is not None:
            self.memory.put(doc, str(doc["_id"]))

    async def load_search_index(self, batch: int = 2000) -> int:
        """Fill the search memory with every contact (one scan, at start); returns how many are searchable."""
        assert self.memory is not None
        async for d in self.contacts.find({}, PROJECTION, batch_size=batch):
            self.memory.put(d, str(d["_id"]))
        self.memory.ready = True
        return len(self.memory)

    async def refresh_search_index(self, contact_ids: list[str]) -> None:
        """Read these contacts again by `_id` (another replica may have changed them) into the search memory."""
        assert self.memory is not None
        found = {str(d["_id"]): d async for d in find_by_ids(self.contacts, contact_ids, PROJECTION)}
        for cid in contact_ids:
            self.memory.put(found.get(cid), cid)

    async def _mark_work(self, *contact_ids: str) -> str:
        """Before a write: a crash after it leaves a marker, and the relay finishes the publish.
        The marker carries a fresh token, so a finisher that read an older one cannot remove it (`finish_work`)."""
        token = uuid.uuid4().hex
        if len(contact_ids) == 1:
            await self.work.update_one({"_id": contact_ids[0]}, {"$set": {"token": token}}, upsert=True)
            return token
        try:
            await self.work.insert_many([{"_id": i, "token": token} for i in contact_ids], ordered=False)
        except BulkWriteError as e:
            if any(err.get("code") != 11000 for err in e.details.get("writeErrors", [])):
                raise
            await self.work.update_many({"_id": {"$in": list(contact_ids)}}, {"$set": {"token": token}})
        return token

    # ----------------------------------------------------------------------------------------------- outbox
    async def read_outbox(self, contact_id: str) -> Written:
        """The contact's outbox as stored, to publish (`token` empty: the caller reads the marker's first)."""
        doc = await self.contacts.find_one({"_id": contact_id}, {"outbox": 1})
        stored = (doc or {}).get("outbox") or []
        return Written("", [(e["topic"], stored_envelope(e)) for e in stored], stored)

    async def pending_outbox(self, contact_id: str) -> list[tuple[str, EventEnvelope]]:
        return (await self.read_outbox(contact_id)).outbox

    async def mark_published(self, contact_id: str, entries: list[Document]) -> bool:
        """Drop these acknowledged outbox entries (as stored) from the outbox; True when nothing is left in it. They
        leave by value (`$pullAll`: FerretDB v1's `$pull` takes no condition)."""
        after = await self.contacts.find_one_and_update(
            {"_id": contact_id}, {"$pullAll": {"outbox": entries}}, return_document=ReturnDocument.AFTER
        )
        return after is None or not after.get("outbox")

    async def work_token(self, contact_id: str) -> str | None:
        marker = await self.work.find_one({"_id": contact_id})
        return None if marker is None else str(marker.get("token"))

    async def finish_work(self, contact_id: str, token: str) -> None:
        """Drop the marker once the outbox is empty, unless a writer re-marked it since (its token differs)."""
        await self.work.delete_one({"_id": contact_id, "token": token})

    async def contacts_with_work(self, limit: int = 100) -> list[str]:
        return [d["_id"] async for d in self.work.find({}, {"_id": 1}).limit(limit)]

    # ----------------------------------------------------------------------------------------------- search
    async def search(self, q: SearchQuery) -> tuple[list[Contact], str | None]:
        if q.email or q.phone:
            return await self._search_by_identifier(q)
        if self.memory is not None and self.memory.ready and self.memory_current():
            return await self._search_in_memory(q)
        flt: dict[str, Any] = {"status": "active"}
        if q.name:
            tokens = fold(q.name).split()
            if tokens:
                # every word but the last must be a whole name token; the last may be a prefix (typing)
                clauses: list[dict[str, Any]] = [{"name_tokens": t} for t in tokens[:-1]]
                clauses.append({"name_tokens": {"$regex": f"^{_escape(tokens[-1])}"}})
                flt["$and"] = clauses
        for key, value in (
            ("lifecycle_stage", q.lifecycle_stage),
            ("lead_status", q.lead_status),
            ("tags", q.tag),
            ("owner", q.owner),
        ):
            if value is not None:
                flt[key] = value
        for key, value in q.custom:
            # a query string cannot say "39" from 39: match the text and the number it reads as
            flt[f"custom_fields.{key}"] = {"$in": [value, _coerce(value)]} if isinstance(value, str) else value
        sort_field = SORTS[q.sort]
        direction = DESCENDING if q.descending else ASCENDING
        if q.cursor:
            last_value, last_id = decode_cursor(q.cursor)
            op = "$lt" if q.descending else "$gt"
            page_clause = {"$or": [{sort_field: {op: last_value}}, {sort_field: last_value, "_id": {op: last_id}}]}
            flt = {"$and": [flt, page_clause]}
        cursor = (
            self.contacts.find(flt, {"outbox": 0})
            .sort([(sort_field, direction), ("_id", direction)])
            .limit(q.limit + 1)
        )
        docs = [d async for d in cursor]
        more = len(docs) > q.limit
        docs = docs[: q.limit]
        next_cursor = encode_cursor(docs[-1][sort_field], docs[-1]["_id"]) if more and docs else None
        return [from_document(d) for d in docs], next_cursor

    async def _search_in_memory(self, q: SearchQuery) -> tuple[list[Contact], str | None]:
        """The page's ids from memory, the contacts themselves from the store, each checked again against the query
        (a change the memory has not followed yet drops a hit; it never adds a wrong one)."""
        assert self.memory is not None
        tokens = fold(q.name).split() if q.name else []
        filters = {
            kind: value
            for kind, value in (
                ("stage", q.lifecycle_stage),
                ("lead", q.lead_status),
                ("tag", q.tag),
                ("owner", q.owner),
            )
            if value is not None
        }
        custom = tuple((k, (v, _coerce(v)) if isinstance(v, str) else (v,)) for k, v in q.custom)
        ids, after = self.memory.query(
            tokens=tokens,
            filters=filters,
            custom=custom,
            sort=q.sort,
            descending=q.descending,
            limit=q.limit,
            after=decode_cursor(q.cursor) if q.cursor else None,
        )
        found = {c.id: c for c in await self.get_many(ids)}
        page = [found[i] for i in ids if i in found and _matches(found[i], q, tokens)]
        return page, (encode_cursor(*after) if after else None)

    async def _search_by_identifier(self, q: SearchQuery) -> tuple[list[Contact], str | None]:
        """An exact email or phone names a handful of contacts through `contact_keys` (an `_id` lookup); the other
        criteria, the order and the page are applied to those few here."""
        wanted = ([f"email:{q.email.strip().lower()}"] if q.email else []) + ([f"phone:{q.phone}"] if q.phone else [])
        keys = set(wanted)
        tokens = fold(q.name).split() if q.name else []
        hits = [
            c
            for c in await self.get_many(await self.ids_for(wanted))
            if keys <= set(identifier_keys(c)) and _matches(c, q, tokens)
        ]
        field = SORTS[q.sort]
        hits.sort(key=lambda c: (getattr(c, field), c.id), reverse=q.descending)
        if q.cursor:
            _, last_id = decode_cursor(q.cursor)
            start = next((i + 1 for i, c in enumerate(hits) if c.id == last_id), len(hits))
            hits = hits[start:]
        page, more = hits[: q.limit], len(hits) > q.limit
        return page, (encode_cursor(getattr(page[-1], field), page[-1].id) if more else None)

    async def likely_duplicates(self, contact: Contact, limit: int = 5) -> list[Contact]:
        """Contacts sharing an email or phone, or the same folded name and birth date."""
        keys = identifier_keys(contact)
        if not keys:
            return []
        ids = [i for i in await self.ids_for(keys) if i != contact.id]
        found = []
        for c in await self.get_many(ids[: limit * 4]):
            if c.status == "active" and set(identifier_keys(c)) & set(keys):
                found.append(c)
        return found[:limit]

    async def ids_for(self, keys: list[str]) -> list[str]:
        ids: list[str] = []
        async for d in find_by_ids(self.keys, keys):
            ids += [i for i in d.get("contacts", []) if i not in ids]
        return ids

    async def get_many(self, ids: list[str]) -> list[Contact]:
        if not ids:
            return []
        return [from_document(d) async for d in find_by_ids(self.contacts, ids, {"outbox": 0})]

    async def index_keys(self, contacts: list[Contact]) -> None:
        """Add each contact under its identifiers (stale entries are harmless: readers re-check the contact)."""
        ops = [
            UpdateOne({"_id": k}, {"$addToSet": {"contacts": c.id}}, upsert=True)
            for c in contacts
            for k in identifier_keys(c)
        ]
        if ops:
            await self.keys.bulk_write(ops, ordered=False)

    async def unindex(self, contact: Contact) -> None:
        """Erasure: the identifiers are personal data in the entries' ids, so empty entries go."""
        for k in identifier_keys(contact):
            await self.keys.update_one({"_id": k}, {"$pull": {"contacts": contact.id}})
            await self.keys.delete_one({"_id": k, "contacts": {"$size": 0}})

    async def stale(self, before: datetime, limit: int) -> list[Contact]:
        """Oldest data first: profiles whose freshest value was observed before `before`."""
        cursor = self.contacts.find({"status": "active", "freshest_at": {"$lt": before}}, {"outbox": 0})
        return [from_document(d) async for d in cursor.sort("freshest_at", ASCENDING).limit(limit)]

    async def iterate(self, flt: dict[str, Any]) -> Any:
        async for d in self.contacts.find({"status": "active", **flt}, {"outbox": 0}).sort("_id", ASCENDING):
            yield from_document(d)


def _matches(c: Contact, q: SearchQuery, tokens: list[str]) -> bool:
    """The query's criteria other than email and phone, checked on one contact."""
    names = c.search_name.split()
    if c.status != "active":
        return False
    if tokens and not (all(t in names for t in tokens[:-1]) and any(n.startswith(tokens[-1]) for n in names)):
        return False
    if any(
        v is not None and getattr(c, f) != v
        for f, v in (("lifecycle_stage", q.lifecycle_stage), ("lead_status", q.lead_status), ("owner", q.owner))
    ):
        return False
    if q.tag and q.tag not in c.tags:
        return False
    return all(
        custom_matches(c.custom_fields.get(k), (v, _coerce(v)) if isinstance(v, str) else (v,)) for k, v in q.custom
    )


def _coerce(v: str) -> Any:
    if v in ("true", "false"):
        return v == "true"
    try:
        return float(v) if "." in v else int(v)
    except ValueError:
        return v


def _escape(s: str) -> str:
    import re

    return re.escape(s)


def encode_cursor(value: Any, last_id: str) -> str:
    raw = json.dumps(
        [value.isoformat() if isinstance(value, datetime) else value, last_id, isinstance(value, datetime)]
    )
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[Any, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value, last_id, is_time = json.loads(base64.urlsafe_b64decode(padded))
        return (datetime.fromisoformat(value) if is_time else value), str(last_id)
    except (ValueError, TypeError) as e:
        raise ValueError("cursor is not one this API issued") from e


# -------------------------------------------------------------------------------------------- mapping
def _enc(path: str) -> str:
    return path.replace(".", "~")


def _dec(key: str) -> str:
    return key.replace("~", ".")


def to_document(c: Contact) -> Document:
    latest = [p["observed_at"] for p in c.provenance.values()]
    golden = c.golden
    return {
        "_id": c.id,
        "source": c.source,
        "created_at": c.created_at,
        "updated_at": c.updated_at,
        "version": c.version,
        "candidates": [{"path": path, **cand.to_doc()} for path, cands in c.candidates.items() for cand in cands],
        "suppressed": [
            {"path": path, "key": k, "at": at} for path, keys in c.suppressed.items() for k, at in keys.items()
        ],
        "golden": {_enc(k): v for k, v in golden.items()},
        "provenance": {_enc(k): v for k, v in c.provenance.items()},
        "custom_fields": c.custom_fields,
        "tags": c.tags,
        "owner": c.owner,
        "lifecycle_stage": c.lifecycle_stage,
        "lifecycle_history": c.lifecycle_history,
        "lead_status": c.lead_status,
        "lead_status_history": c.lead_status_history,
        "survey_answers": c.survey_answers,
        "quantitative": c.quantitative,
        "figures_basis": c.figures_basis.to_doc() if c.figures_basis is not None else None,
        "applied": pack("q", c.applied),
        "merges": c.merges,
        "status": c.status,
        "merged_into": c.merged_into,
        # search keys, derived on every save
        "search_name": c.search_name,
        "name_tokens": c.search_name.split(),
        "email_keys": [e["address"].lower() for e in golden.get("emails", [])],
        "phone_keys": [p["number"] for p in golden.get("phones", [])],
        "birth_date": golden.get("birth_date"),
        "freshest_at": max(latest) if latest else c.updated_at,
    }


def identifier_keys(c: Contact) -> list[str]:
    keys = [f"email:{e['address'].lower()}" for e in c.golden.get("emails", [])]
    keys += [f"phone:{p['number']}" for p in c.golden.get("phones", [])]
    if c.golden.get("birth_date") and c.search_name:
        keys.append(f"name_bd:{c.search_name}:{c.golden['birth_date']}")
    return keys


def from_document(d: Document) -> Contact:
    candidates: dict[str, list[Candidate]] = {}
    for cd in d.get("candidates", []):
        candidates.setdefault(cd["path"], []).append(Candidate.from_doc(cd))
    suppressed: dict[str, dict[str, datetime]] = {}
    for s in d.get("suppressed", []):
        suppressed.setdefault(s["path"], {})[s["key"]] = s["at"]
    return Contact(
        id=d["_id"],
        source=d["source"],
        created_at=d["created_at"],
        updated_at=d["updated_at"],
        version=d.get("version", 1),
        candidates=candidates,
        suppressed=suppressed,
        golden={_dec(k): v for k, v in d.get("golden", {}).items()},
        provenance={_dec(k): v for k, v in d.get("provenance", {}).items()},
        custom_fields=d.get("custom_fields", {}),
        tags=d.get("tags", []),
        owner=d.get("owner"),
        lifecycle_stage=d.get("lifecycle_stage"),
        lifecycle_history=d.get("lifecycle_history", []),
        lead_status=d.get("lead_status"),
        lead_status_history=d.get("lead_status_history", []),
        survey_answers=d.get("survey_answers", []),
        quantitative=d.get("quantitative", {}),
        figures_basis=Basis.from_doc(d["figures_basis"]) if d.get("figures_basis") is not None else None,
        applied=set(unpack("q", d.get("applied"))),
        merges=d.get("merges", []),
        status=d.get("status", "active"),
        merged_into=d.get("merged_into"),
    )


def iso(v: Any) -> Any:
    return v.isoformat() if isinstance(v, date) else v
