"""Churn and lead scores: holdout AUC of the analytics service's own training code on a synthetic retailer history.

Two years of facts for `--people` persons. Customers buy at a personal rate; some stop for good at a random time
(and visit and open emails less in the weeks before). Leads show varying engagement, and the engaged ones convert
more often. People are split 70/30. The models are trained on the first part exactly as the service trains them
(features at a cutoff, labels from what happened after it). The holdout's AUC is printed, beside a one-feature
baseline (recency alone for churn, web visits alone for leads). Runs without the stack:

    uv run python bench/scores_bench.py [--people 4000] [--horizon 180] [--seed 7]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cdp_analytics.domain.scores import bought, features, train, training_set

NOW = datetime(2026, 11, 23, tzinfo=UTC)
START = NOW - timedelta(days=730)


def history(rng: random.Random, pid: str) -> list[dict[str, Any]]:
    facts: list[dict[str, Any]] = []

    def add(kind: str, at: datetime, **values: Any) -> None:
        if START <= at < NOW:
            facts.append({"kind": kind, "subject": pid, "at": at, **values})

    joined = START + timedelta(days=rng.uniform(0, 600))
    add("contact_created", joined)
    if rng.random() < 0.6:  # a customer: buys at a personal rate until they stop (or never stop)
        rate = rng.lognormvariate(-3.3, 0.6)  # purchases per day: about every 27 days, widely spread
        stops = joined + timedelta(days=rng.uniform(30, 900)) if rng.random() < 0.5 else NOW + timedelta(days=1)
        engagement = rng.uniform(0.02, 0.15)
        t = joined
        while t < NOW:
            t += timedelta(days=rng.expovariate(rate))
            if t < stops:
                add("order.paid", t, amount=rng.choice([150_000, 320_000, 690_000, 1_250_000]))
        day = joined
        while day < NOW:
            fading = 0.25 if day > stops - timedelta(days=45) else 1.0  # they drift away before they stop
            if rng.random() < engagement * fading:
                add("web.visited", day)
            if rng.random() < engagement * fading * 0.6:
                add("email.opened", day)
            if rng.random() < 0.004:
                add("ticket.opened", day)
            day += timedelta(days=1)
        if rng.random() < 0.3:
            add("survey.answered", joined + timedelta(days=10), survey_kind="nps", score=rng.randint(3, 10))
    else:  # a lead: engaged or not; the engaged convert more often, after a form or a qualification
        interest = rng.random()
        day = joined
        while day < NOW:
            if rng.random() < 0.12 * interest:
                add("web.visited", day)
            if rng.random() < 0.05 * interest:
                add("email.opened", day)
            if rng.random() < 0.02 * interest:
                add("email.clicked", day)
            day += timedelta(days=1)
        if rng.random() < interest:
            add("lead.form_submitted", joined + timedelta(days=rng.uniform(1, 60)))
        if rng.random() < interest * 0.5:
            add("lead.qualified", joined + timedelta(days=rng.uniform(30, 120)))
        if rng.random() < interest**2 * 0.6:
            add("order.paid", joined + timedelta(days=rng.uniform(60, 400)), amount=320_000)
    return facts


def auc(labels: list[int], scores: list[float]) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, scores))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=4000)
    parser.add_argument("--horizon", type=int, default=180)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    started = time.perf_counter()
    people = {f"p{i}": history(rng, f"p{i}") for i in range(args.people)}
    ids = list(people)
    rng.shuffle(ids)
    cut = int(len(ids) * 0.7)
    learn = {i: people[i] for i in ids[:cut]}
    holdout = {i: people[i] for i in ids[cut:]}
    print(
        f"history: {sum(len(f) for f in people.values()):,} facts of {len(people):,} people "
        f"({time.perf_counter() - started:.1f} s)",
        flush=True,
    )

    started = time.perf_counter()
    churn, lead = train(learn, NOW, args.horizon)
    print(
        f"trained in {time.perf_counter() - started:.1f} s: churn on {churn.trained_on if churn else 0:,} "
        f"customers ({churn.positives if churn else 0:,} churned), lead on {lead.trained_on if lead else 0:,} "
        f"leads ({lead.positives if lead else 0:,} converted)",
        flush=True,
    )
    if churn is None or lead is None:
        raise SystemExit("not enough history to train both models; use more --people")

    test = training_set(holdout, NOW, args.horizon)
    cutoff = NOW - timedelta(days=args.horizon)
    churn_scores = [churn.score(r)[0] for r in test.churn_rows]
    lead_scores = [lead.score(r)[0] for r in test.lead_rows]
    print(
        f"churn risk holdout AUC {auc(test.churn_labels, churn_scores):.3f} on {len(churn_scores):,} customers "
        f"(recency alone: {auc(test.churn_labels, [r['days_since_last_purchase'] for r in test.churn_rows]):.3f})"
    )
    print(
        f"lead score holdout AUC {auc(test.lead_labels, lead_scores):.3f} on {len(lead_scores):,} leads "
        f"(web visits alone: {auc(test.lead_labels, [r['web_visits_90d'] for r in test.lead_rows]):.3f})"
    )
    example = next(f for f in holdout.values() if bought(f, START, cutoff))
    probability, drivers = churn.score(features(example, NOW))
    print(f"one customer today: churn risk {probability:.2f}, driven by {drivers[:3]}")


if __name__ == "__main__":
    main()
