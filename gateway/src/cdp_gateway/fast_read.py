"""A profile read (`GET /v1/contacts/{contact_id}`) is what staff screens and integrations do most, so the gateway
answers the ordinary case without the full web stack: this ASGI layer checks the staff token and role, takes the
rate limit, relays to the contacts service, records the audit entry, drops what the role may not see, and writes
the answer. It calls the same `AuthStore`, `RateLimiter`, `Upstream` and `redact` as the documented route.
Anything else (an API key, a bad or missing token, a role without the right, the rate limit reached, an answer
other than 200, a failure) falls through to the documented route, which answers it the usual way (problem+json,
audit, retries included). It sits inside the request observer: trace id, metrics and slow-request logs are the
same as for every route."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from cdp_common.fast_paths import PREFIX, ProfileReadPath
from cdp_common.problems import Problem
from fastapi import APIRouter

from cdp_gateway.auth import HIDDEN_FIELDS, redact
from cdp_gateway.contacts import READ_ROLES
from cdp_gateway.upstream import PASSED_RESPONSE_HEADERS

log = logging.getLogger("cdp.gateway.read")


class FastProfileRead:
    def __init__(self, app: Any, routers: Sequence[APIRouter]) -> None:
        self.app = app
        self.paths = ProfileReadPath(routers)

    @staticmethod
    def _token(scope: dict[str, Any]) -> str | None:
        for k, v in scope["headers"]:
            if k == b"authorization":
                scheme, _, token = v.decode("latin-1").partition(" ")
                return token if scheme.lower() == "bearer" and token and not token.startswith("cdpk_") else None
        return None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        contact_id = self.paths.contact_id(scope)
        token = self._token(scope) if contact_id is not None else None
        if contact_id is None or token is None:
            await self.app(scope, receive, send)
            return
        state = scope["app"].state
        try:
            principal = state.auth.decode_access(token)
        except Problem:
            await self.app(scope, receive, send)
            return
        if principal.role not in READ_ROLES or state.limiter.check(principal.subject):
            await self.app(scope, receive, send)  # the route says 403 or 429 (the bucket is still empty)
            return
        path = f"{PREFIX}{contact_id}"
        try:
            answer = await state.upstreams["contacts"].call("GET", path)
            if answer.status_code != 200:
                await self.app(scope, receive, send)  # a read is idempotent: the route asks again and answers
                return
            await state.auth.record(principal, "GET", path, 200, contact_id)
            body = answer.content
            if HIDDEN_FIELDS.get(principal.role):
                body = json.dumps(redact(json.loads(body), principal.role), ensure_ascii=False).encode()
        except Problem:  # unreachable, timed out: the route tries again and answers with the problem
            await self.app(scope, receive, send)
            return
        except Exception:
            log.warning("fast profile read failed; the documented route answers", exc_info=True)
            await self.app(scope, receive, send)
            return
        passed = [(k.encode(), v.encode()) for k, v in answer.headers.items() if k in PASSED_RESPONSE_HEADERS]
        await self.paths.answer(scope, send, body, passed)
