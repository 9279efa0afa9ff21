"""RFC 9457 problem+json for every HTTP error: bad input names the field at fault, never a 500."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pymongo.errors import ConnectionFailure
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("cdp.http")


class Problem(Exception):
    """Raise from a handler or route to answer with problem+json."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        *,
        type_: str = "about:blank",
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.type = type_
        self.errors = errors
        self.headers = headers
        self.extensions = extensions

    def body(self, instance: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "title": self.title, "status": self.status}
        if self.detail:
            out["detail"] = self.detail
        if instance:
            out["instance"] = instance
        if self.errors:
            out["errors"] = self.errors
        out.update(self.extensions)
        return out


def problem_response(problem: Problem, instance: str | None = None) -> JSONResponse:
    return JSONResponse(
        problem.body(instance), status_code=problem.status, media_type=PROBLEM_JSON, headers=problem.headers
    )


def field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    """`("body", "emails", 0, "address")` -> `emails[0].address`; the location part is dropped."""
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:]
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "body"


def validation_errors(errors: Any) -> list[dict[str, Any]]:
    result = []
    for e in errors:
        loc = e.get("loc", ())
        result.append(
            {
                "field": field_path(loc),
                "in": loc[0] if loc and loc[0] in ("body", "query", "path", "header") else "body",
                "message": e.get("msg", "invalid"),
                "code": e.get("type", "invalid"),
            }
        )
    return result


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc, request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = validation_errors(exc.errors())
        fields = ", ".join(sorted({e["field"] for e in errors}))
        p = Problem(
            422,
            "Request validation failed",
            f"invalid field(s): {fields}",
            type_="https://cdp.dev/problems/validation",
            errors=errors,
        )
        return problem_response(p, request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        p = Problem(exc.status_code, _title(exc.status_code), str(exc.detail) if exc.detail else None)
        p.headers = dict(exc.headers) if exc.headers else None
        return problem_response(p, request.url.path)

    @app.exception_handler(ConnectionFailure)
    async def _store_away(request: Request, exc: ConnectionFailure) -> JSONResponse:
        # The service's own store is restarting or out of reach (the driver reconnects at the next operation): the
        # request may be retried, as from any service that is down, and nothing was half-written by it failing.
        log.warning("document store unreachable", extra={"path": request.url.path, "error": type(exc).__name__})
        p = Problem(503, "Service Unavailable", "the service's data store is unreachable; retry shortly")
        p.headers = {"Retry-After": "1"}
        return problem_response(p, request.url.path)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", extra={"path": request.url.path})
        return problem_response(Problem(500, "Internal Server Error", "an unexpected error was logged"))


def _title(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
