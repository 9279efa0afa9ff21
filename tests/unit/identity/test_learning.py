"""Weights from the review queue's answers, counted by hand: the accepted candidate is a match, the other
candidates and every rejected one are not; a handful of labels nudge a weight, many decide it; too few leave it."""

from __future__ import annotations

from typing import Any

from cdp_identity.domain.learning import MIN_LABELS, PRIOR_WEIGHT, labels_from, learn
from cdp_identity.domain.scoring import MatchingConfig


def candidate(pid: str, **compared: str) -> dict[str, Any]:
    return {"person_id": pid, "evidence": [{"field": f, "comparison": c, "weight": 0.0} for f, c in compared.items()]}


def test_labels_and_learnt_probabilities_by_hand() -> None:
    reviews = []
    # 10 accepted reviews: staff chose "b" (email equal, birth dates swapped); "a" was another candidate (phone only)
    for _ in range(10):
        reviews.append(
            {
                "status": "accepted",
                "accepted_person_id": "b",
                "candidates": [
                    candidate("a", phone="exact", email="disagree"),
                    candidate("b", email="exact", birth_date="day/month swapped"),
                ],
            }
        )
    # 6 rejected: same family phone, different names
    reviews += [{"status": "rejected", "candidates": [candidate("c", phone="exact", name="disagree (0.41)")]}] * 6
    reviews.append({"status": "open", "candidates": [candidate("d", email="exact")]})  # not a label yet
    labels = labels_from(reviews)
    assert (labels.matches, labels.non_matches) == (10, 16)

    cfg = MatchingConfig()
    out = learn(labels, cfg)
    email = out["fields"]["email"]
    # matches: 10 compared email, 10 agreed -> (10 + 10 x 0.9) / (10 + 10)
    assert email["m"]["labelled_pairs"] == 10 and email["m"]["learnt"] == (10 + PRIOR_WEIGHT * 0.9) / 20
    # non-matches: 10 compared email ("a"), none agreed -> halved from 1e-6 (a tiny probability keeps its digits)
    assert email["u"]["labelled_pairs"] == 10 and email["u"]["agreeing"] == 0 and email["u"]["learnt"] == 5e-7
    # phone among non-matches: 16 compared, 16 agreed: a shared family phone says little -> u rises a lot
    phone_u = out["fields"]["phone"]["u"]
    assert phone_u["agreeing"] == 16 and phone_u["learnt"] > 0.5 and out["proposed_u"]["phone"] == phone_u["learnt"]
    # birth dates among matches: 10 compared, all swapped -> m of "swapped" rises from 0.03
    assert out["proposed_m"]["birth_swapped"] > 0.5
    # phone among matches: never compared -> too few labels: m stays as it is
    assert out["fields"]["phone"]["m"]["learnt"] is None and out["proposed_m"]["phone"] == cfg.m["phone"]
    # names: u is not learnt (it comes from each name's frequency)
    assert "u" not in out["fields"]["name_exact"]
    assert MIN_LABELS <= 10
