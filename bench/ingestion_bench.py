"""Event ingestion through the gateway to Kafka, beside Kafka's own producer benchmark on the same machine.

Sends `--events` order/visit events in batches of 1,000 (`--concurrency` batches in flight) with an integration
key, counts what the gateway accepted after Kafka acknowledged (acks=all), and prints events/s; then runs
`kafka-producer-perf-test`'s class (org.apache.kafka.tools.ProducerPerformance) from the same jars with acks=all
and the same record size, as the ceiling. Needs `make up` (two gateway processes share port 8000 there; the
consumers of every service keep working through what arrives, on the same cores, as they would in production).

    uv run python bench/ingestion_bench.py [--events 100000] [--concurrency 4]
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
    args = ap.parse_args()
    token = admin_token(args.gateway)
    key = httpx.post(
        f"{args.gateway}/v1/api-keys",
        json={"name": "bench", "scopes": ["order.*", "web.*"]},
        headers={"authorization": f"Bearer {token}"},
    ).json()["api_key"]
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


if __name__ == "__main__":
    main()
