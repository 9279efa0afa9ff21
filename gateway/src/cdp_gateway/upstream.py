"""Calls from the gateway to the services' internal HTTP APIs: timeouts everywhere, retries only for idempotent
methods, and a service that is down becomes 503 problem+json at once, never a hang."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
from cdp_common.logs import trace_id_var
from cdp_common.problems import PROBLEM_JSON, Problem
from fastapi import Response
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

log = logging.getLogger("cdp.gateway.upstream")

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
PASSED_RESPONSE_HEADERS = ("location", "idempotent-replayed", "retry-after", "x-total-count", "link")


class Upstream:
    def __init__(self, name: str, base_url: str, client: httpx.AsyncClient, retries: int = 1) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.client = client
        self.retries = retries

    def unreachable(self) -> Problem:
        return Problem(
            503,
            "Service Unavailable",
            f"the {self.name} service is not reachable; try again shortly",
            headers={"Retry-After": "5"},
        )

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Any = None,
        headers: dict[str, str] | None = None,
        read_timeout: float | None = None,
    ) -> httpx.Response:
        attempts = 1 + (self.retries if method in IDEMPOTENT else 0)
        sent_headers = {"x-request-id": trace_id_var.get() or "", **(headers or {})}
        for attempt in range(attempts):
            try:
                return await self.client.request(
                    method,
                    f"{self.base_url}{path}",
                    json=json,
                    params=params,
                    headers=sent_headers,
                    timeout=(
                        httpx.Timeout(read_timeout, connect=self.client.timeout.connect)
                        if read_timeout
                        else httpx.USE_CLIENT_DEFAULT
                    ),
                )
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError) as e:
                if attempt + 1 < attempts:
                    await asyncio.sleep(0.05)
                    continue
                log.warning("upstream unreachable", extra={"upstream": self.name, "error": type(e).__name__})
                raise self.unreachable() from None
            except httpx.TimeoutException:
                # A read timeout on a non-idempotent call may have had its effect: do not resend it.
                log.warning("upstream timed out", extra={"upstream": self.name})
                raise Problem(504, "Gateway Timeout", f"the {self.name} service did not answer in time") from None
        raise AssertionError("unreachable")

    async def relay(self, method: str, path: str, **kwargs: Any) -> Response:
        """Call and hand the service's answer (status, body, selected headers) back to the client."""
        r = await self.call(method, path, **kwargs)
        if r.status_code >= 500:
            log.warning("upstream error", extra={"upstream": self.name, "status": r.status_code})
            raise Problem(502, "Bad Gateway", f"the {self.name} service failed to answer this request")
        headers = {k: v for k, v in r.headers.items() if k.lower() in PASSED_RESPONSE_HEADERS}
        media = r.headers.get("content-type", "application/json")
        if r.status_code >= 400 and "json" in media and "problem" not in media:
            media = PROBLEM_JSON
        return Response(r.content, status_code=r.status_code, headers=headers, media_type=media)

    async def stream(self, method: str, path: str, *, params: Any = None) -> Response:
        """Relay a long answer (exports) chunk by chunk instead of holding it in memory."""
        request = self.client.build_request(
            method,
            f"{self.base_url}{path}",
            params=params,
            headers={"x-request-id": trace_id_var.get() or ""},
            timeout=httpx.Timeout(None, connect=self.client.timeout.connect),
        )
        try:
            upstream = await self.client.send(request, stream=True)
        except (httpx.ConnectError, httpx.ConnectTimeout):
            raise self.unreachable() from None
        if upstream.status_code >= 400:
            body = await upstream.aread()
            await upstream.aclose()
            return Response(body, status_code=upstream.status_code, media_type=PROBLEM_JSON)
        headers = {k: v for k, v in upstream.headers.items() if k.lower() in ("content-disposition",)}
        return StreamingResponse(
            upstream.aiter_raw(),
            status_code=upstream.status_code,
            headers=headers,
            media_type=upstream.headers.get("content-type"),
            background=BackgroundTask(upstream.aclose),
        )


async def audited(
    request: Any, service: str, method: str, path: str, subject: str | None = None, **kw: Any
) -> Response:
    """Relay to `service` and record who read or changed what (the audit trail of personal-data access)."""
    principal = request.state.principal
    response: Response = await request.app.state.upstreams[service].relay(method, path, **kw)
    await request.app.state.auth.record(principal, method, path, response.status_code, subject)
    return response
