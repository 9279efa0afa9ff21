"""Churn risk and lead score per person, learnt from the business's own history with scikit-learn.

Training looks back: features are computed at a cutoff `horizon_days` before now from the facts before it, and
the label is what happened after it: for churn, a customer (a purchase before the cutoff) who bought nothing in the
horizon; for leads, a person with no purchase before the cutoff who bought within the horizon. Scoring computes
the same features today. The model is a standardised logistic regression, so every score comes with the features
that drove it: each feature's contribution (coefficient x standardised value), largest first."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cdp_analytics.domain.customers import DAY

FEATURES = (
    "days_since_last_purchase",
    "purchases_365d",
    "revenue_365d_log",
    "tenure_days",
    "web_visits_30d",
    "web_visits_90d",
    "email_opens_90d",
    "email_clicks_90d",
    "tickets_90d",
    "lead_forms",
    "qualified",
    "deals_opened",
    "best_nps",
)
NO_PURCHASE_DAYS = 3650.0  # "never bought" as a long time, so the scale stays monotonic


def features(facts: list[dict[str, Any]], at: datetime) -> dict[str, float]:
    """One person's features at `at`, from their facts before it."""
    before = [f for f in facts if f["at"] < at]

    def count(kind: str, days: float | None = None) -> float:
        since = at - timedelta(days=days) if days else None
        return float(sum(1 for f in before if f["kind"] == kind and (since is None or f["at"] >= since)))

    paid = sorted(f["at"] for f in before if f["kind"] == "order.paid")
    year = at - timedelta(days=365)
    revenue = sum(float(f.get("amount") or 0) for f in before if f["kind"] == "order.paid" and f["at"] >= year)
    first = min((f["at"] for f in before), default=at)
    nps = [f.get("score") for f in before if f["kind"] == "survey.answered" and f.get("survey_kind") == "nps"]
    return {
        "days_since_last_purchase": (at - paid[-1]).total_seconds() / DAY if paid else NO_PURCHASE_DAYS,
        "purchases_365d": float(sum(1 for t in paid if t >= year)),
        "revenue_365d_log": math.log1p(revenue),
        "tenure_days": (at - first).total_seconds() / DAY,
        "web_visits_30d": count("web.visited", 30),
        "web_visits_90d": count("web.visited", 90),
        "email_opens_90d": count("email.opened", 90),
        "email_clicks_90d": count("email.clicked", 90),
        "tickets_90d": count("ticket.opened", 90),
        "lead_forms": count("lead.form_submitted"),
        "qualified": count("lead.qualified"),
        "deals_opened": count("deal.opened"),
        "best_nps": float(max((n for n in nps if n is not None), default=-1)),
    }


def bought(facts: list[dict[str, Any]], start: datetime, end: datetime) -> bool:
    return any(f["kind"] == "order.paid" and start <= f["at"] < end for f in facts)


@dataclass
class Model:
    """A fitted scaler and logistic regression, with what it was trained on."""

    name: str
    pipeline: Any
    trained_on: int
    positives: int

    def score(self, feats: dict[str, float]) -> tuple[float, list[dict[str, float | str]]]:
        """Probability of the label, and each feature's contribution to the log-odds, largest first."""
        row = [[feats[f] for f in FEATURES]]
        probability = float(self.pipeline.predict_proba(row)[0][1])
        scaler, logit = self.pipeline[0], self.pipeline[-1]
        scaled = scaler.transform(row)[0]
        weighted = sorted(
            ((f, round(float(c * x), 3)) for f, c, x in zip(FEATURES, logit.coef_[0], scaled, strict=True)),
            key=lambda fc: -abs(fc[1]),
        )
        parts: list[dict[str, float | str]] = [
            {"feature": f, "value": feats[f], "contribution": contribution} for f, contribution in weighted[:5]
        ]
        return probability, parts


def fit(name: str, rows: list[dict[str, float]], labels: list[int]) -> Model | None:
    """None when the history cannot teach anything yet (too few people, or only one outcome)."""
    if len(rows) < 20 or len(set(labels)) < 2 or min(labels.count(0), labels.count(1)) < 5:
        return None
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    pipeline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, class_weight="balanced"))
    pipeline.fit([[r[f] for f in FEATURES] for r in rows], labels)
    return Model(name, pipeline, len(rows), sum(labels))


@dataclass(frozen=True)
class Example:
    """One person as a training example: which model learns from them, their features at the cutoff, the label."""

    model: str  # "churn" (a customer at the cutoff) or "lead" (not yet)
    features: dict[str, float]
    label: int


def example(facts: list[dict[str, Any]], now: datetime, horizon_days: int = 180) -> Example | None:
    """What one person teaches: None when they were not known at the cutoff `horizon_days` before `now`."""
    cutoff = now - timedelta(days=horizon_days)
    if not any(f["at"] < cutoff for f in facts):
        return None
    f = features(facts, cutoff)
    later = bought(facts, cutoff, now)
    if bought(facts, datetime.min.replace(tzinfo=cutoff.tzinfo), cutoff):
        return Example("churn", f, 0 if later else 1)
    return Example("lead", f, 1 if later else 0)


@dataclass(frozen=True)
class TrainingSet:
    churn_rows: list[dict[str, float]]
    churn_labels: list[int]
    lead_rows: list[dict[str, float]]
    lead_labels: list[int]


def training_set_of(examples: Iterable[Example]) -> TrainingSet:
    t = TrainingSet([], [], [], [])
    for e in examples:
        rows, labels = (t.churn_rows, t.churn_labels) if e.model == "churn" else (t.lead_rows, t.lead_labels)
        rows.append(e.features)
        labels.append(e.label)
    return t


def training_set(by_subject: dict[str, list[dict[str, Any]]], now: datetime, horizon_days: int) -> TrainingSet:
    return training_set_of(e for facts in by_subject.values() if (e := example(facts, now, horizon_days)))


def train_on(examples: Iterable[Example]) -> tuple[Model | None, Model | None]:
    """The churn and the lead model learnt from `examples` (people taken one at a time, see `example`)."""
    return _fit_both(training_set_of(examples))


def train(
    by_subject: dict[str, list[dict[str, Any]]], now: datetime, horizon_days: int = 180
) -> tuple[Model | None, Model | None]:
    return _fit_both(training_set(by_subject, now, horizon_days))


def _fit_both(t: TrainingSet) -> tuple[Model | None, Model | None]:
    return fit("churn", t.churn_rows, t.churn_labels), fit("lead", t.lead_rows, t.lead_labels)
