"""Which requests a profile-read fast path may answer: a plain `GET /v1/contacts/{contact_id}` (no query string,
an id of the documented shape, not one of the parameterless GET routes under /v1/contacts/ such as `stale` or
`export`). The gateway's and the contacts service's fast paths both use it, so they agree with each other and
with the routes they stand in for."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

PREFIX = "/v1/contacts/"
TEMPLATE = "/v1/contacts/{contact_id}"
CONTACT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


class _Route:
    path = TEMPLATE  # what the request observer labels metrics and logs with


class ProfileReadPath:
    route = _Route()

    async def answer(
        self, scope: dict[str, Any], send: Any, body: bytes, headers: Sequence[tuple[bytes, bytes]] = ()
    ) -> None:
        """Answer 200 with the JSON `body`, labelled as the documented route for the request observer."""
        scope["route"] = self.route
        start = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers]
        await send({"type": "http.response.start", "status": 200, "headers": start})
        await send({"type": "http.response.body", "body": body})

    def __init__(self, routers: Sequence[Any]) -> None:
        """`routers`: the application's routers; their GET routes under /v1/contacts/ with no parameter are
        theirs, not profile reads."""
        paths = [(getattr(r, "path", ""), getattr(r, "methods", None) or ()) for rt in routers for r in rt.routes]
        self.static = frozenset(p for p, m in paths if p.startswith(PREFIX) and "{" not in p and "GET" in m)

    def contact_id(self, scope: dict[str, Any]) -> str | None:
        """The contact id a request reads, or None when it is not a plain profile read."""
        if scope["type"] != "http" or scope["method"] != "GET" or scope["query_string"]:
            return None
        path: str = scope["path"]
        if not path.startswith(PREFIX) or path in self.static:
            return None
        contact_id = path[len(PREFIX) :]
        return contact_id if CONTACT_ID.fullmatch(contact_id) else None
