from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from cdp_common.problems import Problem
from fastapi import APIRouter, Query, Request

from cdp_analytics.adapters.facts import Facts
from cdp_analytics.domain.kpis import Period, compute

router = APIRouter(prefix="/v1/analytics", tags=["analytics"])


def period_of(from_: date, to: date) -> Period:
    """[from, to] as whole UTC days; `to` before `from` is a 422 naming `to`."""
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
    days = await facts.daily_counts("contact_created", period.start, period.end)
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
) -> dict[str, Any]:
    period = period_of(from_, to)
    facts: Facts = request.app.state.facts
    history = await facts.until(period.end)
    return {
        "period": {"from": period.start, "to": period.end},
        "previous_period": {"from": period.previous().start, "to": period.previous().end},
        "kpis": compute([f for f in history if f["at"] < period.end], period),
        "previous": compute([f for f in history if f["at"] < period.start], period.previous()),
    }
