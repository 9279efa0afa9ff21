"""Weights learnt from the staff's answers in the review queue. Every resolved review is a set of labelled pairs:
the candidate staff accepted is the same person as the record (a match), every other candidate of an accepted
review and every candidate of a rejected one is not (a non-match). The evidence stored with each candidate says how
each field compared. From these, for each comparison outcome of the Fellegi-Sunter model:

    m = P(outcome | match),  u = P(outcome | non-match)

estimated with the configuration in force as a prior worth `PRIOR_WEIGHT` labels (so a handful of answers nudge
the weights and many answers decide them), and proposed only where at least `MIN_LABELS` labelled pairs compared the
field on each side. Name u-probabilities are not learnt: they come from each name's own frequency."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from cdp_identity.domain.scoring import MatchingConfig

PRIOR_WEIGHT = 10.0
MIN_LABELS = 5

# (evidence field, how it compared) -> the m/u key it stands for; None: compared, outcome not a weight of its own
_OUTCOMES: dict[str, list[tuple[str, str]]] = {
    "email": [("exact", "email")],
    "phone": [("exact", "phone")],
    "name": [("exact", "name_exact"), ("accent-folded", "name_folded"), ("fuzzy", "name_fuzzy")],
    "birth_date": [("exact", "birth_exact"), ("day/month swapped", "birth_swapped"), ("same year", "birth_year")],
    "city": [("exact", "city")],
}
NOT_LEARNT_U = {"name_exact", "name_folded"}


def outcome_key(evidence_field: str, comparison: str) -> str | None:
    for prefix, key in _OUTCOMES.get(evidence_field, []):
        if comparison.startswith(prefix):
            return key
    return None


@dataclass
class Labels:
    matches: int = 0
    non_matches: int = 0
    compared: dict[bool, Counter[str]] = field(default_factory=lambda: {True: Counter(), False: Counter()})
    agreed: dict[bool, Counter[str]] = field(default_factory=lambda: {True: Counter(), False: Counter()})

    def add(self, evidence: list[dict[str, Any]], match: bool) -> None:
        if match:
            self.matches += 1
        else:
            self.non_matches += 1
        for e in evidence:
            if e["field"] not in _OUTCOMES:
                continue
            self.compared[match][e["field"]] += 1
            key = outcome_key(e["field"], e["comparison"])
            if key is not None:
                self.agreed[match][key] += 1


def labels_from(reviews: list[dict[str, Any]]) -> Labels:
    out = Labels()
    for r in reviews:
        if r.get("status") not in ("accepted", "rejected"):
            continue
        candidates = r.get("candidates", [])
        accepted = r.get("accepted_person_id") or (candidates[0]["person_id"] if candidates else None)
        for c in candidates:
            out.add(c.get("evidence", []), r["status"] == "accepted" and c["person_id"] == accepted)
    return out


def _field_of(key: str) -> str:
    return next(f for f, outcomes in _OUTCOMES.items() if any(k == key for _, k in outcomes))


def learn(labels: Labels, cfg: MatchingConfig) -> dict[str, Any]:
    """Per m/u key: what the labels say beside what is in force, and the proposal (None where labels are too few)."""
    report: dict[str, Any] = {}
    m, u = dict(cfg.m), dict(cfg.u)
    for key in cfg.m:
        f = _field_of(key)
        row: dict[str, Any] = {"field": f}
        for side, probs, match in (("m", m, True), ("u", u, False)):
            if side == "u" and (key in NOT_LEARNT_U or key not in cfg.u):
                continue
            n, k = labels.compared[match][f], labels.agreed[match][key]
            prior = probs[key]
            learnt = min(max(float(f"{(k + PRIOR_WEIGHT * prior) / (n + PRIOR_WEIGHT):.6g}"), 1e-12), 0.999999)
            enough = n >= MIN_LABELS
            row[side] = {
                "in_force": prior,
                "labelled_pairs": n,
                "agreeing": k,
                "learnt": learnt if enough else None,
            }
            if enough:
                probs[key] = learnt
        report[key] = row
    return {"fields": report, "proposed_m": m, "proposed_u": u}
