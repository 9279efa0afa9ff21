"""The published event contract: every event type's payload model, registered by (type, schema version).

This is the part of the platform outsiders code against (channel integrations publish some of these straight to
Kafka), so it lives in the shared package and docs/events.md is generated from it (`python -m cdp_common.contracts`).
"""

from __future__ import annotations

from cdp_common.contracts import analytics, consent, contacts, identity, interactions, privacy
from cdp_common.events import EventTypeRegistry

REGISTRY = EventTypeRegistry()
for _module in (contacts, interactions, identity, consent, analytics, privacy):
    for _type, _model in _module.EVENT_TYPES.items():
        REGISTRY.register(_type, _model)

__all__ = ["REGISTRY", "analytics", "consent", "contacts", "identity", "interactions", "privacy"]
