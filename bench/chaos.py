"""Load with faults: a realistic mix sent through the gateway while every service, the broker and the store are
killed or restarted in turn; afterwards every effect is accounted for, none lost, none twice. Needs `make up`.

The load (drawn from a seed, unique per run):
- `--people` contacts created by staff (`POST /v1/contacts`, Idempotency-Key), each with paid orders, web visits,
  support tickets and email events published by an integration (`POST /v1/events`, batches), and consent
  statements (`POST /v1/consent/statements`, idempotency keys);
- a share (`--direct`, half by default) of the integration's batches is produced straight to Kafka instead;
- source records of `--people / 3` further persons, each seen by 3-5 channels with typos, reordered names and
  phone formats (`identity.record_observed`): a third to two thirds of the records are duplicates of a person
  already seen.
Every call is retried with the same keys until it is answered, as an integration must.

The faults (`--faults`, spread over the run): `kill-<service>` sends SIGKILL to the service's processes and starts
them again 2 s later (for the gateway, one of its processes); `kill-kafka` sends SIGKILL to the broker and starts it
again; `restart-store` stops the document store (it flushes) and starts it again; `scale-<service>-<n>` adds
replicas of a service up to n (they join its consumer group) or stops the extra ones with SIGTERM.

The check, once every consumer group has caught up: each accepted event is on its contact's timeline exactly once
(contacts) and a KPI input exactly once (analytics), each statement is in the ledger exactly once (consent), each
source record is linked to an existing person (identity), each contact exists. It reads the services' databases
directly, as an operator would.

    uv run python bench/chaos.py [--people 200] [--seconds 150] [--faults kill-contacts,kill-kafka,...]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import signal
import subprocess
import sys
import time
import uuid
import zlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from pymongo import AsyncMongoClient

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from cdp_common.events import EventEnvelope  # noqa: E402
from cdp_gateway.ingestion import TOPIC_OF  # noqa: E402

from bench.identity_bench import records_for  # noqa: E402
from bench.settle import settle  # noqa: E402

RUN_DIR = REPO / ".local" / "run"
SERVICES = ("contacts", "identity", "consent", "analytics")
DEFAULT_FAULTS = "kill-contacts,kill-identity,kill-consent,kill-analytics,kill-gateway,kill-kafka,restart-store"


@dataclass
class Tally:
    sent: int = 0
    direct: int = 0  # of `sent`, produced straight to Kafka
    retries: int = 0
    accepted_ids: dict[str, str] = field(default_factory=dict)  # idempotency key -> event id
    kinds: dict[str, str] = field(default_factory=dict)  # event id -> type
    statements: set[str] = field(default_factory=set)
    contacts: set[str] = field(default_factory=set)
    record_keys: set[str] = field(default_factory=set)
    faults: list[tuple[float, str, float]] = field(default_factory=list)


def log(started: float, msg: str) -> None:
    print(f"[{time.monotonic() - started:6.1f}s] {msg}", flush=True)


async def until_answered(call: Any, tally: Tally, what: str) -> httpx.Response:
    """Retry `call` until the platform answers it (not 5xx, no broken connection); same keys every time."""
    delay = 0.2
    while True:
        try:
            r: httpx.Response = await call()
            if r.status_code < 500 and r.status_code != 429:
                return r
        except httpx.TransportError:
            pass
        tally.retries += 1
        await asyncio.sleep(delay)
        delay = min(delay * 1.6, 3.0)


class Load:
    """`direct` is the share of the integration's batches produced straight to Kafka (acks=all, idempotent producer)
    instead of through `POST /v1/events`, as docs/events.md allows; the rest goes through the gateway."""

    def __init__(
        self, gateway: str, seed: int, people: int, run: str, *, kafka: str = "127.0.0.1:9092", direct: float = 0.0
    ) -> None:
        self.gateway = gateway
        self.rng = random.Random(seed)
        self.people = people
        self.run = run
        self.tally = Tally()
        self.kafka = kafka
        self.direct = direct
        self.producer: AIOKafkaProducer | None = None

    async def sign_in(self, c: httpx.AsyncClient) -> tuple[dict[str, str], dict[str, str]]:
        async def token() -> httpx.Response:
            return await c.post(
                f"{self.gateway}/v1/auth/token", data={"username": "admin", "password": "local-only-change-me"}
            )

        admin = {
            "authorization": f"Bearer {(await until_answered(token, self.tally, 'sign-in')).json()['access_token']}"
        }
        scopes = ["order.*", "web.*", "ticket.*", "email.*", "identity.*"]

        async def new_key() -> httpx.Response:
            return await c.post(
                f"{self.gateway}/v1/api-keys", json={"name": f"chaos-{self.run}", "scopes": scopes}, headers=admin
            )

        key = (await until_answered(new_key, self.tally, "api key")).json()["api_key"]
        return admin, {"authorization": f"Bearer {key}"}

    def interactions(self, cid: str, i: int) -> list[dict[str, Any]]:
        now = datetime.now(UTC)
        out: list[dict[str, Any]] = []

        def add(kind: str, days_ago: float, **data: Any) -> None:
            n = len(out)
            at = (now - timedelta(days=days_ago)).isoformat()
            out.append(
                {
                    "idempotency_key": f"chaos-{self.run}-{i}-{n}",
                    "type": kind,
                    "subject": cid,
                    "data": {"contact_id": cid, "occurred_at": at, **data},
                }
            )

        for k in range(self.rng.randint(1, 3)):
            amount = self.rng.choice([150_000, 320_000, 690_000, 1_250_000])
            add("order.paid", self.rng.uniform(1, 300), order_id=f"{self.run}-{i}-o{k}", total={"amount": amount})
        for k in range(self.rng.randint(0, 4)):
            add("web.visited", self.rng.uniform(0, 60), session_id=f"{self.run}-{i}-s{k}", url="https://shop.vn/")
        if self.rng.random() < 0.3:
            add("ticket.opened", self.rng.uniform(0, 30), ticket_id=f"{self.run}-{i}-t")
        if self.rng.random() < 0.6:
            msg = f"{self.run}-{i}-m"
            add("email.sent", 5, message_id=msg, campaign_id="tet-2027")
            if self.rng.random() < 0.5:
                add("email.opened", 4, message_id=msg, campaign_id="tet-2027")
        return out

    def source_records(self) -> list[dict[str, Any]]:
        out = []
        for i in range(max(1, self.people // 3)):
            for r in records_for(self.rng, 10_000 + i, False, None):
                attributes = {
                    k: v
                    for k, v in {
                        "full_name": r["full_name"],
                        "birth_date": r["birth_date"].isoformat() if r["birth_date"] else None,
                        "emails": r["emails"],
                        "phones": r["phones"],
                    }.items()
                    if v
                }
                record_id = f"chaos-{self.run}-{r['record_id']}"
                self.tally.record_keys.add(f"{r['source']}:{record_id}")
                out.append(
                    {
                        "idempotency_key": f"chaos-{self.run}-rec-{record_id}",
                        "type": "identity.record_observed",
                        "subject": f"{r['source']}:{record_id}",
                        "data": {
                            "source": r["source"],
                            "record_id": record_id,
                            "observed_at": datetime.now(UTC).isoformat(),
                            "attributes": attributes,
                        },
                    }
                )
        return out

    async def run_load(self, seconds: float, started: float, workers: int) -> None:
        if self.direct > 0:
            self.producer = AIOKafkaProducer(
                bootstrap_servers=self.kafka,
                acks="all",
                enable_idempotence=True,
                linger_ms=5,
                request_timeout_ms=15_000,
            )
            await self.producer.start()
        try:
            await self._run_load(seconds, started, workers)
        finally:
            if self.producer is not None:
                await self.producer.stop()

    async def _run_load(self, seconds: float, started: float, workers: int) -> None:
        async with httpx.AsyncClient(timeout=30) as c:
            admin, integration = await self.sign_in(c)
            records = self.source_records()
            per_person = max(1, len(records) // self.people)
            deadline = time.monotonic() + seconds

            async def one_person(i: int) -> None:
                key = f"chaos-{self.run}-contact-{i}"
                body = {
                    "full_name": f"Khách Chaos {self.run} số {i}",
                    "emails": [{"address": f"chaos.{self.run}.{i}@example.vn"}],
                    "source": "chaos",
                }

                async def create() -> httpx.Response:
                    return await c.post(
                        f"{self.gateway}/v1/contacts", json=body, headers={**admin, "Idempotency-Key": key}
                    )

                r = await until_answered(create, self.tally, "contact")
                if r.status_code not in (200, 201):
                    raise SystemExit(f"contact {i} refused: {r.status_code} {r.text}")
                cid = r.json()["id"]
                self.tally.contacts.add(cid)
                events = self.interactions(cid, i) + records[i * per_person : (i + 1) * per_person]
                await self.publish(c, integration, events)
                for k, status in enumerate(("granted", "withdrawn")[: self.rng.randint(1, 2)]):
                    statement = {
                        "person_id": cid,
                        "channel": "email",
                        "purpose": "newsletter",
                        "status": status,
                        "source": "chaos",
                        "legal_basis": "consent",
                        "event_time": (datetime.now(UTC) - timedelta(days=10 - k)).isoformat(),
                        "proof": {"text_version": "signup-v3", "ip": "203.0.113.7"},
                        "idempotency_key": f"chaos-{self.run}-st-{i}-{k}",
                    }

                    async def record(s: dict[str, Any] = statement) -> httpx.Response:
                        return await c.post(f"{self.gateway}/v1/consent/statements", json=s, headers=admin)

                    answer = await until_answered(record, self.tally, "statement")
                    if answer.status_code not in (200, 201):
                        raise SystemExit(f"statement refused: {answer.status_code} {answer.text}")
                    self.tally.statements.add(answer.json()["statement_id"])

            queue = iter(range(self.people))
            load_started = time.monotonic()
            done = 0

            async def worker() -> None:
                nonlocal done
                for i in queue:
                    # people arrive evenly over the run, so every fault meets load
                    await asyncio.sleep(max(0.0, load_started + i * seconds / self.people - time.monotonic()))
                    if time.monotonic() > deadline + 60:
                        return
                    await one_person(i)
                    done += 1
                    if done % 25 == 0:
                        log(
                            started,
                            f"load: {done}/{self.people} people, {self.tally.sent} events accepted, "
                            f"{self.tally.retries} retried calls",
                        )

            await asyncio.gather(*(worker() for _ in range(workers)))
            if done < self.people:
                log(started, f"time is up after {done} of {self.people} people")
            rest = records[self.people * per_person :]
            for n in range(0, len(rest), 100):
                await self.publish(c, integration, rest[n : n + 100])

    async def publish(self, c: httpx.AsyncClient, integration: dict[str, str], events: list[dict[str, Any]]) -> None:
        if not events:
            return
        if self.producer is not None and zlib.crc32(events[0]["idempotency_key"].encode()) % 1000 < self.direct * 1000:
            await self.produce(events)
            return

        async def send() -> httpx.Response:
            return await c.post(f"{self.gateway}/v1/events", json={"events": events}, headers=integration)

        r = await until_answered(send, self.tally, "events")
        body = r.json()
        if r.status_code != 202 or body["rejected"]:
            raise SystemExit(f"events refused: {r.status_code} {body}")
        for a in body["accepted"]:
            e = events[a["index"]]
            if e["idempotency_key"] not in self.tally.accepted_ids:
                self.tally.sent += 1
            self.tally.accepted_ids[e["idempotency_key"]] = a["id"]
            self.tally.kinds[a["id"]] = e["type"]

    async def produce(self, events: list[dict[str, Any]]) -> None:
        """Straight to Kafka, as an integration that prefers it: the envelope of docs/events.md keyed by its subject,
        on the topic of its type; the event id derives from the idempotency key, so a re-send is a duplicate the
        consumers drop. Retried until every record is acknowledged by all in-sync replicas."""
        assert self.producer is not None
        envelopes = [
            EventEnvelope(
                id=uuid.uuid5(uuid.NAMESPACE_URL, f"direct:{e['idempotency_key']}").hex,
                source="integration/load-direct",
                type=e["type"],
                subject=e["subject"],
                time=datetime.now(UTC),
                data=e["data"],
            )
            for e in events
        ]
        delay = 0.2
        while True:
            try:
                futures = [
                    await self.producer.send(
                        TOPIC_OF[env.type],
                        env.model_dump_json(exclude={"datakeyid"}).encode(),
                        key=env.key(),
                        headers=[("ce_type", env.type.encode()), ("ce_id", env.id.encode())],
                    )
                    for env in envelopes
                ]
                await asyncio.gather(*futures)
                break
            except KafkaError:
                self.tally.retries += 1
                await asyncio.sleep(delay)
                delay = min(delay * 1.6, 3.0)
        for e, env in zip(events, envelopes, strict=True):
            if e["idempotency_key"] not in self.tally.accepted_ids:
                self.tally.sent += 1
                self.tally.direct += 1
            self.tally.accepted_ids[e["idempotency_key"]] = env.id
            self.tally.kinds[env.id] = env.type


def pids(name: str) -> list[int]:
    out = []
    for f in sorted(RUN_DIR.glob(f"{name}*.pid")):
        try:
            out.append(int(f.read_text().strip()))
        except ValueError:
            continue
    return out


def script(*args: str, replicas: int | None = None) -> None:
    env = {**os.environ, "CDP_REPLICAS_GATEWAY": os.environ.get("CDP_REPLICAS_GATEWAY", "2")}
    if replicas is not None and args[-1] in SERVICES:
        env[f"CDP_REPLICAS_{args[-1].upper()}"] = str(replicas)
    subprocess.run(["bash", *args], cwd=REPO, check=True, env=env, capture_output=True)


def fault(name: str) -> None:
    kind, _, target = name.partition("-")
    if kind == "kill" and target in (*SERVICES, "gateway"):
        victims = pids(f"{target}-0") if target == "gateway" else pids(f"{target}-")
        for pid in victims:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(2)
        replicas = len(list(RUN_DIR.glob(f"{target}-*.pid")))  # start again as many as there were
        script("deploy/local/services.sh", "start", target, replicas=replicas)
    elif kind == "scale" and target.rsplit("-", 1)[0] in SERVICES:
        service, replicas = target.rsplit("-", 1)
        scale(service, int(replicas))
    elif name == "kill-kafka":
        for pid in pids("kafka"):
            os.kill(pid, signal.SIGKILL)
        time.sleep(2)
        script("deploy/local/kafka.sh", "start")
    elif name == "restart-store":
        script("deploy/local/store.sh", "stop")
        script("deploy/local/store.sh", "start")
    else:
        raise SystemExit(f"unknown fault {name}")


def scale(service: str, replicas: int) -> None:
    """Add replicas (they join the consumer group) or stop the extra ones with SIGTERM (they finish what they
    hold; the group rebalances)."""
    running = sorted(RUN_DIR.glob(f"{service}-*.pid"), key=lambda f: int(f.stem.rsplit("-", 1)[1]))
    if replicas > len(running):
        script("deploy/local/services.sh", "start", service, replicas=replicas)
        return
    for pidfile in running[max(1, replicas) :]:
        pid = int(pidfile.read_text().strip())
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        for _ in range(300):
            try:
                os.kill(pid, 0)
                if Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":
                    break
            except (ProcessLookupError, FileNotFoundError):
                break
            time.sleep(0.1)
        pidfile.unlink(missing_ok=True)
        pidfile.with_suffix(".port").unlink(missing_ok=True)


async def inject(faults: list[str], seconds: float, started: float, tally: Tally) -> None:
    gap = seconds / (len(faults) + 1)
    for n, name in enumerate(faults):
        await asyncio.sleep(max(0.0, started + gap * (n + 1) - time.monotonic()))
        t0 = time.monotonic()
        log(started, f"fault: {name}")
        await asyncio.to_thread(fault, name)
        down = time.monotonic() - t0
        tally.faults.append((t0 - started, name, down))
        log(started, f"fault: {name} recovered in {down:.1f}s")


async def verify(store: str, tally: Tally) -> list[tuple[str, int, int, int, int]]:
    """(what, expected, found once, lost, doubled) per kind of effect."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(store)
    ids = list(tally.kinds)
    rows = []
    try:
        contacts = client["cdp_contacts"]
        found = {d["_id"] async for d in contacts["contacts"].find({"_id": {"$in": list(tally.contacts)}}, {"_id": 1})}
        rows.append(("contacts", len(tally.contacts), len(found), len(tally.contacts) - len(found), 0))

        on_timeline = [i for i in ids if tally.kinds[i] != "identity.record_observed"]
        seen = Counter([d["event_id"] async for d in contacts["timeline"].find({}, {"event_id": 1})])
        once = sum(1 for i in on_timeline if seen[i] == 1)
        rows.append(
            (
                "timeline entries",
                len(on_timeline),
                once,
                sum(1 for i in on_timeline if seen[i] == 0),
                sum(1 for i in on_timeline if seen[i] > 1),
            )
        )

        wanted = set(on_timeline)
        facts: Counter[str] = Counter()
        async for d in client["cdp_analytics"]["activity_months"].find(
            {"subject": {"$in": list(tally.contacts)}}, {"facts.id": 1}
        ):
            facts.update(f["id"] for f in d.get("facts", []) if f["id"] in wanted)
        rows.append(
            (
                "KPI inputs (facts)",
                len(on_timeline),
                sum(1 for i in on_timeline if facts[i] == 1),
                sum(1 for i in on_timeline if facts[i] == 0),
                sum(1 for i in on_timeline if facts[i] > 1),
            )
        )

        statements: Counter[str] = Counter()
        async for d in client["cdp_consent"]["subjects"].find(
            {"_id": {"$in": list(tally.contacts)}}, {"statements.id": 1}
        ):
            statements.update(s["id"] for s in d.get("statements", []))
        rows.append(
            (
                "consent statements",
                len(tally.statements),
                sum(1 for s in tally.statements if statements[s] == 1),
                sum(1 for s in tally.statements if statements[s] == 0),
                sum(1 for s in tally.statements if statements[s] > 1),
            )
        )

        identity = client["cdp_identity"]
        linked = {
            d["_id"]: d.get("person_id")
            async for d in identity["source_records"].find({"_id": {"$in": list(tally.record_keys)}}, {"person_id": 1})
        }
        persons = {
            d["_id"] async for d in identity["persons"].find({"_id": {"$in": list(set(linked.values()))}}, {"_id": 1})
        }
        good = sum(1 for k in tally.record_keys if linked.get(k) in persons)
        rows.append(("source records linked", len(tally.record_keys), good, len(tally.record_keys) - good, 0))
    finally:
        await client.close()
    return rows


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--people", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=150, help="how long the load lasts (faults are spread over it)")
    ap.add_argument("--workers", type=int, default=4, help="people loaded at once (each as an integration would)")
    ap.add_argument("--faults", default=DEFAULT_FAULTS, help=f"comma separated; default {DEFAULT_FAULTS}")
    ap.add_argument("--gateway", default="http://127.0.0.1:8000")
    ap.add_argument("--kafka", default="127.0.0.1:9092")
    ap.add_argument("--store", default=os.environ.get("CRM_MONGODB_URI", "mongodb://127.0.0.1:27017"))
    ap.add_argument("--seed", type=int, default=2027)
    ap.add_argument(
        "--direct", type=float, default=0.5, help="share of the integration's batches produced straight to Kafka"
    )
    args = ap.parse_args()

    run = uuid.uuid4().hex[:6]
    load = Load(args.gateway, args.seed, args.people, run, kafka=args.kafka, direct=args.direct)
    faults = [f for f in args.faults.split(",") if f]
    started = time.monotonic()
    log(
        started,
        f"run {run}: {args.people} people arriving evenly over {args.seconds:.0f}s; "
        f"faults: {', '.join(faults) or 'none'}",
    )
    await asyncio.gather(
        load.run_load(args.seconds, started, args.workers), inject(faults, args.seconds, started, load.tally)
    )
    t = load.tally
    log(
        started,
        f"load done: {t.sent} events accepted ({t.direct} straight to Kafka), {len(t.statements)} statements, "
        f"{len(t.contacts)} contacts, "
        f"{t.retries} retried calls; waiting for every consumer group to catch up",
    )
    lag = await settle(args.kafka, timeout_s=900)
    log(started, f"caught up: lag {lag}")
    rows = await verify(args.store, t)
    print("\n| effect | expected | found once | lost | doubled |\n|---|---:|---:|---:|---:|")
    for what, expected, once, lost, doubled in rows:
        print(f"| {what} | {expected:,} | {once:,} | {lost:,} | {doubled:,} |")
    print("\nfaults: " + "; ".join(f"{name} at {at:.0f}s (back in {down:.1f}s)" for at, name, down in t.faults))
    bad = sum(lost + doubled for _, _, _, lost, doubled in rows)
    print(f"\n{'NOTHING LOST, NOTHING TWICE' if bad == 0 else f'{bad} EFFECTS LOST OR DOUBLED'}")
    raise SystemExit(1 if bad else 0)


if __name__ == "__main__":
    asyncio.run(main())
