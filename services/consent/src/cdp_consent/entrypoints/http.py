from __future__ import annotations

from typing import Annotated, Any

from cdp_common.problems import Problem
from fastapi import APIRouter, Path, Request

from cdp_consent.adapters.subjects import ConsentSubjects

router = APIRouter(prefix="/v1/consent", tags=["consent"])


@router.get("/subjects/{person_id}", summary="What the ledger knows of a person: reachable channels, statements")
async def read_subject(
    person_id: Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")], request: Request
) -> dict[str, Any]:
    subjects: ConsentSubjects = request.app.state.subjects
    doc = await subjects.get(person_id)
    if doc is None:
        raise Problem(404, "Subject not found", f"the consent ledger knows no person {person_id}")
    return {
        "person_id": doc["_id"],
        "reachable_channels": doc.get("reachable_channels", []),
        "preferred_channel": doc.get("preferred_channel"),
        "statements": doc.get("statements", []),
        "registered_at": doc["registered_at"],
    }
