"""The contacts service's internal HTTP API (reached through the gateway). Routes only translate."""

from __future__ import annotations

from typing import Annotated

from cdp_common.contracts.contacts import EmailOut, PhoneOut
from cdp_common.contracts.contacts_api import ContactIn, ContactOut
from cdp_common.logs import trace_id_var
from cdp_common.messaging import EventPublisher
from cdp_common.problems import Problem
from fastapi import APIRouter, Depends, Header, Path, Request, Response

from cdp_contacts.adapters.repository import ContactRepository
from cdp_contacts.domain.model import Contact
from cdp_contacts.service_layer import handlers

router = APIRouter(prefix="/v1/contacts", tags=["contacts"])


def get_repo(request: Request) -> ContactRepository:
    repo: ContactRepository = request.app.state.repo
    return repo


def get_publisher(request: Request) -> EventPublisher:
    publisher: EventPublisher = request.app.state.publisher
    return publisher


Repo = Annotated[ContactRepository, Depends(get_repo)]
Publisher = Annotated[EventPublisher, Depends(get_publisher)]
ContactId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


@router.post("", status_code=201, response_model=ContactOut, summary="Create a contact (golden record)")
async def create_contact(
    body: ContactIn,
    repo: Repo,
    publisher: Publisher,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
) -> ContactOut:
    result = await handlers.create_contact(
        handlers.CreateContact(
            full_name=body.full_name,
            emails=[EmailOut.model_validate(e.model_dump()) for e in body.emails],
            phones=[PhoneOut.model_validate(p.model_dump()) for p in body.phones],
            source=body.source,
            birth_date=body.birth_date,
            preferred_channel=body.preferred_channel,
            lifecycle_stage=body.lifecycle_stage,
            idempotency_key=idempotency_key,
            trace_id=trace_id_var.get(),
        ),
        repo,
        publisher,
    )
    response.headers["Location"] = f"/v1/contacts/{result.contact.id}"
    if result.replayed:
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
    return to_out(result.contact)


@router.get("/{contact_id}", response_model=ContactOut, summary="Read one contact")
async def read_contact(contact_id: ContactId, repo: Repo) -> ContactOut:
    contact = await handlers.get_contact(contact_id, repo)
    if contact is None:
        raise Problem(404, "Contact not found", f"no contact with id {contact_id}")
    return to_out(contact)


def to_out(c: Contact) -> ContactOut:
    return ContactOut(
        id=c.id,
        full_name=c.full_name,
        emails=c.emails,
        phones=c.phones,
        birth_date=c.birth_date,
        preferred_channel=c.preferred_channel,
        lifecycle_stage=c.lifecycle_stage,
        source=c.source,
        created_at=c.created_at,
        updated_at=c.updated_at,
        version=c.version,
    )
