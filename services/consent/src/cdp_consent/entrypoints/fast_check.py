"""The single check is the hottest call of the platform (every send of every campaign and trigger asks it), so a
replica answers it without the full web stack: this ASGI layer reads the query, asks the same `ledger.check` the
documented route uses, and writes the JSON itself. Anything unusual (a missing or invalid parameter, a repeated
one, a failure) falls through to the documented route, which answers it the usual way, problem+json included.
It sits inside the request observer: trace id, metrics and slow-request logs are the same as for every route."""

from __future__ import annotations

import json
import logging
import typing
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from cdp_common.contracts.consent import Channel, Purpose

log = logging.getLogger("cdp.consent.check")

PATH = "/v1/consent/check"
CHANNELS = frozenset(typing.get_args(Channel))
PURPOSES = frozenset(typing.get_args(Purpose))
PERSON_ID_MAX = 64

Answer = Callable[[Any, str, str, str], Awaitable[dict[str, Any]]]


class _Route:
    path = PATH  # what the request observer labels metrics and logs with


class FastCheck:
    def __init__(self, app: Any, answer: Answer) -> None:
        self.app = app
        self.answer = answer
        self.route = _Route()

    def _parse(self, query: bytes) -> tuple[str, str, str] | None:
        try:
            pairs = parse_qsl(query.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
        except (UnicodeDecodeError, ValueError):
            return None
        params = dict(pairs)
        if len(params) != len(pairs):
            return None  # a repeated parameter: let the documented route say what it makes of it
        pid, channel, purpose = params.get("person_id", ""), params.get("channel", ""), params.get("purpose", "")
        if not 0 < len(pid) <= PERSON_ID_MAX or channel not in CHANNELS or purpose not in PURPOSES:
            return None
        return pid, channel, purpose

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        parsed = self._parse(scope["query_string"])
        if parsed is None:
            await self.app(scope, receive, send)
            return
        try:
            result = await self.answer(scope["app"], *parsed)
        except Exception:
            log.warning("fast check failed; the documented route answers", exc_info=True)
            await self.app(scope, receive, send)
            return
        body = json.dumps(result, separators=(",", ":")).encode()
        scope["route"] = self.route
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})
