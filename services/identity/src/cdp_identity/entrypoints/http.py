from __future__ import annotations

from typing import Annotated, Any

from cdp_common.problems import Problem
from fastapi import APIRouter, Path, Request

from cdp_identity.adapters.graph import IdentityGraph

router = APIRouter(prefix="/v1/persons", tags=["identity"])


@router.get("/{person_id}", summary="A person and the source records linked to it, with the evidence of each link")
async def read_person(
    person_id: Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")], request: Request
) -> dict[str, Any]:
    graph: IdentityGraph = request.app.state.graph
    records = await graph.records_of(person_id)
    if not records:
        raise Problem(404, "Person not found", f"no person with id {person_id}")
    return {
        "person_id": person_id,
        "records": [
            {
                "source": r["source"],
                "record_id": r["record_id"],
                "identifiers": r["identifiers"],
                "observed_at": r["observed_at"],
                "link": r["link"],
            }
            for r in records
        ],
    }
