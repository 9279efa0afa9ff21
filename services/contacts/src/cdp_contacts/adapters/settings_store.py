"""Configuration the admins change at run time, kept in the service's own database: custom field definitions and
the versioned survivorship policy (every version kept)."""

from __future__ import annotations

from typing import Any

from cdp_common.events import utcnow
from cdp_common.store import Document
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from cdp_contacts.domain.custom_fields import CustomFieldDefinition
from cdp_contacts.domain.survivorship import SurvivorshipPolicy


class FieldExists(Exception):
    pass


class StaleVersion(Exception):
    pass


class ConfigStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.fields = db["custom_fields"]
        self.policies = db["survivorship_policies"]

    async def custom_fields(self, include_retired: bool = True) -> dict[str, CustomFieldDefinition]:
        flt: dict[str, Any] = {} if include_retired else {"retired": False}
        return {d["_id"]: CustomFieldDefinition.from_doc(d) async for d in self.fields.find(flt)}

    async def define_field(self, definition: CustomFieldDefinition) -> None:
        try:
            await self.fields.insert_one({**definition.to_doc(), "created_at": utcnow()})
        except DuplicateKeyError:
            raise FieldExists(definition.key) from None

    async def change_field(self, key: str, expected_version: int, changes: dict[str, Any]) -> CustomFieldDefinition:
        """Label, options (only added), validation limits or retirement; the key and type never change, so no stored
        value is lost or reinterpreted."""
        result = await self.fields.find_one_and_update(
            {"_id": key, "version": expected_version},
            {"$set": {**changes, "version": expected_version + 1, "updated_at": utcnow()}},
            return_document=True,
        )
        if result is None:
            raise StaleVersion(key)
        return CustomFieldDefinition.from_doc(result)

    async def policy(self) -> SurvivorshipPolicy:
        doc = await self.policies.find_one({}, sort=[("version", -1)])
        return SurvivorshipPolicy.from_doc(doc) if doc else SurvivorshipPolicy()

    async def policy_history(self) -> list[Document]:
        return [d async for d in self.policies.find({}, {"_id": 0}).sort("version", -1)]

    async def save_policy(self, policy: SurvivorshipPolicy, by: str) -> None:
        """`_id` = version: two admins saving version N+1 at once cannot both win."""
        try:
            await self.policies.insert_one({"_id": policy.version, **policy.to_doc(), "by": by, "at": utcnow()})
        except DuplicateKeyError:
            raise StaleVersion(str(policy.version)) from None
