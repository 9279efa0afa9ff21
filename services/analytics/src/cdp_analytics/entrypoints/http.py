from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from cdp_common.problems import Problem
from fastapi import APIRouter, Query, Request

from cdp_analytics.adapters.facts import Facts

router = APIRouter(prefix="/v1/analytics", tags=["analytics"])


@router.get("/new-contacts", summary="New contacts per day in [from, to]; formula: count of contact.created")
async def new_contacts(
    request: Request,
    from_: Annotated[date, Query(alias="from")],
    to: Annotated[date, Query()],
) -> dict[str, Any]:
    if to < from_:
        raise Problem(422, "Invalid range", "`to` must not be before `from`", errors=[{"field": "to", "in": "query"}])
    facts: Facts = request.app.state.facts
    start = datetime.combine(from_, time.min, UTC)
    end = datetime.combine(to + timedelta(days=1), time.min, UTC)
    days = await facts.daily_counts("contact_created", start, end)
    return {
        "formula": "count(contact.created) per UTC day",
        "from": from_,
        "to": to,
        "total": sum(d["count"] for d in days),
        "days": days,
    }
