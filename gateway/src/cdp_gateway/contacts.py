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
from cdp_common.problems import Problem
from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response

from cdp_gateway.auth import HIDDEN_FIELDS, Allow, Principal, redact
from cdp_gateway.upstream import Upstream, audited

router = APIRouter(prefix="/v1/contacts", tags=["contacts"])
ContactId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
PROBLEM: dict[str, Any] = {"description": "problem+json (RFC 9457)", "content": {"application/problem+json": {}}}
ERRORS: dict[int | str, dict[str, Any]] = {404: PROBLEM, 422: PROBLEM, 503: PROBLEM}


def contacts(request: Request) -> Upstream:
    upstream: Upstream = request.app.state.upstreams["contacts"]
    return upstream


def actor(request: Request) -> dict[str, str]:
    """Who acts, for the histories: the authenticated principal."""
    principal: Principal = request.state.principal
    return {"x-actor": principal.subject}


READ_ROLES = ("admin", "sales", "support", "marketing")
READ = [Depends(Allow(*READ_ROLES))]
WRITE = [Depends(Allow("admin", "sales", "support"))]
LIFECYCLE = [Depends(Allow("admin", "sales", "marketing"))]
LEAD = [Depends(Allow("admin", "sales"))]
IMPORT = [Depends(Allow("admin", "sales", "marketing"))]
EXPORT = [Depends(Allow("admin", "sales"))]  # marketing may not export raw personal data


async def personal(request: Request, method: str, path: str, contact_id: str | None = None, **kwargs: Any) -> Response:
    """Relay a call that reads or changes personal data: audit it, and drop the fields the role may not see."""
    principal: Principal = request.state.principal
    response = await audited(request, "contacts", method, path, contact_id, **kwargs)
    if response.media_type == "application/json" and response.status_code < 400 and HIDDEN_FIELDS.get(principal.role):
        import json

        body = redact(json.loads(bytes(response.body)), principal.role)
        headers = {k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "content-type")}
        return Response(
            json.dumps(body, ensure_ascii=False).encode(),
            status_code=response.status_code,
            headers=headers,
            media_type="application/json",
        )
    return response


@router.post(
    "",
    status_code=201,
    response_model=CreatedOut,
    summary="Create a contact; warns of likely duplicates",
    responses={200: {"model": CreatedOut, "description": "Replayed: this Idempotency-Key was already used"}, **ERRORS},
    dependencies=WRITE,
)
async def create_contact(
    body: ContactIn,
    request: Request,
    idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
) -> Response:
    headers = actor(request) | ({"idempotency-key": idempotency_key} if idempotency_key else {})
    return await personal(request, "POST", "/v1/contacts", json=body.model_dump(mode="json"), headers=headers)


@router.get("", response_model=ContactPage, summary="Search contacts", responses=ERRORS, dependencies=READ)
async def search_contacts(
    request: Request,
    name: Annotated[str | None, Query(max_length=200, description="Accents optional, any word order.")] = None,
    email: Annotated[str | None, Query(max_length=320)] = None,
    phone: Annotated[str | None, Query(max_length=40, description="Any format; VN by default.")] = None,
    q: Annotated[
        str | None,
        Query(max_length=320, description="One search box: an email, a phone in any format, or a name."),
    ] = None,
    lifecycle_stage: str | None = None,
    lead_status: str | None = None,
    tag: Annotated[str | None, Query(max_length=100)] = None,
    owner: Annotated[str | None, Query(max_length=100)] = None,
    sort: Annotated[str, Query(pattern="^(updated_at|created_at|full_name)$")] = "updated_at",
    order: Annotated[str, Query(pattern="^(asc|desc)$")] = "desc",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    """Also filters by custom field values: `custom.<key>=<value>`. An unknown parameter is refused (422)."""
    return await personal(request, "GET", "/v1/contacts", params=dict(request.query_params))


@router.post(
    "/import-batch",
    response_model=ImportResult,
    summary="Import up to 1,000 rows (the CLI sends batches)",
    responses=ERRORS,
    dependencies=IMPORT,
)
async def import_batch(body: ImportBatch, request: Request) -> Response:
    # a batch of 1,000 rows is slow work by design: it gets its own timeout
    return await personal(
        request,
        "POST",
        "/v1/contacts/import-batch",
        json=body.model_dump(mode="json"),
        headers=actor(request),
        read_timeout=120,
    )


@router.get("/export", summary="Export a filtered list as NDJSON or CSV (streamed)", dependencies=EXPORT)
async def export_contacts(
    request: Request,
    format: Annotated[str, Query(pattern="^(ndjson|csv)$")] = "ndjson",
    lifecycle_stage: str | None = None,
    lead_status: str | None = None,
    tag: Annotated[str | None, Query(max_length=100)] = None,
    owner: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    await request.app.state.auth.record(request.state.principal, "GET", "/v1/contacts/export", 200, None)
    return await contacts(request).stream("GET", "/v1/contacts/export", params=dict(request.query_params))


@router.get(
    "/stale", response_model=ContactPage, summary="Profiles not observed or verified for a year", dependencies=READ
)
async def stale_contacts(request: Request, limit: Annotated[int, Query(ge=1, le=500)] = 100) -> Response:
    return await personal(request, "GET", "/v1/contacts/stale", params={"limit": limit})


@router.get("/{contact_id}", response_model=ContactOut, summary="Read a contact", responses=ERRORS, dependencies=READ)
async def read_contact(contact_id: ContactId, request: Request) -> Response:
    return await personal(request, "GET", f"/v1/contacts/{contact_id}", contact_id)


@router.patch(
    "/{contact_id}", response_model=ContactOut, summary="Edit a contact", responses=ERRORS, dependencies=WRITE
)
async def edit_contact(contact_id: ContactId, body: ContactPatch, request: Request) -> Response:
    return await personal(
        request,
        "PATCH",
        f"/v1/contacts/{contact_id}",
        contact_id,
        json=body.model_dump(mode="json", exclude_unset=True),
        headers=actor(request),
    )


@router.put(
    "/{contact_id}/lifecycle",
    response_model=ContactOut,
    summary="Set the lifecycle stage by hand",
    responses=ERRORS,
    dependencies=LIFECYCLE,
)
async def put_lifecycle(contact_id: ContactId, body: LifecycleChange, request: Request) -> Response:
    return await personal(
        request,
        "PUT",
        f"/v1/contacts/{contact_id}/lifecycle",
        contact_id,
        json=body.model_dump(mode="json"),
        headers=actor(request),
    )


@router.get("/{contact_id}/lifecycle/history", response_model=list[HistoryEntry], responses=ERRORS, dependencies=READ)
async def lifecycle_history(contact_id: ContactId, request: Request) -> Response:
    return await personal(request, "GET", f"/v1/contacts/{contact_id}/lifecycle/history", contact_id)


@router.post(
    "/{contact_id}/lead-status",
    response_model=ContactOut,
    summary="Set the lead status",
    responses=ERRORS,
    dependencies=LEAD,
)
async def post_lead_status(contact_id: ContactId, body: LeadStatusChange, request: Request) -> Response:
    return await personal(
        request,
        "POST",
        f"/v1/contacts/{contact_id}/lead-status",
        contact_id,
        json=body.model_dump(mode="json"),
        headers=actor(request),
    )


@router.get("/{contact_id}/lead-status/history", response_model=list[HistoryEntry], responses=ERRORS, dependencies=READ)
async def lead_status_history(contact_id: ContactId, request: Request) -> Response:
    return await personal(request, "GET", f"/v1/contacts/{contact_id}/lead-status/history", contact_id)


@router.get(
    "/{contact_id}/timeline",
    response_model=TimelinePage,
    summary="Interactions, newest first",
    responses=ERRORS,
    dependencies=READ,
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
    return await personal(request, "GET", f"/v1/contacts/{contact_id}/timeline", contact_id, params=params)


@router.get(
    "/{contact_id}/fields/{field_path}/explain",
    summary="Why a field has its value",
    responses=ERRORS,
    dependencies=READ,
)
async def explain_field(
    contact_id: ContactId, field_path: Annotated[str, Path(max_length=64)], request: Request
) -> Response:
    principal: Principal = request.state.principal
    if any(".".join(p) == field_path for p in HIDDEN_FIELDS.get(principal.role, ())):
        raise Problem(403, "Forbidden", f"role {principal.role} may not see {field_path}")
    return await personal(request, "GET", f"/v1/contacts/{contact_id}/fields/{field_path}/explain", contact_id)


@router.get("/{contact_id}/360", summary="The 360° view of a person", responses=ERRORS, dependencies=READ)
async def view_360(contact_id: ContactId, request: Request) -> Response:
    return await personal(request, "GET", f"/v1/contacts/{contact_id}/360", contact_id)
