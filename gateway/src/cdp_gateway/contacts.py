"""Public contact routes. The body is validated here against the published contract (a bad field is answered at the
edge, naming it), then relayed to the contacts service, which validates again: it is reachable from inside too."""

from __future__ import annotations

from typing import Annotated, Any

from cdp_common.contracts.contacts_api import ContactIn, ContactOut
from fastapi import APIRouter, Header, Path, Request, Response

from cdp_gateway.upstream import Upstream

router = APIRouter(prefix="/v1/contacts", tags=["contacts"])
ContactId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
PROBLEM: dict[str, Any] = {"description": "problem+json (RFC 9457)", "content": {"application/problem+json": {}}}


def contacts_upstream(request: Request) -> Upstream:
    upstream: Upstream = request.app.state.upstreams["contacts"]
    return upstream


@router.post(
    "",
    status_code=201,
    response_model=ContactOut,
    summary="Create a contact",
    responses={
        200: {"model": ContactOut, "description": "Replayed: this Idempotency-Key was already used"},
        422: PROBLEM,
        503: PROBLEM,
    },
)
async def create_contact(
    body: ContactIn,
    request: Request,
    idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
) -> Response:
    headers = {"idempotency-key": idempotency_key} if idempotency_key else None
    return await contacts_upstream(request).relay(
        "POST", "/v1/contacts", json=body.model_dump(mode="json"), headers=headers
    )


@router.get(
    "/{contact_id}", response_model=ContactOut, summary="Read a contact", responses={404: PROBLEM, 503: PROBLEM}
)
async def read_contact(contact_id: ContactId, request: Request) -> Response:
    return await contacts_upstream(request).relay("GET", f"/v1/contacts/{contact_id}")
