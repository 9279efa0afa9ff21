from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from cdp_common.problems import Problem
from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from cdp_analytics.adapters.facts import Facts
from cdp_analytics.domain.customers import dormancy, journey_stage, rhythm_of
from cdp_analytics.domain.journey import Funnel
from cdp_analytics.domain.kpis import Period, for_members, of_days
from cdp_analytics.domain.segments import Rules
from cdp_analytics.service_layer import relationship
from cdp_analytics.service_layer.segments import Segments

router = APIRouter(prefix="/v1/analytics", tags=["analytics"])


EARLIEST, LATEST = date(1970, 1, 1), date(2100, 12, 31)
SEGMENT_ID = r"^[a-z0-9][a-z0-9-]{1,62}$"


def within_years(d: date, field: str) -> date:
    """Periods are about business data: a day outside 1970-2100 is a 422 naming its field (and the period before
    it, or after it, stays a real date)."""
    if not EARLIEST <= d <= LATEST:
        raise Problem(
            422,
            "Invalid date",
            f"`{field}` must be between {EARLIEST} and {LATEST}",
            errors=[{"field": field, "in": "query"}],
        )
    return d


def period_of(from_: date, to: date) -> Period:
    """[from, to] as whole UTC days; `to` before `from` is a 422 naming `to`."""
    within_years(from_, "from")
    within_years(to, "to")
    if to < from_:
        raise Problem(422, "Invalid range", "`to` must not be before `from`", errors=[{"field": "to", "in": "query"}])
    return Period(datetime.combine(from_, time.min, UTC), datetime.combine(to + timedelta(days=1), time.min, UTC))


@router.get("/new-contacts", summary="New contacts per day in [from, to]; formula: count of contact.created")
async def new_contacts(
    request: Request,
    from_: Annotated[date, Query(alias="from")],
    to: Annotated[date, Query()],
) -> dict[str, Any]:
    period = period_of(from_, to)
    facts: Facts = request.app.state.facts
    days = await facts.contacts_created_per_day(period.start, period.end)
    return {
        "formula": "count(contact.created) per UTC day",
        "from": from_,
        "to": to,
        "total": sum(d["count"] for d in days),
        "days": days,
    }


@router.get("/kpis", summary="Every KPI for [from, to] with the previous period of equal length beside it")
async def kpis(
    request: Request,
    from_: Annotated[date, Query(alias="from")],
    to: Annotated[date, Query()],
    segment: Annotated[
        str | None,
        Query(pattern=SEGMENT_ID, description="Only the segment's members (as they are now)."),
    ] = None,
) -> dict[str, Any]:
    period = period_of(from_, to)
    facts: Facts = request.app.state.facts
    members: set[str] | None = None
    if segment is not None:
        segments: Segments = request.app.state.segments
        if segment not in {d["_id"] for d in await segments.all()}:
            raise Problem(404, "Unknown segment", f"no segment {segment}")
        members = await segments.member_ids(segment)
    if members is None:  # from the daily roll-ups: a few hundred small documents, whatever the number of events
        days = await facts.day_documents(period.end)

        def of(p: Period) -> dict[str, Any]:
            return of_days(days, p)
    else:  # a segment: its members' summaries
        people = await facts.members(sorted(members))
        size = len(members)

        def of(p: Period) -> dict[str, Any]:
            return for_members(people, size, p)

    return {
        "period": {"from": period.start, "to": period.end},
        "previous_period": {"from": period.previous().start, "to": period.previous().end},
        "segment": segment,
        "kpis": of(period),
        "previous": of(period.previous()),
    }


def calendar_period(granularity: str, at: date) -> tuple[Period, Period]:
    """The month, quarter or year holding `at`, and the one before it (calendar periods, not equal lengths)."""

    def start_of(d: date) -> date:
        if granularity == "month":
            return d.replace(day=1)
        if granularity == "quarter":
            return d.replace(month=3 * ((d.month - 1) // 3) + 1, day=1)
        return d.replace(month=1, day=1)

    def after(d: date) -> date:
        months = {"month": 1, "quarter": 3, "year": 12}[granularity]
        m = d.month - 1 + months
        return d.replace(year=d.year + m // 12, month=m % 12 + 1, day=1)

    def utc(d: date) -> datetime:
        return datetime.combine(d, time.min, UTC)

    start = start_of(at)
    previous = start_of(start - timedelta(days=1))
    return Period(utc(start), utc(after(start))), Period(utc(previous), utc(start))


@router.get(
    "/reports/{granularity}",
    summary="The period report (month, quarter, year): every KPI beside the one before, as CSV or JSON",
)
async def report(
    request: Request,
    granularity: Annotated[str, Path(pattern="^(month|quarter|year)$")],
    at: Annotated[date, Query(description="Any day inside the period.")],
    format: Annotated[str, Query(pattern="^(csv|json)$")] = "csv",
) -> Response:
    period, previous = calendar_period(granularity, within_years(at, "at"))
    days = await request.app.state.facts.day_documents(period.end)
    now, before = of_days(days, period), of_days(days, previous)
    rows = []
    for name, k in now.items():
        value = k.get("value") if isinstance(k, dict) else k
        prev = before.get(name)
        prev_value = prev.get("value") if isinstance(prev, dict) else prev
        change = (
            round((value - prev_value) / abs(prev_value) * 100, 1)
            if isinstance(value, (int, float)) and isinstance(prev_value, (int, float)) and prev_value
            else None
        )
        rows.append(
            {
                "kpi": name,
                "value": value,
                "previous": prev_value,
                "change_pct": change,
                "formula": k.get("formula", "") if isinstance(k, dict) else "count",
            }
        )
    label = f"{granularity}-{period.start.date().isoformat()}"
    if format == "json":
        return JSONResponse(
            {"period": label, "from": period.start.isoformat(), "to": period.end.isoformat(), "rows": rows}
        )
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["kpi", "value", "previous", "change_pct", "formula"])
    writer.writeheader()
    writer.writerows(rows)
    return Response(
        out.getvalue().encode("utf-8-sig"),  # with a BOM: spreadsheet programs then read Vietnamese text right
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="kpis-{label}.csv"'},
    )


@router.get("/journey", summary="The journey funnel: reached, conversion to the next stage, days in stage, touchpoints")
async def journey(
    request: Request,
    from_: Annotated[date | None, Query(alias="from", description="Cohort: people first seen from this day")] = None,
    to: Annotated[date | None, Query(description="... up to this day (inclusive)")] = None,
) -> dict[str, Any]:
    now = datetime.now(UTC)
    cohort = period_of(from_ or date(1970, 1, 1), to or now.date()) if from_ or to else None
    stages = Funnel(now, cohort=(cohort.start, cohort.end) if cohort else None)
    async for chunk in request.app.state.facts.customers():  # from the summaries, a thousand people at a time
        for c in chunk.values():
            stages.add_customer(c)
    return {"cohort": {"from": from_, "to": to}, "people": stages.people, **stages.result()}


@router.get(
    "/customers/{contact_id}",
    summary="A customer's relationship: buying rhythm, dormancy, RFM, journey stage, scores, predicted CLV",
)
async def customer(
    contact_id: Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")], request: Request
) -> dict[str, Any]:
    facts: Facts = request.app.state.facts
    found = await facts.customer(contact_id)
    if found is None:
        raise Problem(404, "Unknown customer", f"analytics holds no fact about {contact_id}")
    now = datetime.now(UTC)
    rhythm = rhythm_of([t for t, _ in found.purchases])
    silent = dormancy(found, now)
    stored = await request.app.state.db["customer_scores"].find_one({"_id": contact_id}, {"_id": 0}) or {}
    return {
        "contact_id": contact_id,
        "purchases": len(found.purchases),
        "revenue": sum(a for _, a in found.purchases),
        "last_purchase_at": found.purchases[-1][0] if found.purchases else None,
        "last_activity_at": found.last_activity,
        "rhythm": None
        if rhythm is None
        else {
            "expected_gap_days": rhythm.expected_gap_days,
            "spread_days": round(rhythm.spread_days, 1),
            "unusual_after_days": round(rhythm.threshold_days, 1),
            "formula": "median gap between purchase days; unusual after max(1.5 x gap, gap + 3 x spread, 7 days)",
        },
        "dormant": silent is not None,
        "silent_days": round(silent.silent_days, 1) if silent else None,
        "journey_stage": journey_stage(found),
        "rfm": stored.get("rfm"),
        "churn_probability": stored.get("churn_probability"),
        "lead_score": stored.get("lead_score"),
        "score_drivers": stored.get("drivers"),
        "predicted_clv": stored.get("predicted_clv"),
        "replenishment": stored.get("replenishment") or [],
        "evaluated_at": stored.get("evaluated_at"),
    }


@router.get("/dormant", summary="Customers silent for longer than is usual for them, longest silence first")
async def dormant(request: Request, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
    db = request.app.state.db
    items = [d async for d in db["customer_scores"].find({"dormant": {"$ne": None}})]
    items.sort(key=lambda d: -d["dormant"]["silent_days"])
    return {
        "items": [{"contact_id": d["_id"], **d["dormant"], "rfm": d.get("rfm")} for d in items[:limit]],
        "total": len(items),
    }


@router.post("/evaluations", summary="Evaluate every customer's relationship now (the job also runs on its own)")
async def evaluate_now(request: Request) -> dict[str, Any]:
    result = await relationship.evaluate(
        request.app.state.facts,
        request.app.state.db,
        request.app.state.publisher,
        datetime.now(UTC),
        segments=request.app.state.segments,
    )
    return result.__dict__


SegmentId = Annotated[str, Path(pattern=SEGMENT_ID)]


class SegmentIn(BaseModel):
    """A dynamic segment (`rules`) or a static list (`ids`), not both."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=2, max_length=200)
    rules: Rules | None = None
    ids: list[Annotated[str, Field(min_length=1, max_length=64)]] | None = Field(None, max_length=100_000)

    @model_validator(mode="after")
    def _one_kind(self) -> SegmentIn:
        if (self.rules is None) == (self.ids is None):
            raise ValueError("give either `rules` (a dynamic segment) or `ids` (a static list)")
        return self


@router.get("/segments", summary="Every segment with its definition and size")
async def list_segments(request: Request) -> dict[str, Any]:
    segments: Segments = request.app.state.segments
    out = []
    for seg in await segments.all():
        sid = seg.pop("_id")
        out.append({"id": sid, **seg, "size": len(await segments.member_ids(sid))})
    return {"items": out}


@router.put(
    "/segments/{segment_id}",
    status_code=202,
    summary="Define a dynamic segment (rules) or a static list (ids); its members are then evaluated in the "
    "background (`evaluation` on `GET /segments` says running, done or failed), and follow every event from now on",
)
async def put_segment(segment_id: SegmentId, body: SegmentIn, request: Request) -> dict[str, Any]:
    segments: Segments = request.app.state.segments
    now = datetime.now(UTC)
    await segments.define(segment_id, body.name, body.rules, body.ids, now)
    request.app.state.runtime.spawn(
        segments.evaluate_one(request.app.state.facts, segment_id, now), f"evaluate-segment-{segment_id}"
    )
    return {"id": segment_id, "evaluation": {"state": "running", "started_at": now}}


@router.get("/segments/{segment_id}/members", summary="The contact ids in a segment, with since when")
async def segment_members(segment_id: SegmentId, request: Request) -> dict[str, Any]:
    segments: Segments = request.app.state.segments
    items = [d async for d in segments.members.find({"segment_id": segment_id}, {"_id": 0, "segment_id": 0})]
    return {"segment_id": segment_id, "size": len(items), "items": items}


# ------------------------------------------------------------------------------------------- replenishment
Sku = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


class ConsumableIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200, examples=["Gạo ST25 túi 5 kg"])
    days_per_unit: float = Field(gt=0, le=3650, description="How many days one unit usually lasts.")
    remind_days_before: float = Field(7, ge=1, le=90, description="How long before the run-out day to remind.")


@router.get("/consumables", summary="The consumable products whose run-out is predicted, with their usual duration")
async def list_consumables(request: Request) -> dict[str, Any]:
    items = [{"sku": d.pop("_id"), **d} async for d in request.app.state.db["consumables"].find({})]
    return {"items": sorted(items, key=lambda d: d["sku"])}


@router.put("/consumables/{sku}", summary="Declare a product consumable (or change its usual duration)")
async def put_consumable(sku: Sku, body: ConsumableIn, request: Request) -> dict[str, Any]:
    doc = {**body.model_dump(), "updated_at": datetime.now(UTC)}
    await request.app.state.db["consumables"].update_one({"_id": sku}, {"$set": doc}, upsert=True)
    return {"sku": sku, **doc}


@router.delete("/consumables/{sku}", status_code=204, summary="No longer predict this product's run-out")
async def delete_consumable(sku: Sku, request: Request) -> Response:
    await request.app.state.db["consumables"].delete_one({"_id": sku})
    return Response(status_code=204)
