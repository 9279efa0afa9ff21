"""Identity routes relayed to the identity service: persons and their links, the review queue, merge and undo,
and the matching configuration."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response

from cdp_gateway.auth import Allow
from cdp_gateway.contacts import ERRORS, actor
from cdp_gateway.upstream import audited

router = APIRouter(prefix="/v1", tags=["identity"])
Id = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
READ = [Depends(Allow("admin", "sales", "support", "marketing"))]
DECIDE = [Depends(Allow("admin", "sales", "support"))]
ADMIN = [Depends(Allow("admin"))]


async def identity(request: Request, method: str, path: str, **kwargs: Any) -> Response:
    return await audited(request, "identity", method, path, **kwargs)


@router.get(
    "/persons/{person_id}",
    summary="A person, its source records and the evidence of each link",
    responses=ERRORS,
    dependencies=READ,
)
async def read_person(person_id: Id, request: Request) -> Response:
    return await identity(request, "GET", f"/v1/persons/{person_id}")


@router.get("/reviews", summary="The duplicate review queue, with the explanation of each match", dependencies=READ)
async def list_reviews(
    request: Request,
    status: Annotated[str, Query(pattern="^(open|accepted|rejected)$")] = "open",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Response:
    return await identity(request, "GET", "/v1/reviews", params={"status": status, "limit": limit})


@router.post(
    "/reviews/{review_id}", summary="Accept (merge) or reject a proposed match", responses=ERRORS, dependencies=DECIDE
)
async def resolve_review(review_id: Id, request: Request, body: Annotated[dict[str, Any], Body()]) -> Response:
    return await identity(request, "POST", f"/v1/reviews/{review_id}", json=body, headers=actor(request))


@router.post("/merges", status_code=201, summary="Merge two persons", responses=ERRORS, dependencies=DECIDE)
async def merge(request: Request, body: Annotated[dict[str, Any], Body()]) -> Response:
    return await identity(request, "POST", "/v1/merges", json=body, headers=actor(request))


@router.post("/merges/{merge_id}/undo", summary="Undo a merge", responses=ERRORS, dependencies=DECIDE)
async def undo(merge_id: Id, request: Request) -> Response:
    return await identity(request, "POST", f"/v1/merges/{merge_id}/undo", headers=actor(request))


@router.get("/matching-config", summary="Matching thresholds and weights", dependencies=READ)
async def get_config(request: Request) -> Response:
    return await identity(request, "GET", "/v1/matching-config")


@router.put("/matching-config", summary="Change matching thresholds (versioned)", responses=ERRORS, dependencies=ADMIN)
async def put_config(request: Request, body: Annotated[dict[str, Any], Body()]) -> Response:
    return await identity(request, "PUT", "/v1/matching-config", json=body, headers=actor(request))


@router.post(
    "/matching-config/impact",
    summary="What proposed thresholds would move: existing links and open reviews re-scored (changes nothing)",
    responses=ERRORS,
    dependencies=ADMIN,
)
async def config_impact(request: Request, body: Annotated[dict[str, Any], Body()]) -> Response:
    return await identity(request, "POST", "/v1/matching-config/impact", json=body, read_timeout=120)


@router.get(
    "/matching-config/learned",
    summary="Weights learnt from the review queue's answers, beside those in force, and what adopting them would move",
    responses=ERRORS,
    dependencies=ADMIN,
)
async def learned_config(request: Request) -> Response:
    return await identity(request, "GET", "/v1/matching-config/learned", read_timeout=120)
