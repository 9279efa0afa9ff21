"""The contact aggregate (the golden record). One contact is one document: its candidates per field with their
provenance, the golden values chosen from them, lifecycle and lead status with history, tags, owner, custom fields.
Methods change it in memory and record what happened in `events`; adapters store it atomically and publish them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cdp_common.contracts.contacts import (
    ContactCreated,
    ContactLeadStatusChanged,
    ContactLifecycleChanged,
    ContactMerged,
    ContactSplit,
    ContactUpdated,
    EmailOut,
    PhoneOut,
)
from cdp_common.digests import digest
from cdp_common.events import EventEnvelope, make_event
from cdp_common.identifiers import fold

from cdp_contacts.domain import quantitative as figures
from cdp_contacts.domain.lifecycle import rank
from cdp_contacts.domain.survivorship import LIST_FIELDS, SCALAR_FIELDS, Candidate, SurvivorshipPolicy

EVENT_SOURCE = "cdp/contacts"


@dataclass
class Contact:
    id: str
    source: str
    created_at: datetime
    updated_at: datetime
    version: int = 0
    candidates: dict[str, list[Candidate]] = field(default_factory=dict)
    suppressed: dict[str, dict[str, datetime]] = field(default_factory=dict)
    golden: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, dict[str, Any]] = field(default_factory=dict)
    custom_fields: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    owner: str | None = None
    lifecycle_stage: str | None = None
    lifecycle_history: list[dict[str, Any]] = field(default_factory=list)
    lead_status: str | None = None
    lead_status_history: list[dict[str, Any]] = field(default_factory=list)
    survey_answers: list[dict[str, Any]] = field(default_factory=list)
    quantitative: dict[str, Any] = field(default_factory=dict)
    # what keeps `quantitative` current from new interactions alone (None: a profile stored before bases existed)
    figures_basis: figures.Basis | None = field(default_factory=figures.Basis)
    applied: set[int] = field(default_factory=set)  # digests of the interactions already on the profile
    merges: list[dict[str, Any]] = field(default_factory=list)
    status: str = "active"
    merged_into: str | None = None
    events: list[EventEnvelope] = field(default_factory=list)

    def take_interactions(self, entries: list[tuple[str, str, datetime, dict[str, Any]]], now: datetime) -> list[bool]:
        """Interactions (event id, type, time, data) onto the figures, each once however often it is delivered.
        Returns, per entry, whether it was new to the profile. Needs `figures_basis`."""
        assert self.figures_basis is not None, "a profile without a basis is counted from its timeline"
        new, fresh = [], []
        for event_id, event_type, at, data in entries:
            key = digest(event_id)
            new.append(key not in self.applied)
            if new[-1]:
                self.applied.add(key)
                if event_type in figures.QUANTITATIVE_TYPES:
                    fresh.append({"type": event_type, "at": at, "data": data})
        if fresh:
            self.quantitative = figures.fold(self.quantitative, self.figures_basis, fresh, now)
        return new

    def count_timeline(self, entries: list[dict[str, Any]], now: datetime) -> None:
        """Figures, basis and applied interactions from the whole timeline (entries as stored)."""
        counted = [e for e in entries if e["type"] in figures.QUANTITATIVE_TYPES]
        self.quantitative, self.figures_basis = figures.computed_with_basis(counted, now)
        self.applied = {digest(e["event_id"]) for e in entries}

    # ----------------------------------------------------------------------------------------------- creation
    @staticmethod
    def new_id() -> str:
        return uuid.uuid4().hex

    @classmethod
    def create(
        cls,
        *,
        values: dict[str, Any],
        source: str,
        now: datetime,
        policy: SurvivorshipPolicy,
        staff: bool,
        contact_id: str | None = None,
        trace_id: str | None = None,
        observed_at: datetime | None = None,
    ) -> Contact:
        c = cls(id=contact_id or cls.new_id(), source=source, created_at=now, updated_at=now)
        c._contribute(values, source=source, observed_at=observed_at or now, staff=staff, origin=c.id)
        c._recompute(policy)
        c.events.append(
            make_event(
                source=EVENT_SOURCE,
                event_type="contact.created",
                subject=c.id,
                time=now,
                traceid=trace_id,
                data=ContactCreated(
                    contact_id=c.id,
                    full_name=c.golden.get("full_name") or "",
                    emails=[EmailOut.model_validate(e) for e in c.golden.get("emails", [])],
                    phones=[PhoneOut.model_validate(p) for p in c.golden.get("phones", [])],
                    birth_date=c.golden.get("birth_date"),
                    preferred_channel=c.golden.get("preferred_channel"),
                    lifecycle_stage=None,
                    source=source,
                    created_at=now,
                ),
            )
        )
        return c

    # ------------------------------------------------------------------------------------------ field values
    def contribute(
        self,
        values: dict[str, Any],
        *,
        source: str,
        observed_at: datetime,
        staff: bool,
        policy: SurvivorshipPolicy,
        now: datetime,
        trace_id: str | None = None,
        origin: str | None = None,
    ) -> dict[str, Any]:
        """A source (or a staff edit) states values; survivorship decides what changes. Returns the changes."""
        before = dict(self.golden)
        self._contribute(values, source=source, observed_at=observed_at, staff=staff, origin=origin or self.id)
        self._recompute(policy)
        return self._record_update(before, source, now, trace_id)

    def _contribute(
        self, values: dict[str, Any], *, source: str, observed_at: datetime, staff: bool, origin: str
    ) -> None:
        for path, value in values.items():
            if path not in SCALAR_FIELDS and path not in LIST_FIELDS:
                raise KeyError(path)
            cands = self.candidates.setdefault(path, [])
            if staff and path in LIST_FIELDS:
                # A staff list replaces the list: what it leaves out is suppressed until a source states it anew.
                key_of = LIST_FIELDS[path]
                kept = {key_of(v) for v in value or []}
                current = {key_of(v) for v in self.golden.get(path, [])}
                for k in current - kept:
                    self.suppressed.setdefault(path, {})[k] = observed_at
                for k in kept:
                    self.suppressed.get(path, {}).pop(k, None)
            new = Candidate(value, source, observed_at, origin, staff)
            # One candidate per (source, origin, staff): a newer statement replaces the older one.
            same = [i for i, c in enumerate(cands) if (c.source, c.origin, c.staff) == (source, origin, staff)]
            if same:
                if cands[same[0]].observed_at > observed_at:
                    continue  # an older statement arriving late never overrides a newer one
                cands[same[0]] = new
            else:
                cands.append(new)

    def _recompute(self, policy: SurvivorshipPolicy) -> None:
        golden: dict[str, Any] = {}
        provenance: dict[str, dict[str, Any]] = {}
        for path in SCALAR_FIELDS:
            choice = policy.choose(path, self.candidates.get(path, []))
            if choice.value is not None:
                golden[path] = choice.value
                provenance[path] = {
                    "source": choice.source,
                    "observed_at": choice.observed_at,
                    "verified_at": choice.verified_at,
                    "rule": f"{choice.rule} (policy v{policy.version}, {choice.considered} candidate(s))",
                }
        for path in LIST_FIELDS:
            items, choices = policy.union(path, self.candidates.get(path, []), self.suppressed.get(path, {}))
            if path in ("emails", "phones", "addresses"):
                items = _one_flagged(items, "primary" if path != "addresses" else "shipping", path == "addresses")
            golden[path] = items
            for i, ch in enumerate(choices):
                provenance[f"{path}[{i}]"] = {
                    "source": ch.source,
                    "observed_at": ch.observed_at,
                    "verified_at": ch.verified_at,
                    "rule": f"union ({ch.rule} order, policy v{policy.version})",
                }
        self.golden = golden
        self.provenance = provenance

    def _record_update(
        self, before: dict[str, Any], source: str, now: datetime, trace_id: str | None
    ) -> dict[str, Any]:
        changes = {k: self.golden.get(k) for k in set(before) | set(self.golden) if before.get(k) != self.golden.get(k)}
        if changes:
            self.updated_at = now
            self._emit(
                "contact.updated",
                ContactUpdated(
                    contact_id=self.id, changes=changes, source=source, version=self.version + 1, updated_at=now
                ),
                now,
                trace_id,
            )
        return changes

    def explain(self, path: str, policy: SurvivorshipPolicy) -> dict[str, Any]:
        cands = self.candidates.get(path, [])
        ordered, rule = policy.ordered(path, cands) if cands else ([], "no_value")
        return {
            "field": path,
            "value": self.golden.get(path),
            "rule": rule,
            "strategy": policy.strategy_for(path),
            "policy_version": policy.version,
            "candidates": [
                {
                    "value": c.value,
                    "source": c.source,
                    "observed_at": c.observed_at,
                    "staff_edit": c.staff,
                    "from_contact": c.origin,
                    "rank": i + 1,
                }
                for i, c in enumerate(ordered)
            ],
            "suppressed": sorted(self.suppressed.get(path, {})),
        }

    # ---------------------------------------------------------------------------------- lifecycle and status
    def set_lifecycle(self, stage: str, *, by: str, reason: str, now: datetime, trace_id: str | None = None) -> bool:
        """Staff may set any stage, backwards too, with a reason."""
        if stage == self.lifecycle_stage:
            return False
        self._move_stage(stage, by=by, reason=reason, automatic=False, event_id=None, now=now, trace_id=trace_id)
        return True

    def advance_lifecycle(self, stage: str, *, cause_type: str, cause_event_id: str, now: datetime) -> bool:
        """Automatic: forward only, and once per causing event."""
        if rank(stage) <= rank(self.lifecycle_stage):
            return False
        if any(h.get("event_id") == cause_event_id for h in self.lifecycle_history):
            return False
        self._move_stage(
            stage,
            by=f"event:{cause_type}",
            reason=None,
            automatic=True,
            event_id=cause_event_id,
            now=now,
            trace_id=None,
        )
        return True

    def _move_stage(
        self,
        stage: str,
        *,
        by: str,
        reason: str | None,
        automatic: bool,
        event_id: str | None,
        now: datetime,
        trace_id: str | None,
    ) -> None:
        before = self.lifecycle_stage
        self.lifecycle_stage = stage
        self.lifecycle_history.append(
            {
                "from": before,
                "to": stage,
                "at": now,
                "by": by,
                "event_id": event_id,
                "reason": reason,
                "automatic": automatic,
                "origin": self.id,
            }
        )
        self.updated_at = now
        self._emit(
            "contact.lifecycle_changed",
            ContactLifecycleChanged(
                contact_id=self.id,
                from_stage=before,  # type: ignore[arg-type]
                to_stage=stage,  # type: ignore[arg-type]
                automatic=automatic,
                by=by,
                cause_event_id=event_id,
                reason=reason,
                changed_at=now,
            ),
            now,
            trace_id,
        )

    def set_lead_status(
        self, status: str, *, by: str, note: str | None, now: datetime, trace_id: str | None = None
    ) -> None:
        """Every call is kept, even to the same status: today's failed call matters to tomorrow's colleague."""
        before = self.lead_status
        self.lead_status = status
        self.lead_status_history.append(
            {"from": before, "to": status, "at": now, "by": by, "reason": note, "automatic": False, "origin": self.id}
        )
        self.updated_at = now
        self._emit(
            "contact.lead_status_changed",
            ContactLeadStatusChanged(
                contact_id=self.id,
                from_status=before,  # type: ignore[arg-type]
                to_status=status,  # type: ignore[arg-type]
                by=by,
                note=note,
                changed_at=now,
            ),
            now,
            trace_id,
        )

    def organise(
        self,
        *,
        now: datetime,
        tags: list[str] | None = None,
        owner: str | None = None,
        owner_given: bool = False,
        custom_fields: dict[str, Any] | None = None,
        trace_id: str | None = None,
    ) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        if tags is not None:
            clean = sorted({t.strip() for t in tags if t.strip()}, key=str.casefold)
            if clean != self.tags:
                self.tags = clean
                changes["tags"] = clean
        if owner_given and owner != self.owner:
            self.owner = owner
            changes["owner"] = owner
        if custom_fields:
            for k, v in custom_fields.items():
                if self.custom_fields.get(k) != v:
                    changes[f"custom_fields.{k}"] = v
                    if v is None:
                        self.custom_fields.pop(k, None)
                    else:
                        self.custom_fields[k] = v
        if changes:
            self.updated_at = now
            self._emit(
                "contact.updated",
                ContactUpdated(
                    contact_id=self.id, changes=changes, source="staff", version=self.version + 1, updated_at=now
                ),
                now,
                trace_id,
            )
        return changes

    def record_survey_answers(self, answers: list[dict[str, Any]]) -> None:
        """Latest answer per (survey, question); each answer keeps the contact it came with."""
        for a in answers:
            self.survey_answers = [
                x
                for x in self.survey_answers
                if (x["survey_id"], x["question_id"]) != (a["survey_id"], a["question_id"])
            ]
            self.survey_answers.append({**a, "origin": a.get("origin", self.id)})
        self.survey_answers.sort(key=lambda x: x["answered_at"], reverse=True)

    # ------------------------------------------------------------------------------------------ merge / split
    def absorb(self, other: Contact, *, merge_id: str, policy: SurvivorshipPolicy, now: datetime) -> bool:
        """`other` joins this contact: its candidates, histories, answers and organising data, each still marked
        with where it came from so `release` can give back exactly what was its own."""
        if any(m["merge_id"] == merge_id for m in self.merges):
            return False
        before = dict(self.golden)
        for path, cands in other.candidates.items():
            self.candidates.setdefault(path, []).extend(cands)
        for path, sup in other.suppressed.items():
            for k, at in sup.items():
                self.suppressed.setdefault(path, {}).setdefault(k, at)
        self.lifecycle_history = sorted(self.lifecycle_history + other.lifecycle_history, key=lambda h: h["at"])
        self.lead_status_history = sorted(self.lead_status_history + other.lead_status_history, key=lambda h: h["at"])
        self.survey_answers = sorted(
            self.survey_answers + other.survey_answers, key=lambda a: a["answered_at"], reverse=True
        )
        added_tags = sorted(set(other.tags) - set(self.tags))
        added_custom = {k: v for k, v in other.custom_fields.items() if k not in self.custom_fields}
        self.tags = sorted(set(self.tags) | set(other.tags), key=str.casefold)
        self.custom_fields = {**added_custom, **self.custom_fields}
        owner_taken = self.owner is None and other.owner is not None
        if owner_taken:
            self.owner = other.owner
        stage_before = self.lifecycle_stage
        if rank(other.lifecycle_stage) > rank(self.lifecycle_stage):
            self.lifecycle_stage = other.lifecycle_stage
        status_before = self.lead_status
        if self.lead_status is None:
            self.lead_status = other.lead_status
        self.merges.append(
            {
                "merge_id": merge_id,
                "merged_id": other.id,
                "at": now,
                "added_tags": added_tags,
                "added_custom": sorted(added_custom),
                "owner_taken": owner_taken,
                "stage_before": stage_before,
                "status_before": status_before,
                "quantitative_before": dict(self.quantitative),
            }
        )
        self._recompute(policy)
        self.updated_at = now
        self._emit(
            "contact.merged",
            ContactMerged(contact_id=self.id, merged_id=other.id, merge_id=merge_id, merged_at=now),
            now,
        )
        self._record_update(before, "identity", now, None)
        return True

    def release(self, merge_id: str, *, policy: SurvivorshipPolicy, now: datetime) -> str | None:
        """Undo `absorb`: drop everything that came from the merged contact. Returns its id (None if unknown)."""
        merge = next((m for m in self.merges if m["merge_id"] == merge_id), None)
        if merge is None:
            return None
        gone = merge["merged_id"]
        before = dict(self.golden)
        for path in list(self.candidates):
            self.candidates[path] = [c for c in self.candidates[path] if c.origin != gone]
        self.lifecycle_history = [h for h in self.lifecycle_history if h.get("origin") != gone]
        self.lead_status_history = [h for h in self.lead_status_history if h.get("origin") != gone]
        self.survey_answers = [a for a in self.survey_answers if a.get("origin") != gone]
        self.tags = [t for t in self.tags if t not in merge["added_tags"]]
        for k in merge["added_custom"]:
            self.custom_fields.pop(k, None)
        if merge["owner_taken"]:
            self.owner = None
        if self.lifecycle_stage != merge["stage_before"] and not any(
            h.get("origin") == self.id and h["at"] > merge["at"] for h in self.lifecycle_history
        ):
            self.lifecycle_stage = merge["stage_before"]
        if not any(h.get("origin") == self.id and h["at"] > merge["at"] for h in self.lead_status_history):
            self.lead_status = merge["status_before"]
        self.merges = [m for m in self.merges if m["merge_id"] != merge_id]
        self._recompute(policy)
        self.updated_at = now
        self._emit(
            "contact.split", ContactSplit(contact_id=self.id, restored_id=gone, merge_id=merge_id, split_at=now), now
        )
        self._record_update(before, "identity", now, None)
        return str(gone)

    # ----------------------------------------------------------------------------------------------- helpers
    def _emit(self, event_type: str, data: Any, now: datetime, trace_id: str | None = None) -> None:
        self.events.append(
            make_event(
                source=EVENT_SOURCE, event_type=event_type, subject=self.id, time=now, traceid=trace_id, data=data
            )
        )

    @property
    def full_name(self) -> str:
        return str(self.golden.get("full_name") or "")

    @property
    def search_name(self) -> str:
        return fold(self.full_name)


def _one_flagged(items: list[Any], flag: str, optional: bool) -> list[Any]:
    """Exactly one primary email/phone when there is any (the first flagged, else the first); at most one
    shipping address (the first flagged)."""
    if not items:
        return items
    chosen = next((i for i, it in enumerate(items) if it.get(flag)), None if optional else 0)
    return [{**it, flag: i == chosen} for i, it in enumerate(items)]
