"""Admin configuration of the contacts service: custom fields and the survivorship policy (changeable at run time,
no deploy; the gateway lets only admins reach these)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from cdp_common.problems import Problem
from fastapi import APIRouter, Depends, Header, Path, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator

from cdp_contacts.adapters.settings_store import ConfigStore, FieldExists, StaleVersion
from cdp_contacts.domain.custom_fields import FIELD_TYPES, KEY_PATTERN, CustomFieldDefinition
from cdp_contacts.domain.survivorship import ALL_FIELDS, STRATEGIES, SurvivorshipPolicy

router = APIRouter(tags=["configuration"])


async def get_config(request: Request) -> ConfigStore:
    config: ConfigStore = request.app.state.deps.config
    return config


Config = Annotated[ConfigStore, Depends(get_config)]


class CustomFieldIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str = Field(pattern=KEY_PATTERN.pattern, description="Immutable; values are stored under it.")
    label: str = Field(min_length=1, max_length=100)
    type: Literal["text", "number", "date", "boolean", "single_select", "multi_select", "url", "email", "phone"]
    options: list[str] = Field(default_factory=list, max_length=200)
    required: bool = False
    min: float | None = None
    max: float | None = None
    max_length: int = Field(500, ge=1, le=10_000)
    pattern: str | None = Field(None, max_length=200)

    @model_validator(mode="after")
    def _options_for_selects(self) -> CustomFieldIn:
        if self.type in ("single_select", "multi_select") and not self.options:
            raise ValueError("options are required for select fields")
        return self


class CustomFieldChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = Field(description="The version you read; a stale one is refused (409).")
    label: str | None = Field(None, min_length=1, max_length=100)
    add_options: list[str] = Field(default_factory=list, description="Options can be added, never removed.")
    retired: bool | None = None
    min: float | None = None
    max: float | None = None
    max_length: int | None = Field(None, ge=1, le=10_000)


def _out(d: CustomFieldDefinition) -> dict[str, Any]:
    doc = d.to_doc()
    doc["key"] = doc.pop("_id")
    return doc


@router.get("/v1/custom-fields", summary="Custom field definitions (retired ones included, marked)")
async def list_custom_fields(config: Config) -> list[dict[str, Any]]:
    return [_out(d) for d in (await config.custom_fields()).values()]


@router.post("/v1/custom-fields", status_code=201, summary="Define a custom field (no deploy needed)")
async def define_custom_field(body: CustomFieldIn, config: Config) -> dict[str, Any]:
    assert body.type in FIELD_TYPES
    d = CustomFieldDefinition(
        key=body.key,
        label=body.label,
        type=body.type,
        options=tuple(body.options),
        required=body.required,
        min=body.min,
        max=body.max,
        max_length=body.max_length,
        pattern=body.pattern,
    )
    try:
        await config.define_field(d)
    except FieldExists:
        raise Problem(409, "Field exists", f"custom field {body.key} already exists") from None
    return _out(d)


@router.patch("/v1/custom-fields/{key}", summary="Rename, add options, change limits or retire; values are kept")
async def change_custom_field(
    key: Annotated[str, Path(pattern=KEY_PATTERN.pattern)], body: CustomFieldChange, config: Config
) -> dict[str, Any]:
    current = (await config.custom_fields()).get(key)
    if current is None:
        raise Problem(404, "Unknown custom field", f"no custom field {key}")
    changes: dict[str, Any] = {
        k: v for k, v in body.model_dump(exclude={"version", "add_options"}).items() if k in body.model_fields_set
    }
    if body.add_options:
        changes["options"] = list(current.options) + [o for o in body.add_options if o not in current.options]
    try:
        return _out(await config.change_field(key, body.version, changes))
    except StaleVersion:
        raise Problem(409, "Stale version", f"custom field {key} changed since version {body.version}") from None


class PolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=2, description="The next version: current + 1. Every version is kept.")
    source_priority: list[str] = Field(min_length=1, max_length=50, description="Most trusted first.")
    default_strategy: Literal["staff_then_priority", "most_recent", "source_priority", "most_complete"]
    field_strategies: dict[str, Literal["staff_then_priority", "most_recent", "source_priority", "most_complete"]] = {}

    @model_validator(mode="after")
    def _known_fields(self) -> PolicyIn:
        unknown = sorted(set(self.field_strategies) - set(ALL_FIELDS))
        if unknown:
            raise ValueError(f"unknown field(s): {', '.join(unknown)}")
        return self


@router.get("/v1/survivorship-policy", summary="The survivorship policy in force, and every earlier version")
async def get_policy(config: Config) -> dict[str, Any]:
    return {
        "current": (await config.policy()).to_doc(),
        "history": await config.policy_history(),
        "fields": list(ALL_FIELDS),
        "strategies": list(STRATEGIES),
    }


@router.put("/v1/survivorship-policy", summary="Publish a new version of the survivorship policy")
async def put_policy(
    body: PolicyIn, config: Config, x_actor: Annotated[str, Header(max_length=100)] = "admin"
) -> dict[str, Any]:
    current = await config.policy()
    if body.version != current.version + 1:
        raise Problem(409, "Stale version", f"the policy is at version {current.version}; send {current.version + 1}")
    policy = SurvivorshipPolicy(
        version=body.version,
        source_priority=tuple(body.source_priority),
        default_strategy=body.default_strategy,
        field_strategies=dict(body.field_strategies),
    )
    try:
        await config.save_policy(policy, x_actor)
    except StaleVersion:
        raise Problem(409, "Stale version", "another admin published this version first") from None
    return policy.to_doc()
