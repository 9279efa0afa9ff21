"""Public contact routes. Bodies are validated here against the published contract (a bad field is answered at the
edge, naming it), then relayed to the contacts service, which validates again: it is reachable from inside too."""

from __future__ import annotations

from typing import Annotated, Any

from cdp_common.contracts.contacts_api import (
    ContactIn,
    ContactOut,
    ContactPage,
    ContactPatch,
    CreatedOut,
    HistoryEntry,
    ImportBatch,
    ImportResult,
    LeadStatusChange,
    LifecycleChange,
    TimelinePage,
)
from fastapi import APIRouter, Header, Path, Query, Request, Response

from cdp_gateway.upstream import Upstream

router = APIRouter(prefix="/v1/contacts", tags=["contacts"])
ContactId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
PROBLEM: dict[str, Any] = {"description": "problem+json (RFC 9457)", "content": {"application/problem+json": {}}}
ERRORS: dict[int | str, dict[str, Any]] = {404: PROBLEM, 422: PROBLEM, 503: PROBLEM}


def contacts(request: Request) -> Upstream:
    upstream: Upstream = request.app.state.upstreams["contacts"]
    return upstream


def actor(request: Request) -> dict[str, str]:
    """Who acts, for the histories: the authenticated principal (set by the auth layer), else `anonymous`."""
    principal = getattr(request.state, "principal", None)
    return {"x-actor": principal.subject if principal else "anonymous"}


@router.post(
    "",
    status_code=201,
    response_model=CreatedOut,
    summary="Create a contact; warns of likely duplicates",
    responses={200: {"model": CreatedOut, "description": "Replayed: this Idempotency-Key was already used"}, **ERRORS},
)
async def create_contact(
    body: ContactIn,
    request: Request,
    idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
) -> Response:
    headers = actor(request) | ({"idempotency-key": idempotency_key} if idempotency_key else {})
    return await contacts(request).relay("POST", "/v1/contacts", json=body.model_dump(mode="json"), headers=headers)


@router.get("", response_model=ContactPage, summary="Search contacts", responses=ERRORS)
async def search_contacts(
    request: Request,
    name: Annotated[str | None, Query(max_length=200, description="Accents optional, any word order.")] = None,
    email: Annotated[str | None, Query(max_length=320)] = None,
    phone: Annotated[str | None, Query(max_length=40, description="Any format; VN by default.")] = None,
    lifecycle_stage: str | None = None,
    lead_status: str | None = None,
    tag: Annotated[str | None, Query(max_length=100)] = None,
    owner: Annotated[str | None, Query(max_length=100)] = None,
    sort: Annotated[str, Query(pattern="^(updated_at|created_at|full_name)$")] = "updated_at",
    order: Annotated[str, Query(pattern="^(asc|desc)$")] = "desc",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    """Also filters by custom field values: `custom.<key>=<value>`."""
    return await contacts(request).relay("GET", "/v1/contacts", params=dict(request.query_params))


@router.post(
    "/import-batch",
    response_model=ImportResult,
    summary="Import up to 1,000 rows (the CLI sends batches)",
    responses=ERRORS,
)
async def import_batch(body: ImportBatch, request: Request) -> Response:
    # a batch of 1,000 rows is slow work by design: it gets its own timeout
    return await contacts(request).relay(
        "POST", "/v1/contacts/import-batch", json=body.model_dump(mode="json"), headers=actor(request), read_timeout=120
    )


@router.get("/export", summary="Export a filtered list as NDJSON or CSV (streamed)")
async def export_contacts(
    request: Request,
    format: Annotated[str, Query(pattern="^(ndjson|csv)$")] = "ndjson",
    lifecycle_stage: str | None = None,
    lead_status: str | None = None,
    tag: Annotated[str | None, Query(max_length=100)] = None,
    owner: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    return await contacts(request).stream("GET", "/v1/contacts/export", params=dict(request.query_params))


@router.get("/stale", response_model=ContactPage, summary="Profiles not observed or verified for a year")
async def stale_contacts(request: Request, limit: Annotated[int, Query(ge=1, le=500)] = 100) -> Response:
    return await contacts(request).relay("GET", "/v1/contacts/stale", params={"limit": limit})


@router.get("/{contact_id}", response_model=ContactOut, summary="Read a contact", responses=ERRORS)
async def read_contact(contact_id: ContactId, request: Request) -> Response:
    return await contacts(request).relay("GET", f"/v1/contacts/{contact_id}")


@router.patch("/{contact_id}", response_model=ContactOut, summary="Edit a contact", responses=ERRORS)
async def edit_contact(contact_id: ContactId, body: ContactPatch, request: Request) -> Response:
    return await contacts(request).relay(
        "PATCH",
        f"/v1/contacts/{contact_id}",
        json=body.model_dump(mode="json", exclude_unset=True),
        headers=actor(request),
    )


@router.put(
    "/{contact_id}/lifecycle", response_model=ContactOut, summary="Set the lifecycle stage by hand", responses=ERRORS
)
async def put_lifecycle(contact_id: ContactId, body: LifecycleChange, request: Request) -> Response:
    return await contacts(request).relay(
        "PUT", f"/v1/contacts/{contact_id}/lifecycle", json=body.model_dump(mode="json"), headers=actor(request)
    )


@router.get("/{contact_id}/lifecycle/history", response_model=list[HistoryEntry], responses=ERRORS)
async def lifecycle_history(contact_id: ContactId, request: Request) -> Response:
    return await contacts(request).relay("GET", f"/v1/contacts/{contact_id}/lifecycle/history")


@router.post("/{contact_id}/lead-status", response_model=ContactOut, summary="Set the lead status", responses=ERRORS)
async def post_lead_status(contact_id: ContactId, body: LeadStatusChange, request: Request) -> Response:
    return await contacts(request).relay(
        "POST", f"/v1/contacts/{contact_id}/lead-status", json=body.model_dump(mode="json"), headers=actor(request)
    )


@router.get("/{contact_id}/lead-status/history", response_model=list[HistoryEntry], responses=ERRORS)
async def lead_status_history(contact_id: ContactId, request: Request) -> Response:
    return await contacts(request).relay("GET", f"/v1/contacts/{contact_id}/lead-status/history")


@router.get(
    "/{contact_id}/timeline", response_model=TimelinePage, summary="Interactions, newest first", responses=ERRORS
)
async def timeline(
    contact_id: ContactId,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    type: Annotated[list[str] | None, Query()] = None,
) -> Response:
    params: list[tuple[str, Any]] = [("limit", limit)] + ([("cursor", cursor)] if cursor else [])
    params += [("type", t) for t in type or []]
    return await contacts(request).relay("GET", f"/v1/contacts/{contact_id}/timeline", params=params)


@router.get("/{contact_id}/fields/{field_path}/explain", summary="Why a field has its value", responses=ERRORS)
async def explain_field(
    contact_id: ContactId, field_path: Annotated[str, Path(max_length=64)], request: Request
) -> Response:
    return await contacts(request).relay("GET", f"/v1/contacts/{contact_id}/fields/{field_path}/explain")


@router.get("/{contact_id}/360", summary="The 360° view of a person", responses=ERRORS)
async def view_360(contact_id: ContactId, request: Request) -> Response:
    return await contacts(request).relay("GET", f"/v1/contacts/{contact_id}/360")
