"""Sign-in, tokens, staff accounts and integration keys."""

from __future__ import annotations

from typing import Annotated, Any

from cdp_common.contracts import REGISTRY
from cdp_common.problems import Problem
from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, ConfigDict, Field

from cdp_gateway.auth import STAFF, Allow, AuthStore, Principal

router = APIRouter(prefix="/v1", tags=["access"])
ADMIN = [Depends(Allow("admin"))]


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105
    expires_in: int
    refresh_token: str
    role: str


def store(request: Request) -> AuthStore:
    s: AuthStore = request.app.state.auth
    return s


@router.post("/auth/token", response_model=TokenOut, summary="Staff sign-in (OAuth2 password flow)")
async def token(request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> dict[str, Any]:
    return await store(request).login(form.username, form.password)


@router.post("/auth/refresh", response_model=TokenOut, summary="A new token pair for a refresh token (rotated)")
async def refresh(request: Request, refresh_token: Annotated[str, Form(max_length=200)]) -> dict[str, Any]:
    return await store(request).refresh_tokens(refresh_token)


@router.post("/auth/logout", status_code=204, summary="Revoke a refresh token")
async def logout(request: Request, refresh_token: Annotated[str, Form(max_length=200)]) -> None:
    await store(request).revoke_refresh(refresh_token)


@router.get("/auth/me", summary="Who the token belongs to")
async def me(principal: Annotated[Principal, Depends(Allow(*STAFF, "integration"))]) -> dict[str, Any]:
    return {"subject": principal.subject, "role": principal.role, "kind": principal.kind, "scopes": principal.scopes}


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(pattern=r"^[a-z0-9._-]{3,64}$")
    password: str = Field(min_length=12, max_length=200)
    role: str = Field(pattern="^(admin|sales|support|marketing|analyst)$")
    display_name: str | None = Field(None, max_length=100)


@router.post("/users", status_code=201, summary="Create a staff account", dependencies=ADMIN)
async def create_user(body: UserIn, request: Request) -> dict[str, str]:
    await store(request).create_user(body.username, body.password, body.role, body.display_name)
    return {"username": body.username, "role": body.role}


class ApiKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100, examples=["shop-till integration"])
    scopes: list[str] = Field(min_length=1, description="Event types the key may publish, or `<prefix>.*`.")


@router.post("/api-keys", status_code=201, summary="Create an integration key (shown once)", dependencies=ADMIN)
async def create_api_key(body: ApiKeyIn, request: Request) -> dict[str, Any]:
    known = {t for (t, _), _m in REGISTRY.items()}
    for scope in body.scopes:
        if not (scope in known or (scope.endswith(".*") and any(t.startswith(scope[:-1]) for t in known))):
            raise Problem(
                422,
                "Unknown scope",
                f"{scope} names no event type",
                errors=[{"field": "scopes", "in": "body", "message": f"unknown event type {scope}"}],
            )
    principal: Principal = request.state.principal
    key = await store(request).create_api_key(body.name, body.scopes, principal.subject)
    return {"api_key": key, "name": body.name, "scopes": body.scopes}


@router.delete("/api-keys/{key_id}", status_code=204, summary="Revoke an integration key", dependencies=ADMIN)
async def revoke_api_key(key_id: Annotated[str, Path(pattern=r"^[a-f0-9]{12}$")], request: Request) -> None:
    if not await store(request).revoke_api_key(key_id):
        raise Problem(404, "Unknown key", f"no API key {key_id}")
