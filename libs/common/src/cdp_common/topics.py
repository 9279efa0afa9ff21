"""The topic catalogue: every topic the platform uses, with its partition count, and the CLI that creates them.

Naming rule: `cdp.<owning domain>.<stream>.v<major schema version>`. One topic per owning domain carries all of its
event types (the CloudEvents `type` tells them apart) so one person's events stay in order across types; every record
is keyed by the contact (person) id. Dead letters go to `cdp.dlq.<service>.v1`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Topic:
    name: str
    partitions: int
    description: str
    compacted: bool = False
    config: dict[str, str] = field(default_factory=dict, hash=False, compare=False)


CONTACT_EVENTS = Topic("cdp.contacts.events.v1", 12, "Contacts service: contact.* events about golden records.")
IDENTITY_RECORDS = Topic(
    "cdp.identity.source-records.v1", 12, "Source records from channel integrations, to be matched."
)
IDENTITY_EVENTS = Topic("cdp.identity.events.v1", 12, "Identity service: identity.* link, merge, review events.")
CONSENT_EVENTS = Topic("cdp.consent.events.v1", 12, "Consent service: consent.* statements and changes.")
INTERACTION_EVENTS = Topic(
    "cdp.interactions.events.v1",
    12,
    "Channel integrations: orders, tickets, visits, email and social events, surveys, spend.",
)
ANALYTICS_EVENTS = Topic("cdp.analytics.events.v1", 6, "Analytics service: segment.*, dormancy and score events.")
PRIVACY_REQUESTS = Topic("cdp.privacy.requests.v1", 6, "Privacy requests (export, erasure) and confirmations.")
SUBJECT_KEYS = Topic(
    "cdp.privacy.subject-keys.v1",
    6,
    "Data keys per subject (wrapped), for crypto-shredding; a tombstone destroys a key. Compacted within minutes.",
    compacted=True,
    config={
        "segment.ms": "600000",  # a destroyed key leaves the log at most ~10 minutes after its tombstone
        "min.cleanable.dirty.ratio": "0.01",
        "delete.retention.ms": "60000",
        "min.compaction.lag.ms": "0",
    },
)

SERVICES = ("contacts", "identity", "consent", "analytics")


def dead_letter_topic(service: str) -> Topic:
    return Topic(f"cdp.dlq.{service}.v1", 3, f"Messages the {service} service could not handle, with the reason.")


ALL_TOPICS: tuple[Topic, ...] = (
    CONTACT_EVENTS,
    IDENTITY_RECORDS,
    IDENTITY_EVENTS,
    CONSENT_EVENTS,
    INTERACTION_EVENTS,
    ANALYTICS_EVENTS,
    PRIVACY_REQUESTS,
    SUBJECT_KEYS,
    *(dead_letter_topic(s) for s in SERVICES),
)


async def ensure_topics(
    bootstrap: str,
    topics: tuple[Topic, ...] = ALL_TOPICS,
    replication_factor: int = 1,
    timeout_s: float = 60.0,
) -> list[str]:
    """Create the missing topics; existing ones are left alone. Returns the names created."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError

    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
        try:
            await admin.start()
            break
        except KafkaConnectionError:
            await admin.close()
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.5)
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t.name not in existing]
        if missing:
            new = [
                NewTopic(
                    name=t.name,
                    num_partitions=t.partitions,
                    replication_factor=replication_factor,
                    topic_configs={**({"cleanup.policy": "compact"} if t.compacted else {}), **t.config},
                )
                for t in missing
            ]
            try:
                await admin.create_topics(new, timeout_ms=30_000)
            except TopicAlreadyExistsError:
                pass  # a concurrent creator won the race; that is the state we want
        return [t.name for t in missing]
    finally:
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description="Create the platform's Kafka topics (idempotent).")
    parser.add_argument("--bootstrap", default=None, help="defaults to CRM_KAFKA_BOOTSTRAP or 127.0.0.1:9092")
    parser.add_argument("--replication-factor", type=int, default=1, help="1 on a single broker; 3 in production")
    args = parser.parse_args()
    from cdp_common.settings import ServiceSettings

    bootstrap = args.bootstrap or ServiceSettings().kafka_bootstrap
    created = asyncio.run(ensure_topics(bootstrap, replication_factor=args.replication_factor))
    for t in ALL_TOPICS:
        state = "created" if t.name in created else "exists"
        print(f"{t.name:40s} partitions={t.partitions:<3d} {state}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
