"""Analytics figures against a running stack (`make up`): ingestion of interaction events, a KPI query over them, and
how soon a segment follows the event that changes its membership. Prints its figures.

1. Defines a dynamic segment (`revenue` over 2,000,000 VND within 90 days) through the gateway.
2. Produces `--events` interaction events straight to Kafka (the documented envelope, acks=all): paid orders, web
   visits, email sent and opened, support tickets, for `--customers` customers, spread over the last year.
   Events/s = events / time from the first send until the analytics consumer group has caught up.
3. Asks `GET /v1/analytics/kpis` for the last year (and the year before, beside it) several times through the gateway,
   for everyone (from the daily roll-ups) and for the segment's members (from their summaries).
4. `--probes` times: a new customer pays 5,000,000 VND; the time from Kafka's acknowledgement until the customer is
   listed in the segment's members through the gateway.

    uv run python bench/analytics_bench.py [--events 20000] [--customers 2000] [--probes 5]

The issue's targets: over 5,000 events/s ingested on 1,000,000 events, any KPI query under 1 s over them, segment
membership within 1 s. Other consumers of the interactions topic (contacts) share the cores; stop them
(`deploy/local/services.sh stop contacts`) to measure analytics alone.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cdp_common.events import EventEnvelope
from cdp_common.topics import INTERACTION_EVENTS

from bench.load import Usage
from bench.settle import consumer_lag

GROUP = "cdp-analytics"


def event(kind: str, contact: str, at: datetime, rng: random.Random, run: str, n: int) -> EventEnvelope:
    data: dict[str, Any] = {"contact_id": contact, "occurred_at": at.isoformat()}
    if kind == "order.paid":
        data |= {"order_id": f"{run}-o{n}", "total": {"amount": rng.choice([150_000, 450_000, 1_200_000, 3_500_000])}}
    elif kind == "web.visited":
        data |= {"session_id": f"{run}-s{n}", "url": "https://shop.vn/"}
    elif kind.startswith("email."):
        data |= {"message_id": f"{run}-m{n // 2}", "campaign_id": "bench"}
    elif kind == "ticket.opened":
        data |= {"ticket_id": f"{run}-t{n}"}
    return EventEnvelope(
        id=uuid.uuid4().hex, source="integration/bench", type=kind, subject=contact, time=datetime.now(UTC), data=data
    )


async def produce(producer: AIOKafkaProducer, events: list[EventEnvelope]) -> None:
    futures = [
        await producer.send(INTERACTION_EVENTS.name, e.model_dump_json(exclude={"datakeyid"}).encode(), key=e.key())
        for e in events
    ]
    await asyncio.gather(*futures)


async def analytics_lag(kafka: str) -> int:
    return (await consumer_lag(kafka)).get(GROUP, 0)


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=20_000)
    ap.add_argument("--customers", type=int, default=2_000)
    ap.add_argument("--probes", type=int, default=5)
    ap.add_argument("--queries", type=int, default=5)
    ap.add_argument("--gateway", default="http://127.0.0.1:8000")
    ap.add_argument("--kafka", default="127.0.0.1:9092")
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    run = uuid.uuid4().hex[:6]
    now = datetime.now(UTC)

    async with httpx.AsyncClient(timeout=60) as c:
        r = await c.post(
            f"{args.gateway}/v1/auth/token", data={"username": "admin", "password": "local-only-change-me"}
        )
        r.raise_for_status()
        admin = {"authorization": f"Bearer {r.json()['access_token']}"}
        segment = f"bench-{run}"
        rules = {"all": [{"metric": "revenue", "within_days": 90, "op": "gt", "value": 2_000_000}]}
        r = await c.put(
            f"{args.gateway}/v1/analytics/segments/{segment}",
            json={"name": "bench spenders", "rules": rules},
            headers=admin,
        )
        r.raise_for_status()

        producer = AIOKafkaProducer(bootstrap_servers=args.kafka, acks="all", enable_idempotence=True, linger_ms=5)
        await producer.start()
        try:
            before = await analytics_lag(args.kafka)
            customers = [f"bench-{run}-c{i}" for i in range(args.customers)]
            kinds = (
                ["order.paid"] * 8 + ["web.visited"] * 6 + ["email.sent"] * 3 + ["email.opened"] * 2 + ["ticket.opened"]
            )
            usage, stop_watching = Usage(), asyncio.Event()
            watcher = asyncio.create_task(usage.watch(stop_watching))
            started = time.perf_counter()
            sent = 0
            for n0 in range(0, args.events, 2000):
                batch = [
                    event(
                        rng.choice(kinds), rng.choice(customers), now - timedelta(days=rng.uniform(0, 365)), rng, run, n
                    )
                    for n in range(n0, min(args.events, n0 + 2000))
                ]
                await produce(producer, batch)
                sent += len(batch)
                print(f"  produced {sent:,}/{args.events:,}", file=sys.stderr, flush=True)
            produced = time.perf_counter() - started
            waiting = await analytics_lag(args.kafka)  # left to apply once the producer (on the same cores) is done
            while (lag := await analytics_lag(args.kafka)) > 0:
                print(f"  analytics behind by {lag:,}", file=sys.stderr, flush=True)
                await asyncio.sleep(2)
            ingested = time.perf_counter() - started
            stop_watching.set()
            await watcher
            print(
                f"ingestion: {args.events:,} events ({before:,} already waiting) produced in {produced:.1f} s, "
                f"applied by analytics in {ingested:.1f} s = {args.events / ingested:,.0f} events/s "
                f"(target over 5,000/s on 1,000,000)"
            )
            tail = ingested - produced
            print(
                f"  of which {waiting:,} were still to apply when the last was produced: applied in {tail:.1f} s = "
                f"{waiting / tail if tail > 0 else 0:,.0f} events/s with no producer on the same cores"
            )
            print(
                "  CPU (share of one core) and peak RSS while ingesting: "
                + ", ".join(f"{k} {c:.2f} / {m:,.0f} MB" for k, (c, m) in sorted(usage.per_service().items()))
            )

            frm, to = (now - timedelta(days=365)).date().isoformat(), now.date().isoformat()
            times = []
            for _ in range(args.queries):
                t = time.perf_counter()
                r = await c.get(f"{args.gateway}/v1/analytics/kpis", params={"from": frm, "to": to}, headers=admin)
                r.raise_for_status()
                times.append(time.perf_counter() - t)
            body = r.json()
            orders = body["kpis"].get("average_order_value", {}).get("inputs", {})
            median_ms, max_ms = statistics.median(times) * 1e3, max(times) * 1e3
            print(
                f"KPI query (every KPI, last year and the year before): median {median_ms:.0f} ms, "
                f"max {max_ms:.0f} ms over {args.queries} queries (target under 1 s); inputs e.g. {orders}"
            )
            times = []
            for _ in range(args.queries):
                t = time.perf_counter()
                r = await c.get(
                    f"{args.gateway}/v1/analytics/kpis",
                    params={"from": frm, "to": to, "segment": segment},
                    headers=admin,
                )
                r.raise_for_status()
                times.append(time.perf_counter() - t)
            r = await c.get(f"{args.gateway}/v1/analytics/segments/{segment}/members", headers=admin)
            members = r.json()["size"] if r.status_code == 200 else "?"
            median_ms, max_ms = statistics.median(times) * 1e3, max(times) * 1e3
            print(
                f"KPI query of the segment ({members} members, from their summaries): median {median_ms:.0f} ms, "
                f"max {max_ms:.0f} ms over {args.queries} queries"
            )

            waits = []
            for k in range(args.probes):
                contact = f"bench-{run}-probe{k}"
                paid = event("order.paid", contact, datetime.now(UTC), rng, run, 10**9 + k)
                paid = paid.model_copy(update={"data": {**paid.data, "total": {"amount": 5_000_000}}})
                await produce(producer, [paid])
                acked = time.perf_counter()
                while time.perf_counter() - acked < 60:
                    r = await c.get(f"{args.gateway}/v1/analytics/segments/{segment}/members", headers=admin)
                    if r.status_code == 200 and any(m["contact_id"] == contact for m in r.json()["items"]):
                        waits.append(time.perf_counter() - acked)
                        break
                    await asyncio.sleep(0.02)
            if waits:
                median_ms, max_ms = statistics.median(waits) * 1e3, max(waits) * 1e3
                print(
                    f"segment membership after the event that changes it: median {median_ms:.0f} ms, "
                    f"max {max_ms:.0f} ms over {len(waits)} probes (target within 1 s)"
                )
            else:
                print("segment membership: no probe appeared within 60 s")
        finally:
            await producer.stop()


if __name__ == "__main__":
    asyncio.run(main())
