"""Between the API's nested shapes and the aggregate's field paths."""

from __future__ import annotations

from typing import Any

from cdp_common.contracts.contacts_api import ContactIn, ContactOut, ContactPatch, DataHealth, FieldProvenance

from cdp_contacts.domain.health import assess
from cdp_contacts.domain.model import Contact

SECTIONS = ("descriptive", "relationship")
TOP = (
    "full_name",
    "birth_date",
    "gender",
    "preferred_channel",
    "emails",
    "phones",
    "addresses",
    "social_profiles",
    "interests",
)


def values_of(body: ContactIn | ContactPatch) -> dict[str, Any]:
    """Field path -> JSON value, only for what the body states (a patch's unset fields are left alone)."""
    patch = isinstance(body, ContactPatch)
    data = body.model_dump(mode="json", exclude_unset=patch)
    out: dict[str, Any] = {}
    for f in TOP:
        # On create, an absent value states nothing; on a patch, an explicit null or [] clears the field.
        if f in data and (patch or data[f] not in (None, [])):
            out[f] = data[f]
    for section in SECTIONS:
        sub = data.get(section)
        if sub:
            given = getattr(body, section).model_fields_set if isinstance(body, ContactPatch) else sub.keys()
            for k in given:
                value = sub.get(k)
                if value in ([], None) and isinstance(body, ContactIn):
                    continue
                out[f"{section}.{k}"] = value
    return out


def to_out(c: Contact, now: Any) -> ContactOut:
    g = c.golden
    descriptive = {k.split(".", 1)[1]: v for k, v in g.items() if k.startswith("descriptive.")}
    relationship = {k.split(".", 1)[1]: v for k, v in g.items() if k.startswith("relationship.")}
    h = assess(g, c.provenance, now)
    return ContactOut.model_validate(
        {
            "id": c.id,
            "full_name": g.get("full_name", ""),
            "birth_date": g.get("birth_date"),
            "gender": g.get("gender"),
            "emails": g.get("emails", []),
            "phones": g.get("phones", []),
            "addresses": g.get("addresses", []),
            "preferred_channel": g.get("preferred_channel"),
            "social_profiles": g.get("social_profiles", []),
            "interests": g.get("interests", []),
            "descriptive": descriptive,
            "relationship": relationship,
            "quantitative": c.quantitative,
            "survey_answers": [{k: v for k, v in a.items() if k != "origin"} for a in c.survey_answers],
            "custom_fields": c.custom_fields,
            "tags": c.tags,
            "owner": c.owner,
            "lifecycle_stage": c.lifecycle_stage,
            "lead_status": c.lead_status,
            "source": c.source,
            "provenance": {k: FieldProvenance(**p) for k, p in c.provenance.items()},
            "health": DataHealth(
                completeness=h.completeness, freshness=h.freshness, score=h.score, missing=h.missing, stale=h.stale
            ),
            "created_at": c.created_at,
            "updated_at": c.updated_at,
            "version": c.version,
            "merged_from": [m["merged_id"] for m in c.merges],
        }
    )
