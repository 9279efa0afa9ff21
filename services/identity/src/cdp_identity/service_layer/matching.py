"""Matching a source record on arrival: normalise, find candidates by blocking keys, score each candidate person,
decide (link above the upper threshold, review between the thresholds, new person below; conflicts and bridges
always go to review), then store the link and publish the decision with its evidence."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from cdp_common.contracts.identity import Evidence as EvidenceOut
from cdp_common.contracts.identity import (
    PersonsMerged,
    RecordLinked,
    ReviewNeeded,
    SourceAttributes,
    SourceRecordObserved,
)
from cdp_common.events import EventEnvelope, make_event, utcnow
from cdp_common.messaging import EventPublisher
from cdp_common.topics import IDENTITY_EVENTS

from cdp_identity.adapters.graph import IdentityGraph
from cdp_identity.domain.normalise import Profile, profile_of
from cdp_identity.domain.scoring import Frequencies, MatchingConfig, Score, compare

log = logging.getLogger("cdp.identity")
NS = uuid.UUID("8f8b3f6e-8f0c-4a5e-9b43-1f2d7a0c3e55")
SOURCE = "cdp/identity"


@dataclass(frozen=True)
class Decision:
    person_id: str
    new_person: bool
    score: Score | None
    review_candidates: list[tuple[str, Score]]


def profile_from_observation(o: SourceRecordObserved) -> Profile:
    a = o.attributes
    return profile_of(
        f"{o.source}:{o.record_id}",
        o.source,
        full_name=a.full_name,
        birth_date=a.birth_date,
        emails=a.emails,
        phones=a.phones,
        verified_emails=o.verified_emails,
        verified_phones=o.verified_phones,
        external_ids=o.external_ids,
        city=next((x.get("city") for x in a.addresses if x.get("city")), None),
    )


def person_view(profile: Profile, others: list[Profile]) -> Profile:
    """One candidate person seen as a whole: the union of its records' identifiers, with the name and birth date
    of the record that agrees best with the new one. A record with only an email then still meets the person whose
    other record holds that email next to the phone and name."""

    def overlap(o: Profile) -> tuple[int, int]:
        return (len(o.name_folded & profile.name_folded), int(o.birth_date == profile.birth_date))

    best_name = max(others, key=overlap)
    births = [o.birth_date for o in others if o.birth_date]
    birth = (
        profile.birth_date
        if profile.birth_date in births
        else (best_name.birth_date or (births[0] if births else None))
    )
    external: dict[str, str] = {}
    for o in others:
        external.update(o.external_ids)
    return Profile(
        key=others[0].key,
        source=others[0].source,
        name_exact=best_name.name_exact,
        name_folded=best_name.name_folded,
        birth_date=birth,
        emails=frozenset().union(*(o.emails for o in others)),
        phones=frozenset().union(*(o.phones for o in others)),
        verified_emails=frozenset().union(*(o.verified_emails for o in others)),
        verified_phones=frozenset().union(*(o.verified_phones for o in others)),
        external_ids=external,
        city=best_name.city,
    )


def score_against(profile: Profile, others: list[Profile], cfg: MatchingConfig, freq: Frequencies) -> Score:
    """The record against a person made of `others` (its other records)."""
    # merge protection looks at every record: one conflicting record is enough to keep a person apart
    conflict = next((s.conflict for o in others if (s := compare(profile, o, cfg, freq)).conflict), None)
    whole = compare(profile, person_view(profile, others), cfg, freq)
    return Score(whole.total, whole.evidence, whole.rule, conflict)


async def score_candidates(profile: Profile, graph: IdentityGraph, cfg: MatchingConfig) -> list[tuple[str, Score]]:
    freq = await graph.frequencies(profile)
    scored: list[tuple[str, Score]] = []
    candidates = await graph.candidates(profile.blocking_keys())
    people = await graph.profiles_of_many(candidates)
    for pid in candidates:
        others = [o for o in people.get(pid, []) if o.key != profile.key]
        if others:
            scored.append((pid, score_against(profile, others, cfg, freq)))
    return sorted(scored, key=lambda x: -x[1].total)


def decide(
    profile: Profile, scored: list[tuple[str, Score]], cfg: MatchingConfig, new_person_id: str | None = None
) -> Decision:
    above = [(p, s) for p, s in scored if s.total >= cfg.link_threshold and not s.conflict]
    band = [(p, s) for p, s in scored if s.total >= cfg.review_threshold and (p, s) not in above]
    new_id = new_person_id or uuid.uuid5(NS, profile.key).hex
    if len(above) == 1:
        return Decision(above[0][0], False, above[0][1], band)
    if len(above) > 1:  # the record would bridge persons: a person decides
        return Decision(new_id, True, None, above + band)
    return Decision(new_id, True, None, band)


async def handle_observed(
    event: EventEnvelope,
    o: SourceRecordObserved,
    graph: IdentityGraph,
    publisher: EventPublisher,
    new_person_id: str | None = None,
) -> Decision:
    cfg = await graph.matching_config()
    profile = profile_from_observation(o)
    existing = await graph.record(profile.key)
    if existing is not None:  # seen before: it stays with its person; its values are refreshed
        person_id = await graph.resolve(existing["person_id"])
        decision = Decision(person_id, False, None, [])
    else:
        decision = decide(profile, await score_candidates(profile, graph, cfg), cfg, new_person_id)
        if decision.new_person:
            decision = await _claim_identifiers(profile, decision, graph, cfg)
    evidence: list[dict[str, Any]] = [e.__dict__ for e in decision.score.evidence] if decision.score else []
    link: dict[str, Any] = {
        "rule": decision.score.rule if decision.score else ("existing" if existing else "new_person"),
        "score": decision.score.total if decision.score else None,
        "evidence": evidence,
        "rule_version": cfg.version,
        "event_id": event.id,
        "linked_at": utcnow(),
    }
    await graph.link(
        profile, decision.person_id, o.attributes.model_dump(mode="json"), o.observed_at, link, decision.new_person
    )
    events = [
        make_event(
            source=SOURCE,
            event_type="identity.record_linked",
            subject=decision.person_id,
            event_id=uuid.uuid5(NS, f"linked:{event.id}").hex,
            traceid=event.traceid,
            data=RecordLinked(
                person_id=decision.person_id,
                source=o.source,
                record_id=o.record_id,
                observed_at=o.observed_at,
                new_person=decision.new_person,
                rule=link["rule"],
                rule_version=cfg.version,
                score=link["score"],
                evidence=[EvidenceOut(**e) for e in evidence],
                attributes=SourceAttributes.model_validate(o.attributes.model_dump()),
            ),
        )
    ]
    if decision.review_candidates:
        review_id = uuid.uuid5(NS, f"review:{profile.key}").hex
        best = decision.review_candidates[0][1]
        reason = best.conflict or (
            "would join several persons"
            if len(decision.review_candidates) > 1 and best.total >= cfg.link_threshold
            else "score between the thresholds"
        )
        await graph.reviews.update_one(
            {"_id": review_id},
            {
                "$setOnInsert": {
                    "record_key": profile.key,
                    "person_id": decision.person_id,
                    "candidates": [
                        {
                            "person_id": p,
                            "score": s.total,
                            "rule": s.rule,
                            "conflict": s.conflict,
                            "evidence": [e.__dict__ for e in s.evidence],
                        }
                        for p, s in decision.review_candidates
                    ],
                    "reason": reason,
                    "status": "open",
                    "created_at": utcnow(),
                }
            },
            upsert=True,
        )
        events.append(
            make_event(
                source=SOURCE,
                event_type="identity.review_needed",
                subject=decision.person_id,
                event_id=uuid.uuid5(NS, f"review:{event.id}").hex,
                data=ReviewNeeded(
                    review_id=review_id,
                    record_key=profile.key,
                    candidate_person_ids=[p for p, _ in decision.review_candidates],
                    score=best.total,
                    reason=reason,
                    evidence=[EvidenceOut(**e.__dict__) for e in best.evidence],
                ),
            )
        )
    await publisher.publish_many([(IDENTITY_EVENTS.name, e) for e in events])
    return decision


async def _claim_identifiers(
    profile: Profile, decision: Decision, graph: IdentityGraph, cfg: MatchingConfig
) -> Decision:
    """Two replicas may see two records of one new person at the same moment: the first to claim a strong
    identifier owns it, and the other links to that person (unless merge protection forbids)."""
    for ident in profile.strong_identifiers():
        owner = await graph.claim(ident, decision.person_id)
        if owner != decision.person_id:
            others = await graph.profiles_of(owner)
            freq = await graph.frequencies(profile)
            scores = [compare(profile, o, cfg, freq) for o in others]
            if not others or not any(s.conflict for s in scores):
                best = max(scores, key=lambda s: s.total) if scores else None
                return Decision(owner, False, best, decision.review_candidates)
    return decision


async def merge_persons(
    survivor: str,
    merged: str,
    by: str,
    graph: IdentityGraph,
    publisher: EventPublisher,
    merge_id: str | None = None,
    evidence: list[dict[str, Any]] | None = None,
) -> str:
    merge_id = merge_id or uuid.uuid4().hex
    await graph.merge(merge_id, survivor, merged, by, evidence or [])
    await publisher.publish(
        IDENTITY_EVENTS.name,
        make_event(
            source=SOURCE,
            event_type="identity.persons_merged",
            subject=survivor,
            event_id=uuid.uuid5(NS, f"merge:{merge_id}").hex,
            data=PersonsMerged(
                merge_id=merge_id,
                survivor_id=survivor,
                merged_id=merged,
                by=by,
                merged_at=utcnow(),
                evidence=[EvidenceOut(**e) for e in evidence or []],
            ),
        ),
    )
    return merge_id
