"""Event ingestion through the gateway to Kafka, beside Kafka's own producer benchmark on the same machine.

Sends `--events` order/visit events in batches of 1,000 (`--concurrency` batches in flight) with an integration
key, counts what the gateway accepted after Kafka acknowledged (acks=all), and prints events/s; then runs
`kafka-producer-perf-test`'s class (org.apache.kafka.tools.ProducerPerformance) from the same jars with acks=all
and the same record size, as the ceiling. Needs `make up` (two gateway processes share port 8000 there; the
consumers of every service keep working through what arrives, on the same cores, as they would in production).

`--follow cdp-contacts cdp-analytics` then waits until those consumer groups have applied everything on the
interactions topic, printing their lag every 5 s, and prints how many events each applied per second from the first
event sent (a service slower than the gateway shows here as a backlog that takes long to clear).

    uv run python bench/ingestion_bench.py [--events 100000] [--concurrency 4] [--follow GROUP ...]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

REPO = Path(__file__).resolve().parents[1]


def admin_token(gateway: str) -> str:
    r = httpx.post(f"{gateway}/v1/auth/token", data={"username": "admin", "password": "local-only-change-me"})
    r.raise_for_status()
    return str(r.json()["access_token"])


async def ingest(gateway: str, key: str, total: int, concurrency: int) -> tuple[int, float, int]:
    now = datetime.now(UTC).isoformat()
    run = uuid.uuid4().hex[:8]

    def batch(n: int) -> dict[str, object]:
        events = []
        for i in range(n * 1000, min(total, (n + 1) * 1000)):
            cid = f"bench-{i % 5000}"
            events.append(
                {
                    "idempotency_key": f"{run}-{i}",
                    "type": "web.visited",
                    "subject": cid,
                    "data": {
                        "contact_id": cid,
                        "occurred_at": now,
                        "session_id": f"s{i}",
                        "url": "https://shop.example.vn/san-pham/ao-dai",
                    },
                }
            )
        return {"events": events}

    sem = asyncio.Semaphore(concurrency)
    accepted = 0
    size = len(httpx.Request("POST", "http://x", json=batch(0)["events"][0]).content)  # type: ignore[index]
    async with httpx.AsyncClient(timeout=120, headers={"authorization": f"Bearer {key}"}) as client:

        async def send(n: int) -> None:
            nonlocal accepted
            async with sem:
                r = await client.post(f"{gateway}/v1/events", json=batch(n))
                r.raise_for_status()
                accepted += len(r.json()["accepted"])

        started = time.perf_counter()
        await asyncio.gather(*(send(n) for n in range((total + 999) // 1000)))
        elapsed = time.perf_counter() - started
    return accepted, elapsed, size


INTERACTIONS = "cdp.interactions.events.v1"


async def lags(groups: list[str]) -> dict[str, int]:
    """Events on the interactions topic each group has not committed yet."""
    admin = AIOKafkaAdminClient(bootstrap_servers="127.0.0.1:9092")
    consumer = AIOKafkaConsumer(bootstrap_servers="127.0.0.1:9092")
    await admin.start()
    await consumer.start()
    try:
        described = (await admin.describe_topics([INTERACTIONS]))[0]["partitions"]
        partitions = [p["partition"] for p in described]
        out = {}
        for group in groups:
            committed = {
                tp: om.offset
                for tp, om in (await admin.list_consumer_group_offsets(group)).items()
                if tp.topic == INTERACTIONS
            }
            ends = await consumer.end_offsets([TopicPartition(INTERACTIONS, p) for p in partitions])
            out[group] = sum(max(0, end - committed.get(tp, 0)) for tp, end in ends.items())
        return out
    finally:
        await consumer.stop()
        await admin.close()


def follow(groups: list[str], started: float, events: int) -> None:
    """Wait until each group has caught up; print its rate over the events of this run (Kafka's producer benchmark
    ran meanwhile, a few seconds)."""
    pending = set(groups)
    while pending:
        now = asyncio.run(lags(sorted(pending)))
        elapsed = time.perf_counter() - started
        for group, lag in now.items():
            if lag == 0:
                pending.discard(group)
                print(f"{group}: applied {events:,} events in {elapsed:.1f}s = {events / elapsed:,.0f} events/s")
        if pending:
            print(f"  {elapsed:5.0f}s behind: " + ", ".join(f"{g} {now[g]:,}" for g in sorted(pending)), flush=True)
            time.sleep(5)


BENCH_TOPIC = "cdp.bench.producer-perf"  # never a platform topic: its random records would be poison to consumers


def kafka_ceiling(records: int, size: int) -> str:
    """Kafka's own producer benchmark from the same jars, on a scratch topic shaped like the platform's (12
    partitions), deleted afterwards."""
    lib = REPO / ".local" / "cache" / "kafka" / "lib"

    def tool(name: str, *args: str) -> str:
        done = subprocess.run(
            ["java", "-cp", f"{lib}/*", f"org.apache.kafka.tools.{name}", *args],
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout

    server = ("--bootstrap-server", "127.0.0.1:9092")
    tool("TopicCommand", *server, "--create", "--if-not-exists", "--topic", BENCH_TOPIC, "--partitions", "12")
    try:
        out = tool(
            "ProducerPerformance",
            "--topic",
            BENCH_TOPIC,
            "--num-records",
            str(records),
            "--record-size",
            str(size),
            "--throughput",
            "-1",
            "--producer-props",
            "bootstrap.servers=127.0.0.1:9092",
            "acks=all",
            "linger.ms=5",
        )
    finally:
        tool("TopicCommand", *server, "--delete", "--topic", BENCH_TOPIC)
    lines = out.strip().splitlines()
    return lines[-1] if lines else "(no output)"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--gateway", default="http://127.0.0.1:8000")
    ap.add_argument("--follow", nargs="*", default=[], metavar="GROUP", help="consumer groups to wait for")
    args = ap.parse_args()
    if args.follow:
        behind = asyncio.run(lags(args.follow))
        if any(behind.values()):
            raise SystemExit(f"already behind before this run ({behind}): let them catch up first")
    token = admin_token(args.gateway)
    key = httpx.post(
        f"{args.gateway}/v1/api-keys",
        json={"name": "bench", "scopes": ["order.*", "web.*"]},
        headers={"authorization": f"Bearer {token}"},
    ).json()["api_key"]
    started = time.perf_counter()
    accepted, elapsed, size = asyncio.run(ingest(args.gateway, key, args.events, args.concurrency))
    rate = accepted / elapsed
    print(
        f"gateway ingestion: {accepted:,} events accepted in {elapsed:.1f}s = {rate:,.0f} events/s "
        f"(batches of 1,000, {args.concurrency} in flight, acks=all, ~{size} bytes each)"
    )
    ceiling = kafka_ceiling(args.events, size)
    print(f"kafka ProducerPerformance, same machine, acks=all, {size}-byte records: {ceiling}")
    try:
        kafka_rate = float(ceiling.split(" records/sec")[0].split(",")[-1].strip())
        print(f"ratio gateway / kafka producer: {rate / kafka_rate:.2f}")
    except (ValueError, IndexError):
        pass
    if args.follow:
        follow(args.follow, started, accepted)


if __name__ == "__main__":
    main()
