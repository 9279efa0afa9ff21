"""Admin configuration relayed to the contacts service: custom fields and the survivorship policy."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Request, Response

from cdp_gateway.auth import STAFF, Allow
from cdp_gateway.contacts import ERRORS, actor, contacts

ANY_STAFF = [Depends(Allow(*STAFF))]
ADMIN = [Depends(Allow("admin"))]  # only admins define custom fields and survivorship rules

router = APIRouter(tags=["configuration"])


@router.get("/v1/custom-fields", summary="Custom field definitions", dependencies=ANY_STAFF)
async def list_custom_fields(request: Request) -> Response:
    return await contacts(request).relay("GET", "/v1/custom-fields")


@router.post(
    "/v1/custom-fields", status_code=201, summary="Define a custom field", responses=ERRORS, dependencies=ADMIN
)
async def define_custom_field(request: Request, body: Annotated[dict[str, Any], Body()]) -> Response:
    return await contacts(request).relay("POST", "/v1/custom-fields", json=body, headers=actor(request))


@router.patch(
    "/v1/custom-fields/{key}",
    summary="Rename, add options or retire a custom field",
    responses=ERRORS,
    dependencies=ADMIN,
)
async def change_custom_field(
    key: Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,49}$")],
    request: Request,
    body: Annotated[dict[str, Any], Body()],
) -> Response:
    return await contacts(request).relay("PATCH", f"/v1/custom-fields/{key}", json=body, headers=actor(request))


@router.get("/v1/survivorship-policy", summary="The survivorship policy and its history", dependencies=ANY_STAFF)
async def get_policy(request: Request) -> Response:
    return await contacts(request).relay("GET", "/v1/survivorship-policy")


@router.put(
    "/v1/survivorship-policy", summary="Publish a new survivorship policy version", responses=ERRORS, dependencies=ADMIN
)
async def put_policy(request: Request, body: Annotated[dict[str, Any], Body()]) -> Response:
    return await contacts(request).relay("PUT", "/v1/survivorship-policy", json=body, headers=actor(request))
