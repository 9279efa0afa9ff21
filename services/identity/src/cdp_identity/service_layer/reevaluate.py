"""What a change of thresholds or weights would move, before it is made: every link the matcher made (a record that
joined an existing person) is scored again against the rest of its person, and every open review against its
candidates, and each is scored and classified under the configuration in force and under the proposed one: `link`
(at or above the link threshold, no conflict), `review` (at or above the review threshold, or a conflict), `apart`
(below). Nothing is changed: the report says how many would move between outcomes, with examples and their evidence,
so an admin can tighten or loosen thresholds knowing the effect.

Records that founded a person, and persons joined by staff (merges), are staff or first decisions: they are not
re-evaluated."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal

from cdp_identity.adapters.graph import IdentityGraph, profile_from
from cdp_identity.domain.normalise import Profile
from cdp_identity.domain.scoring import MatchingConfig, Score
from cdp_identity.service_layer.matching import score_against

Outcome = Literal["link", "review", "apart"]


def outcome(score: Score, cfg: MatchingConfig) -> Outcome:
    if score.total >= cfg.link_threshold and not score.conflict:
        return "link"
    if score.total >= cfg.review_threshold or score.conflict:
        return "review"
    return "apart"


@dataclass(frozen=True)
class Moved:
    kind: Literal["link", "review"]
    record: str
    person_id: str
    score: float
    proposed_score: float
    rule: str
    conflict: str | None
    now: Outcome
    proposed: Outcome
    evidence: list[dict[str, Any]]


async def impact(
    graph: IdentityGraph, current: MatchingConfig, proposed: MatchingConfig, examples: int = 50
) -> dict[str, Any]:
    records: dict[str, Profile] = {}
    founders: set[str] = set()
    members: dict[str, list[str]] = {}
    async for d in graph.records.find({}, {"source": 1, "profile": 1, "person_id": 1, "link": 1}, batch_size=1000):
        records[d["_id"]] = profile_from(d["_id"], d["source"], d["profile"])
        if (d.get("link") or {}).get("rule") in (None, "new_person"):
            founders.add(d["_id"])
        members.setdefault(await graph.resolve(d["person_id"]), []).append(d["_id"])

    moves: Counter[str] = Counter()
    moved: list[Moved] = []
    evaluated = 0

    same_weights = (current.m, current.u, current.disagree) == (proposed.m, proposed.u, proposed.disagree)

    async def note(kind: Literal["link", "review"], key: str, pid: str, others: list[Profile]) -> None:
        freq = await graph.frequencies(records[key])
        s = score_against(records[key], others, current, freq)
        s_new = s if same_weights else score_against(records[key], others, proposed, freq)
        now, then = outcome(s, current), outcome(s_new, proposed)
        moves[f"{now}->{then}"] += 1
        if now != then and len(moved) < examples:
            evidence = [e.__dict__ for e in s_new.evidence]
            score, new_score = round(s.total, 2), round(s_new.total, 2)
            moved.append(Moved(kind, key, pid, score, new_score, s.rule, s.conflict, now, then, evidence))

    for pid, keys in members.items():
        for key in keys:
            others = [records[k] for k in keys if k != key]
            if key in founders or not others:
                continue
            evaluated += 1
            await note("link", key, pid, others)

    reviews = 0
    async for r in graph.reviews.find({"status": "open"}):
        profile = records.get(r["record_key"])
        if profile is None:
            continue
        for c in r.get("candidates", []):
            pid = await graph.resolve(c["person_id"])
            others = [records[k] for k in members.get(pid, []) if k != profile.key]
            if others:
                reviews += 1
                await note("review", profile.key, pid, others)

    unchanged = sum(n for k, n in moves.items() if k.split("->")[0] == k.split("->")[1])
    return {
        "current": {"version": current.version, **_thresholds(current)},
        "proposed": {**_thresholds(proposed), "weights_changed": not same_weights},
        "links_evaluated": evaluated,
        "review_candidates_evaluated": reviews,
        "unchanged": unchanged,
        "would_move": {k: n for k, n in sorted(moves.items()) if k.split("->")[0] != k.split("->")[1]},
        "examples": [m.__dict__ for m in moved],
        "note": "nothing changed: PUT /v1/matching-config applies to the records that arrive after it",
    }


def _thresholds(cfg: MatchingConfig) -> dict[str, float]:
    return {"link_threshold": cfg.link_threshold, "review_threshold": cfg.review_threshold}
