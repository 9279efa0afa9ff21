"""Erasure and export of everything the contacts service holds about a person. An erased person leaves a
tombstone (its id only), so a late interaction or record link cannot bring the profile back."""

from __future__ import annotations

from typing import Any

from cdp_common.events import utcnow

from cdp_contacts.service_layer.handlers import Deps


async def erase(person_id: str, deps: Deps) -> dict[str, int]:
    db = deps.repo.contacts.database
    await db["erased"].update_one({"_id": person_id}, {"$set": {"at": utcnow()}}, upsert=True)
    own = await deps.repo.get(person_id)
    if own is not None:
        await deps.repo.unindex(own)
    profiles = (await deps.repo.contacts.delete_one({"_id": person_id})).deleted_count
    # contacts merged into this one were part of the person too
    absorbed = [d["_id"] async for d in deps.repo.contacts.find({"merged_into": person_id}, {"_id": 1})]
    for cid in absorbed:
        await db["erased"].update_one({"_id": cid}, {"$set": {"at": utcnow()}}, upsert=True)
        merged = await deps.repo.get(cid)
        if merged is not None:
            await deps.repo.unindex(merged)
        profiles += (await deps.repo.contacts.delete_one({"_id": cid})).deleted_count
    if deps.repo.memory is not None:  # the search memory forgets at once here; other replicas on the answer
        for cid in (person_id, *absorbed):
            deps.repo.memory.drop(cid)
    entries = await deps.timeline.erase(person_id)
    await deps.views.erase(person_id)
    await deps.repo.work.delete_one({"_id": person_id})
    return {"profiles": profiles, "timeline_entries": entries}


async def is_erased(person_id: str, deps: Deps) -> bool:
    return await deps.repo.contacts.database["erased"].find_one({"_id": person_id}) is not None


async def export(person_id: str, deps: Deps) -> dict[str, Any]:
    doc = await deps.repo.contacts.find_one({"_id": person_id}, {"outbox": 0, "applied": 0})  # digests, not data
    timeline = await deps.timeline.all_of(person_id)
    views = await deps.views.get(person_id)
    return {"profile": doc, "timeline": timeline, "read_models": views}
