"""Evaluating every customer's relationship as time passes (not only when events arrive): RFM scores and journey stage
(published as `analytics.scores_updated` when they change), predicted lifetime value, dormancy
(`analytics.dormancy_detected`, once per silent period: a new purchase ends it) and replenishment
(`analytics.reorder_due`, once per purchase of a consumable, from `remind_days_before` its run-out day). What was
last published is kept per customer in `customer_scores`, so a re-run publishes nothing new, and event ids are
derived from what they say, so a crash between publishing and storing republishes the same event (consumers drop it
as already applied)."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cdp_common.contracts.analytics import DormancyDetected, ReorderDue, ScoresUpdated
from cdp_common.events import EventEnvelope, make_event
from cdp_common.messaging import EventPublisher
from cdp_common.store import Document
from cdp_common.topics import ANALYTICS_EVENTS
from pydantic import BaseModel
from pymongo import UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from cdp_analytics.adapters.facts import Facts
from cdp_analytics.domain import clv
from cdp_analytics.domain.customers import Customer, DormancyPolicy, customers_from, dormancy, journey_stage, rfm
from cdp_analytics.domain.replenishment import Consumable, RunOut, due, run_outs
from cdp_analytics.domain.scores import Example, Model, example, features, train_on
from cdp_analytics.service_layer.segments import Segments

log = logging.getLogger("cdp.analytics.relationship")
SOURCE = "cdp/analytics"
NS = uuid.UUID("5f0c3a52-8c1e-4a63-9d3b-6a1f2e7c4b90")


CHUNK = 500  # customers whose events are published together, then whose states are stored in one write


def _announcement(event_type: str, cid: str, key: str, data: BaseModel) -> tuple[str, EventEnvelope]:
    """An event with an id derived from what it says (`key`): a repeat after a crash is the same event."""
    event = make_event(source=SOURCE, event_type=event_type, subject=cid, event_id=uuid.uuid5(NS, key).hex, data=data)
    return ANALYTICS_EVENTS.name, event


def _model_scores(c: Customer, feats: dict[str, float], churn: Model | None, lead: Model | None) -> dict[str, Any]:
    """Churn risk for customers, lead score (0-100) for the others, each with the features that drove it; None
    while the history is too short to learn from."""
    out: dict[str, Any] = {"churn_probability": None, "lead_score": None, "drivers": None}
    model = churn if c.purchases else lead
    if model is None:
        return out
    probability, drivers = model.score(feats)
    if c.purchases:
        out["churn_probability"] = round(probability, 2)
    else:
        out["lead_score"] = round(probability * 100)
    out["drivers"] = {"model": model.name, "trained_on": model.trained_on, "top": drivers}
    return out


@dataclass(frozen=True)
class Seen:
    """What the evaluation keeps of one person once their facts have been read: a few small values."""

    customer: Customer
    features: dict[str, float]  # today's, for scoring
    run_outs: list[RunOut]


@dataclass(frozen=True)
class Evaluated:
    customers: int
    scores_published: int
    dormant_published: int
    dormant_now: int
    segment_changes: int = 0
    reorders_published: int = 0
    clv_predicted: int = 0


async def evaluate(
    facts: Facts,
    db: AsyncDatabase[Document],
    publisher: EventPublisher,
    now: datetime,
    policy: DormancyPolicy | None = None,
    segments: Segments | None = None,
) -> Evaluated:
    scores = db["customer_scores"]
    catalogue = {
        d["_id"]: Consumable(d["_id"], d["name"], d["days_per_unit"], d.get("remind_days_before", 7.0))
        async for d in db["consumables"].find({})
    }
    # the facts are read a chunk of people at a time, and only what the rest needs is kept of each person
    seen: dict[str, Seen] = {}
    examples: list[Example] = []
    async for chunk in facts.histories(now):
        for cid, own in chunk.items():
            seen[cid] = Seen(customers_from(own)[cid], features(own, now), run_outs(own, catalogue))
            if (e := example(own, now)) is not None:
                examples.append(e)
    customers = {cid: s.customer for cid, s in seen.items()}
    known = {d["_id"]: d async for d in scores.find({}, batch_size=1000)}
    rfm_of = rfm(customers.values(), now)
    churn_model, lead_model = train_on(examples)
    del examples
    try:
        predicted = await clv.predict_in_process(clv.histories(customers.values(), now))
    except Exception:  # a failed fit costs this run its predictions, nothing else
        log.exception("predicting customer lifetime values failed")
        predicted = {}
    published = dormant_published = dormant_now = reorders_published = 0
    events: list[tuple[str, EventEnvelope]] = []
    states: list[UpdateOne] = []

    async def flush() -> None:
        """Publish first, then store what was published: a crash in between republishes the same events."""
        if events:
            await publisher.publish_many(events)
        if states:
            await scores.bulk_write(states, ordered=False)
        events.clear()
        states.clear()

    for cid, c in customers.items():
        before = known.get(cid, {})
        state: dict[str, Any] = {"rfm": rfm_of.get(cid), "journey_stage": journey_stage(c)}
        state.update(_model_scores(c, seen[cid].features, churn_model, lead_model))
        p = predicted.get(cid)
        state["predicted_clv"] = (
            None
            if p is None
            else {
                "clv_12_months": p.clv,
                "expected_purchases_12_months": p.expected_purchases,
                "probability_alive": p.probability_alive,
                "expected_order_value": p.expected_order_value,
                "model": clv.MODEL,
                "computed_at": now,
            }
        )
        watched = ("rfm", "journey_stage", "churn_probability", "lead_score")
        if tuple(before.get(k) for k in watched) != tuple(state.get(k) for k in watched):
            events.append(
                _announcement(
                    "analytics.scores_updated",
                    cid,
                    f"scores:{cid}:{[state.get(k) for k in watched]}",
                    ScoresUpdated(
                        contact_id=cid,
                        rfm=state["rfm"],
                        journey_stage=state["journey_stage"],  # type: ignore[arg-type]
                        churn_probability=state["churn_probability"],
                        lead_score=state["lead_score"],
                        predicted_clv=(state["predicted_clv"] or {}).get("clv_12_months"),
                        computed_at=now,
                    ),
                )
            )
            published += 1
        silent = dormancy(c, now, policy)
        state["dormant"] = None
        if silent is not None:
            dormant_now += 1
            state["dormant"] = {
                "last_purchase_at": silent.last_purchase_at,
                "silent_days": round(silent.silent_days, 1),
                "expected_gap_days": silent.rhythm.expected_gap_days,
                "threshold_days": round(silent.rhythm.threshold_days, 1),
                "detected_at": (before.get("dormant") or {}).get("detected_at", now),
            }
            episode = silent.last_purchase_at.isoformat()
            if before.get("dormant_episode") != episode:
                events.append(
                    _announcement(
                        "analytics.dormancy_detected",
                        cid,
                        f"dormant:{cid}:{episode}",
                        DormancyDetected(
                            contact_id=cid,
                            last_activity_at=c.last_activity or silent.last_purchase_at,
                            expected_gap_days=silent.rhythm.expected_gap_days,
                            silent_days=round(silent.silent_days, 1),
                            detected_at=now,
                        ),
                    )
                )
                dormant_published += 1
            state["dormant_episode"] = episode
        else:
            state["dormant_episode"] = before.get("dormant_episode")  # the same silence is never announced twice
        reminded: list[str] = list(before.get("reorders_announced") or [])  # "<sku>|<last purchase>", once each
        state["replenishment"] = []
        for r in seen[cid].run_outs:
            state["replenishment"].append({**r.__dict__, "due": due(r, now)})
            episode = f"{r.sku}|{r.last_purchase_at.isoformat()}"
            if due(r, now) and episode not in reminded:
                events.append(
                    _announcement(
                        "analytics.reorder_due",
                        cid,
                        f"reorder:{cid}:{episode}",
                        ReorderDue(
                            contact_id=cid,
                            sku=r.sku,
                            product_name=catalogue[r.sku].name,
                            last_purchase_at=r.last_purchase_at,
                            quantity=r.quantity,
                            days_per_unit=r.days_per_unit,
                            basis=r.basis,
                            run_out_at=r.run_out_at,
                            detected_at=now,
                        ),
                    )
                )
                reorders_published += 1
                reminded.append(episode)
        state["reorders_announced"] = reminded[-50:]
        states.append(UpdateOne({"_id": cid}, {"$set": {**state, "evaluated_at": now}}, upsert=True))
        if len(states) >= CHUNK:
            await flush()
    await flush()
    moved = await segments.refresh_all(customers, now) if segments is not None else 0
    result = Evaluated(
        len(customers), published, dormant_published, dormant_now, moved, reorders_published, len(predicted)
    )
    log.info("relationships evaluated", extra=result.__dict__)
    return result
