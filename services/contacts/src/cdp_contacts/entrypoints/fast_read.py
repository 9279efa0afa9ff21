"""A profile read (`GET /v1/contacts/{contact_id}`) is what the gateway asks most, so this ASGI layer answers the
ordinary case without the full web stack (routing, dependency injection, request and response objects: a fifth of
the service's time per read): one store read, the same `to_out` mapping, the same JSON. Anything else (an absorbed
id, which answers with its survivor, an unknown one, a query string, a failure, a service still starting) falls
through to the documented route, which answers it the usual way. It sits inside the request observer: trace id,
metrics and slow-request logs are the same as for every route."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from cdp_common.events import utcnow
from cdp_common.fast_paths import ProfileReadPath
from fastapi import APIRouter

from cdp_contacts.service_layer.mapping import to_out

log = logging.getLogger("cdp.contacts.read")


class FastContactRead:
    def __init__(self, app: Any, routers: Sequence[APIRouter]) -> None:
        self.app = app
        self.paths = ProfileReadPath(routers)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        contact_id = self.paths.contact_id(scope)
        if contact_id is None:
            await self.app(scope, receive, send)
            return
        try:
            contact = await scope["app"].state.deps.repo.get(contact_id)
            if contact is None or contact.status == "merged":
                await self.app(scope, receive, send)  # 404, or the survivor's profile
                return
            body = to_out(contact, utcnow()).model_dump_json().encode()
        except Exception:
            log.warning("fast contact read failed; the documented route answers", exc_info=True)
            await self.app(scope, receive, send)
            return
        await self.paths.answer(scope, send, body)
