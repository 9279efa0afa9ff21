from __future__ import annotations

from typing import Any

from cdp_common.events import EventEnvelope
from cdp_common.store import Document
from cdp_contacts.adapters.read_models import ReadModels
from cdp_contacts.adapters.repository import ContactRepository
from cdp_contacts.adapters.settings_store import ConfigStore
from cdp_contacts.adapters.timeline import Timeline
from cdp_contacts.service_layer import handlers
from pymongo.asynchronous.database import AsyncDatabase


class BrokenPublisher:
    async def publish(self, topic: str, event: EventEnvelope) -> None:
        raise ConnectionError("kafka down")

    async def publish_many(self, items: list[tuple[str, EventEnvelope]]) -> None:
        raise ConnectionError("kafka down")


class RecordingPublisher:
    def __init__(self) -> None:
        self.events: list[EventEnvelope] = []

    async def publish(self, topic: str, event: EventEnvelope) -> None:
        self.events.append(event)

    async def publish_many(self, items: list[tuple[str, EventEnvelope]]) -> None:
        self.events += [e for _, e in items]


async def deps_for(db: AsyncDatabase[Document], publisher: Any, topic: str = "t") -> handlers.Deps:
    deps = handlers.Deps(
        repo=ContactRepository(db),
        timeline=Timeline(db),
        config=ConfigStore(db),
        views=ReadModels(db),
        publisher=publisher,
        topic=topic,
    )
    await deps.repo.ensure_indexes()
    await deps.timeline.ensure_indexes()
    return deps


def command(**over: Any) -> handlers.CreateContact:
    base: dict[str, Any] = {
        "values": {
            "full_name": "Phạm Quốc Bảo",
            "emails": [{"address": "bao.pham@example.vn", "type": "personal", "verified": False, "primary": False}],
        },
        "source": "ecommerce",
        "staff": False,
    }
    base.update(over)
    return handlers.CreateContact(**base)
