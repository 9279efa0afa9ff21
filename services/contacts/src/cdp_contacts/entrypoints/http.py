"""The contacts service's internal HTTP API (reached through the gateway). Routes only translate: HTTP in,
command to a handler, result out. The acting staff member arrives in `X-Actor` (set by the gateway)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Annotated, Any

from cdp_common.contracts.contacts_api import (
    ContactIn,
    ContactOut,
    ContactPage,
    ContactPatch,
    CreatedOut,
    DuplicateHint,
    HistoryEntry,
    ImportBatch,
    ImportResult,
    LeadStatusChange,
    LifecycleChange,
    TimelinePage,
)
from cdp_common.events import utcnow
from cdp_common.logs import trace_id_var
from cdp_common.problems import Problem
from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.responses import StreamingResponse

from cdp_contacts.adapters.repository import SORTS, SearchQuery
from cdp_contacts.domain.model import Contact
from cdp_contacts.domain.survivorship import ALL_FIELDS
from cdp_contacts.service_layer import bulk, handlers
from cdp_contacts.service_layer.mapping import to_out, values_of

router = APIRouter(prefix="/v1/contacts", tags=["contacts"])


async def get_deps(request: Request) -> handlers.Deps:
    deps: handlers.Deps = request.app.state.deps
    return deps


Deps = Annotated[handlers.Deps, Depends(get_deps)]
ContactId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
Actor = Annotated[str, Header(alias="x-actor", max_length=100)]


def invalid(e: handlers.InvalidInput) -> Problem:
    return Problem(
        422,
        "Request validation failed",
        "invalid field(s): " + ", ".join(x["field"] for x in e.errors),
        type_="https://cdp.dev/problems/validation",
        errors=[{**x, "in": "body"} for x in e.errors],
    )


def not_found(contact_id: str) -> Problem:
    return Problem(404, "Contact not found", f"no contact with id {contact_id}")


async def existing(contact_id: str, deps: handlers.Deps) -> Contact:
    """The contact (or the survivor it was merged into), else 404."""
    contact = await handlers.get_contact(contact_id, deps)
    if contact is None:
        raise not_found(contact_id)
    return contact


@router.post("", status_code=201, response_model=CreatedOut, summary="Create a contact (golden record)")
async def create_contact(
    body: ContactIn,
    deps: Deps,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
    x_actor: Annotated[str, Header(max_length=100)] = "staff",
) -> CreatedOut:
    try:
        result = await handlers.create_contact(
            handlers.CreateContact(
                values=values_of(body),
                source=body.source,
                staff=body.source == "staff",
                by=x_actor,
                tags=body.tags,
                owner=body.owner,
                custom_fields=body.custom_fields,
                lifecycle_stage=body.lifecycle_stage,
                lead_status=body.lead_status,
                idempotency_key=idempotency_key,
                trace_id=trace_id_var.get(),
            ),
            deps,
        )
    except handlers.InvalidInput as e:
        raise invalid(e) from None
    response.headers["Location"] = f"/v1/contacts/{result.contact.id}"
    if result.replayed:
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
    out = to_out(result.contact, utcnow())
    hints = [
        DuplicateHint(id=d.id, full_name=d.full_name, reason=_why_duplicate(result.contact, d))
        for d in result.likely_duplicates
    ]
    return CreatedOut(**out.model_dump(), likely_duplicates=hints)


def _why_duplicate(new: Any, other: Any) -> str:
    emails = {e["address"].lower() for e in new.golden.get("emails", [])} & {
        e["address"].lower() for e in other.golden.get("emails", [])
    }
    phones = {p["number"] for p in new.golden.get("phones", [])} & {p["number"] for p in other.golden.get("phones", [])}
    if emails:
        return "same email"
    if phones:
        return "same phone"
    return "same name and birth date"


SEARCH_PARAMETERS = frozenset(
    (
        "name",
        "email",
        "phone",
        "q",
        "lifecycle_stage",
        "lead_status",
        "tag",
        "owner",
        "sort",
        "order",
        "limit",
        "cursor",
    )
)
PHONE_LIKE = re.compile(r"[+()\d\s.-]{6,}")


@router.get("", response_model=ContactPage, summary="Search contacts (cursor pagination)")
async def search_contacts(
    request: Request,
    deps: Deps,
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
    sort: Annotated[str, Query(pattern="^(" + "|".join(SORTS) + ")$")] = "updated_at",
    order: Annotated[str, Query(pattern="^(asc|desc)$")] = "desc",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> ContactPage:
    from cdp_common.identifiers import normalise_phone

    unknown = [k for k in request.query_params if k not in SEARCH_PARAMETERS and not k.startswith("custom.")]
    if unknown:  # a misspelt filter must not quietly answer with everyone
        raise Problem(
            422,
            "Unknown search parameter",
            f"not a search parameter: {', '.join(unknown)}",
            errors=[{"field": k, "in": "query", "message": "not a search parameter"} for k in unknown],
        )
    if q and q.strip():
        typed = q.strip()
        if "@" in typed:
            email = email or typed
        elif PHONE_LIKE.fullmatch(typed):
            phone = phone or typed
        else:
            name = name or typed
    if phone:
        try:
            phone = normalise_phone(phone)
        except ValueError:
            raise Problem(
                422,
                "Invalid phone",
                "phone is not a valid phone number",
                errors=[{"field": "phone", "in": "query", "message": "not a valid phone number"}],
            ) from None
    custom = tuple((k.removeprefix("custom."), v) for k, v in request.query_params.items() if k.startswith("custom."))
    try:
        contacts, next_cursor = await deps.repo.search(
            SearchQuery(
                name=name,
                email=email,
                phone=phone,
                lifecycle_stage=lifecycle_stage,
                lead_status=lead_status,
                tag=tag,
                owner=owner,
                custom=custom,
                sort=sort,
                descending=order == "desc",
                limit=limit,
                cursor=cursor,
            )
        )
    except ValueError as e:
        raise Problem(
            422, "Invalid cursor", str(e), errors=[{"field": "cursor", "in": "query", "message": str(e)}]
        ) from None
    now = utcnow()
    return ContactPage(items=[to_out(c, now) for c in contacts], next_cursor=next_cursor)


@router.post("/import-batch", response_model=ImportResult, summary="Import up to 1,000 rows; bad rows are reported")
async def import_batch(
    body: ImportBatch, deps: Deps, x_actor: Annotated[str, Header(max_length=100)] = "import"
) -> ImportResult:
    return await bulk.import_batch(body, deps, x_actor)


EXPORT_FIELDS = (
    "id",
    "full_name",
    "emails",
    "phones",
    "birth_date",
    "lifecycle_stage",
    "lead_status",
    "tags",
    "owner",
    "created_at",
    "updated_at",
)


@router.get("/export", summary="Export a filtered list as NDJSON (one ContactOut per line) or CSV")
async def export_contacts(
    deps: Deps,
    format: Annotated[str, Query(pattern="^(ndjson|csv)$")] = "ndjson",
    lifecycle_stage: str | None = None,
    lead_status: str | None = None,
    tag: Annotated[str | None, Query(max_length=100)] = None,
    owner: Annotated[str | None, Query(max_length=100)] = None,
) -> StreamingResponse:
    flt = {
        k: v
        for k, v in {
            "lifecycle_stage": lifecycle_stage,
            "lead_status": lead_status,
            "tags": tag,
            "owner": owner,
        }.items()
        if v is not None
    }
    now = utcnow()

    async def lines() -> AsyncIterator[bytes]:
        if format == "csv":
            yield (",".join(EXPORT_FIELDS) + "\n").encode()
        async for c in deps.repo.iterate(flt):
            out = to_out(c, now)
            if format == "ndjson":
                yield out.model_dump_json().encode() + b"\n"
            else:
                yield _csv_line(out).encode()

    media = "application/x-ndjson" if format == "ndjson" else "text/csv"
    return StreamingResponse(
        lines(), media_type=media, headers={"content-disposition": f'attachment; filename="contacts.{format}"'}
    )


def _csv_line(c: ContactOut) -> str:
    import csv
    import io

    buf = io.StringIO()
    csv.writer(buf).writerow(
        [
            c.id,
            c.full_name,
            ";".join(e.address for e in c.emails),
            ";".join(p.number for p in c.phones),
            c.birth_date or "",
            c.lifecycle_stage or "",
            c.lead_status or "",
            ";".join(c.tags),
            c.owner or "",
            c.created_at.isoformat(),
            c.updated_at.isoformat(),
        ]
    )
    return buf.getvalue()


@router.get("/stale", response_model=ContactPage, summary="Profiles whose data was not observed or verified for a year")
async def stale_contacts(deps: Deps, limit: Annotated[int, Query(ge=1, le=500)] = 100) -> ContactPage:
    from cdp_contacts.domain.health import STALE_AFTER

    now = utcnow()
    contacts = await deps.repo.stale(now - STALE_AFTER, limit)
    return ContactPage(items=[to_out(c, now) for c in contacts], next_cursor=None)


@router.get(
    "/{contact_id}", response_model=ContactOut, summary="Read one contact (an absorbed id answers with its survivor)"
)
async def read_contact(contact_id: ContactId, deps: Deps) -> Response:
    contact = await existing(contact_id, deps)
    # serialised once from the model built here (FastAPI would validate the model again before serialising it)
    return Response(to_out(contact, utcnow()).model_dump_json().encode(), media_type="application/json")


@router.patch("/{contact_id}", response_model=ContactOut, summary="Edit a contact; only the fields given change")
async def edit_contact(
    contact_id: ContactId,
    body: ContactPatch,
    deps: Deps,
    x_actor: Annotated[str, Header(max_length=100)] = "staff",
) -> ContactOut:
    try:
        contact = await handlers.update_contact(
            contact_id,
            values_of(body),
            source=body.source,
            staff=body.source == "staff",
            deps=deps,
            tags=body.tags,
            owner=body.owner,
            owner_given="owner" in body.model_fields_set,
            custom_fields=body.custom_fields,
            trace_id=trace_id_var.get(),
        )
    except handlers.InvalidInput as e:
        raise invalid(e) from None
    except handlers.ContactNotFound:
        raise not_found(contact_id) from None
    return to_out(contact, utcnow())


@router.put(
    "/{contact_id}/lifecycle", response_model=ContactOut, summary="Set the lifecycle stage by hand, with a reason"
)
async def put_lifecycle(
    contact_id: ContactId, body: LifecycleChange, deps: Deps, x_actor: Annotated[str, Header(max_length=100)] = "staff"
) -> ContactOut:
    try:
        contact = await handlers.set_lifecycle(
            contact_id, body.stage, by=x_actor, reason=body.reason, deps=deps, trace_id=trace_id_var.get()
        )
    except handlers.ContactNotFound:
        raise not_found(contact_id) from None
    return to_out(contact, utcnow())


@router.get("/{contact_id}/lifecycle/history", response_model=list[HistoryEntry], summary="Every stage change")
async def lifecycle_history(contact_id: ContactId, deps: Deps) -> list[HistoryEntry]:
    contact = await existing(contact_id, deps)
    return [HistoryEntry.model_validate(h) for h in reversed(contact.lifecycle_history)]


@router.post("/{contact_id}/lead-status", response_model=ContactOut, summary="Set the lead status (kept in history)")
async def post_lead_status(
    contact_id: ContactId, body: LeadStatusChange, deps: Deps, x_actor: Annotated[str, Header(max_length=100)] = "staff"
) -> ContactOut:
    try:
        contact = await handlers.set_lead_status(
            contact_id, body.status, by=x_actor, note=body.note, deps=deps, trace_id=trace_id_var.get()
        )
    except handlers.ContactNotFound:
        raise not_found(contact_id) from None
    return to_out(contact, utcnow())


@router.get("/{contact_id}/lead-status/history", response_model=list[HistoryEntry], summary="Every lead status set")
async def lead_status_history(contact_id: ContactId, deps: Deps) -> list[HistoryEntry]:
    contact = await existing(contact_id, deps)
    return [HistoryEntry.model_validate(h) for h in reversed(contact.lead_status_history)]


@router.get("/{contact_id}/fields/{field_path}/explain", summary="Why a field has its value: rule and every candidate")
async def explain_field(contact_id: ContactId, field_path: str, deps: Deps) -> dict[str, Any]:
    if field_path not in ALL_FIELDS:
        raise Problem(404, "Unknown field", f"{field_path} is not a profile field; known: {', '.join(ALL_FIELDS)}")
    contact = await existing(contact_id, deps)
    return contact.explain(field_path, await deps.config.policy())


@router.get("/{contact_id}/timeline", response_model=TimelinePage, summary="Interactions, newest first")
async def timeline(
    contact_id: ContactId,
    deps: Deps,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    type: Annotated[list[str] | None, Query(description="Only these event types.")] = None,
) -> TimelinePage:
    from cdp_contacts.adapters.repository import decode_cursor, encode_cursor

    contact = await existing(contact_id, deps)
    after = None
    if cursor:
        try:
            after = decode_cursor(cursor)[1]
        except ValueError as e:
            raise Problem(
                422, "Invalid cursor", str(e), errors=[{"field": "cursor", "in": "query", "message": str(e)}]
            ) from None
    entries = await deps.timeline.page(contact.id, limit + 1, after, type)
    more = len(entries) > limit
    entries = entries[:limit]
    items = [{"id": e["event_id"], "type": e["type"], "at": e["at"], "data": e["data"]} for e in entries]
    return TimelinePage(items=items, next_cursor=encode_cursor("t", entries[-1]["_id"]) if more else None)


@router.get("/{contact_id}/360", summary="Profile, figures, recent timeline, consent, identity links and scores")
async def view_360(contact_id: ContactId, deps: Deps) -> dict[str, Any]:
    contact = await existing(contact_id, deps)
    recent = await deps.timeline.page(contact.id, 20)
    views = await deps.views.get(contact.id)
    return {
        "profile": to_out(contact, utcnow()).model_dump(mode="json"),
        "quantitative": contact.quantitative,
        "recent_timeline": [{"id": e["event_id"], "type": e["type"], "at": e["at"], "data": e["data"]} for e in recent],
        "lifecycle_history": list(reversed(contact.lifecycle_history))[:20],
        "lead_status_history": list(reversed(contact.lead_status_history))[:20],
        "consent": _section(views, "consent"),
        "identity": _section(views, "identity"),
        "scores": _section(views, "scores"),
        "segments": _section(views, "segments"),
    }


def _section(views: dict[str, Any], name: str) -> dict[str, Any]:
    return {k.replace("~", "."): v for k, v in (views.get(name) or {}).items()}
