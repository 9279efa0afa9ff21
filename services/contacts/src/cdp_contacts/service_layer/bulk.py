"""Bulk import: a batch of rows becomes contacts in one round trip to the store and one to Kafka. A bad row is
reported with its field and skipped; the rest lands. Row ids derive from (import id, row number), so running the
same file again creates nothing twice."""

from __future__ import annotations

import uuid

from cdp_common.contracts.contacts_api import ContactIn, ImportBatch, ImportResult, RowError
from cdp_common.events import utcnow
from cdp_common.problems import validation_errors
from pydantic import ValidationError

from cdp_contacts.domain.custom_fields import validate_values
from cdp_contacts.domain.model import Contact
from cdp_contacts.service_layer.handlers import Deps, log
from cdp_contacts.service_layer.mapping import values_of

_IMPORT_NS = uuid.UUID("0b6f1f0e-3c1b-4a43-8b0f-2a4f5b1e9d77")


async def import_batch(batch: ImportBatch, deps: Deps, by: str) -> ImportResult:
    now = utcnow()
    policy = await deps.config.policy()
    definitions = await deps.config.custom_fields()
    errors: list[RowError] = []
    contacts: list[Contact] = []
    for row in batch.rows:
        try:
            body = ContactIn.model_validate(row.data)
        except ValidationError as e:
            errors += [
                RowError(row=row.row, field=x["field"], message=x["message"]) for x in validation_errors(e.errors())
            ]
            continue
        custom, custom_errors = validate_values(body.custom_fields, definitions)
        if custom_errors:
            errors += [RowError(row=row.row, field=x["field"], message=x["message"]) for x in custom_errors]
            continue
        c = Contact.create(
            values=values_of(body),
            source=body.source,
            now=now,
            policy=policy,
            staff=body.source == "staff",
            contact_id=uuid.uuid5(_IMPORT_NS, f"{batch.import_id}:{row.row}").hex,
        )
        c.organise(
            now=now, tags=body.tags or None, owner=body.owner, owner_given=body.owner is not None, custom_fields=custom
        )
        if body.lifecycle_stage:
            c.set_lifecycle(body.lifecycle_stage, by=by, reason=f"import {batch.import_id}", now=now)
        if body.lead_status:
            c.set_lead_status(body.lead_status, by=by, note=f"import {batch.import_id}", now=now)
        contacts.append(c)
    created_ids, written = await deps.repo.add_many(contacts, deps.topic)
    fresh = [c for c in contacts if c.id in created_ids]
    if not written.outbox:
        await deps.repo.batch_published(written.token)  # every row was imported before: nothing to send
    else:
        try:
            await deps.publisher.publish_many(written.outbox)
            await deps.repo.batch_published(written.token)
        except Exception:
            log.warning("bulk publish failed; the outbox relay will retry", extra={"rows": len(written.outbox)})
    return ImportResult(
        created=len(fresh),
        already_imported=len(contacts) - len(fresh),
        rejected=len({e.row for e in errors}),
        errors=errors,
    )
