"""Matching a source record on arrival: normalise, find candidates by blocking keys, score each candidate person,
decide (link above the upper threshold, review between the thresholds, new person below; conflicts always go to
review, and a record that would bridge persons joins the best while the others go to review), then store the link
and publish the decision with its evidence."""

from __future__ import annotations

import asyncio
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
from cdp_common.store import find_by_ids
from cdp_common.topics import IDENTITY_EVENTS
from pymongo import UpdateOne

from cdp_identity.adapters.graph import IdentityGraph, Link, candidates_in, frequencies_of, standing_candidates
from cdp_identity.domain.normalise import Profile, profile_of
from cdp_identity.domain.scoring import Frequencies, MatchingConfig, Score, compare

log = logging.getLogger("cdp.identity")
NS = uuid.UUID("8f8b3f6e-8f0c-4a5e-9b43-1f2d7a0c3e55")
SOURCE = "cdp/identity"


@dataclass(frozen=True)
class Decision:
    """Where a record goes (`person_id`, maybe a new person) and which other persons a member of staff should
    compare with that person (`review_candidates`). `bridge`: more than one person scored above the link threshold,
    so the record joined the best and the others wait for a review instead of being merged automatically."""

    person_id: str
    new_person: bool
    score: Score | None
    review_candidates: list[tuple[str, Score]]
    bridge: bool = False


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
    """`_match_together`'s reads for one record: its blocking keys (for candidates and frequencies alike) and name
    counts at once, then the candidate persons, then the records their documents lack."""
    keys = profile.blocking_keys()
    blocks, counts = await asyncio.gather(graph.blocks_of(keys), graph.token_counts(profile.name_folded))
    listed = candidates_in(blocks, keys)
    standing, docs = await graph.standing_persons(listed)
    candidates = standing_candidates(listed, standing)
    people = await graph.profiles_of_many(candidates, persons=docs)
    return score_all(profile, candidates, people, cfg, frequencies_of(profile, counts, blocks))


def score_all(
    profile: Profile, candidates: list[str], people: dict[str, list[Profile]], cfg: MatchingConfig, freq: Frequencies
) -> list[tuple[str, Score]]:
    """Each candidate person (made of its records in `people`) scored against the record, best first."""
    scored: list[tuple[str, Score]] = []
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
    if above:
        # A record above the threshold for several persons would bridge them. It joins the best one (its evidence
        # for that one is as strong as for any record that links), and whether the persons are one goes to review:
        # they are never merged automatically. Parking the record as a third person would leave it apart from
        # both, and on the benchmark the best person was its own in every such case.
        best, *others = above
        return Decision(best[0], False, best[1], others + band, bridge=bool(others))
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
    link = _link_of(event, decision, cfg, existing is not None)
    attributes = o.attributes.model_dump(mode="json")
    await graph.link_many(
        [Link(profile, decision.person_id, attributes, o.observed_at, link, decision.new_person, existing is not None)]
    )
    events = [_linked_event(event, o, decision, link, cfg)]
    if decision.review_candidates:
        review_id, review = _review_of(profile, decision, cfg)
        await graph.reviews.update_one({"_id": review_id}, {"$setOnInsert": review}, upsert=True)
        events.append(_review_event(event, review_id, review, decision))
    await publisher.publish_many([(IDENTITY_EVENTS.name, e) for e in events])
    return decision


@dataclass(frozen=True)
class Observed:
    """One record to match: its event, what it says, and the id a new person would take (a contact's own)."""

    event: EventEnvelope
    observation: SourceRecordObserved
    new_person_id: str | None = None


async def handle_observed_many(
    items: list[Observed], graph: IdentityGraph, publisher: EventPublisher
) -> list[Decision]:
    """`handle_observed` of a poll's records with a few store round trips for many of them at once (`_match_together`).

    A record sharing its key or a blocking key with an earlier record of the poll could match what that one
    creates, so it waits for a later round, after the earlier one is stored; a record whose new person lost an
    identifier to another replica goes on its own right after its round (`_claim_identifiers` then joins it to the
    owner). Each person's records are thus decided in the poll's order. Decisions in the items' order."""
    cfg = await graph.matching_config(max_age=1.0)
    profiles = [profile_from_observation(it.observation) for it in items]
    decisions: dict[int, Decision] = {}
    waiting = list(range(len(items)))
    while waiting:
        now, waiting = _independent(profiles, waiting)
        lost = await _match_together(items, profiles, now, cfg, graph, publisher, decisions)
        for i in lost:
            it = items[i]
            decisions[i] = await handle_observed(it.event, it.observation, graph, publisher, it.new_person_id)
    return [decisions[i] for i in range(len(items))]


async def _match_together(
    items: list[Observed],
    profiles: list[Profile],
    together: list[int],
    cfg: MatchingConfig,
    graph: IdentityGraph,
    publisher: EventPublisher,
    decisions: dict[int, Decision],
) -> list[int]:
    """Match records that share no key, in a few steps of store round trips whatever their number: the records,
    blocking keys and token counts at once; the candidate persons (following merge redirects); their records; the
    claim of the new persons' identifiers; the records written; the persons, blocking keys, counts and reviews at
    once; one publish. Fills `decisions`; returns the records whose new person lost an identifier claim, left
    undecided."""

    async def records_seen() -> dict[str, str]:
        keys = [profiles[i].key for i in together]
        return {d["_id"]: str(d["person_id"]) async for d in find_by_ids(graph.records, keys, {"person_id": 1})}

    # independent reads at once: records seen before, blocking keys and name counts (of every record of the round:
    # the few seen before need none of it, but waiting to leave them out would cost a round trip)
    existing, blocks, counts = await asyncio.gather(
        records_seen(),
        graph.blocks_of([k for i in together for k in profiles[i].blocking_keys()]),
        graph.token_counts({t for i in together for t in profiles[i].name_folded}),
    )
    fresh = [i for i in together if profiles[i].key not in existing]
    listed = {i: candidates_in(blocks, profiles[i].blocking_keys()) for i in fresh}
    standing, standing_docs = await graph.standing_persons(
        list({*existing.values(), *(p for ps in listed.values() for p in ps)})
    )
    candidates = {i: standing_candidates(listed[i], standing) for i in fresh}
    people = await graph.profiles_of_many(list({p for ps in candidates.values() for p in ps}), persons=standing_docs)

    decided: dict[int, Decision] = {}
    for i in together:
        if profiles[i].key in existing:  # seen before: it stays with its person; its values are refreshed
            decided[i] = Decision(standing[existing[profiles[i].key]], False, None, [])
    for i in fresh:
        freq = frequencies_of(profiles[i], counts, blocks)
        scored = score_all(profiles[i], candidates[i], people, cfg, freq)
        decided[i] = decide(profiles[i], scored, cfg, items[i].new_person_id)
    wanted = {
        ident: decided[i].person_id
        for i in fresh
        if decided[i].new_person
        for ident in profiles[i].strong_identifiers()
    }
    owners = await graph.claim_many(wanted)
    lost = [
        i
        for i in fresh
        if decided[i].new_person
        and any(owners[ident] != decided[i].person_id for ident in profiles[i].strong_identifiers())
    ]
    for i in lost:
        del decided[i]

    links: list[Link] = []
    reviews: list[UpdateOne] = []
    events: list[EventEnvelope] = []
    for i in sorted(decided):
        it, decision, known = items[i], decided[i], profiles[i].key in existing
        link = _link_of(it.event, decision, cfg, known)
        o = it.observation
        attributes = o.attributes.model_dump(mode="json")
        links.append(Link(profiles[i], decision.person_id, attributes, o.observed_at, link, decision.new_person, known))
        events.append(_linked_event(it.event, o, decision, link, cfg))
        if decision.review_candidates:
            review_id, review = _review_of(profiles[i], decision, cfg)
            reviews.append(UpdateOne({"_id": review_id}, {"$setOnInsert": review}, upsert=True))
            events.append(_review_event(it.event, review_id, review, decision))
    await graph.link_many(links, reviews)
    await publisher.publish_many([(IDENTITY_EVENTS.name, e) for e in events])
    decisions.update(decided)
    return lost


def _independent(profiles: list[Profile], waiting: list[int]) -> tuple[list[int], list[int]]:
    """Of the waiting records (indexes, in order), those that share no key with an earlier waiting record, to be
    matched now, and the others, to wait for them."""
    now: list[int] = []
    later: list[int] = []
    taken: set[str] = set()
    for i in waiting:
        keys = {profiles[i].key, *profiles[i].blocking_keys()}
        (later if keys & taken else now).append(i)
        taken |= keys
    return now, later


def _link_of(event: EventEnvelope, decision: Decision, cfg: MatchingConfig, known: bool) -> dict[str, Any]:
    """What a link stores: the rule that made it, its score and evidence, the rule version, the event."""
    return {
        "rule": decision.score.rule if decision.score else ("existing" if known else "new_person"),
        "score": decision.score.total if decision.score else None,
        "evidence": [e.__dict__ for e in decision.score.evidence] if decision.score else [],
        "rule_version": cfg.version,
        "event_id": event.id,
        "linked_at": utcnow(),
    }


def _linked_event(
    event: EventEnvelope, o: SourceRecordObserved, decision: Decision, link: dict[str, Any], cfg: MatchingConfig
) -> EventEnvelope:
    return make_event(
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
            evidence=[EvidenceOut(**e) for e in link["evidence"]],
            attributes=SourceAttributes.model_validate(o.attributes.model_dump()),
        ),
    )


def _review_of(profile: Profile, decision: Decision, cfg: MatchingConfig) -> tuple[str, dict[str, Any]]:
    """The review a person must do (its id and document): the candidates with their scores and evidence."""
    best = decision.review_candidates[0][1]
    reason = best.conflict or (
        "would join several persons"
        if decision.bridge and best.total >= cfg.link_threshold
        else "score between the thresholds"
    )
    return uuid.uuid5(NS, f"review:{profile.key}").hex, {
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


def _review_event(event: EventEnvelope, review_id: str, review: dict[str, Any], decision: Decision) -> EventEnvelope:
    best = decision.review_candidates[0][1]
    return make_event(
        source=SOURCE,
        event_type="identity.review_needed",
        subject=decision.person_id,
        event_id=uuid.uuid5(NS, f"review:{event.id}").hex,
        data=ReviewNeeded(
            review_id=review_id,
            record_key=review["record_key"],
            candidate_person_ids=[p for p, _ in decision.review_candidates],
            score=best.total,
            reason=review["reason"],
            evidence=[EvidenceOut(**e.__dict__) for e in best.evidence],
        ),
    )


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
                return Decision(owner, False, best, decision.review_candidates, decision.bridge)
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
