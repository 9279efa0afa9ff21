"""Consent figures: the single check at a steady rate, the batch check of a campaign audience, and one person's
erasure confirmed by every service. Needs `make up`.

1. Seeds `--people` consent subjects through the consent service's API (one statement each, a third withdrawn),
   with progress.
2. Single check: `GET /v1/consent/check` on the consent service at `--rate` requests/s for `--seconds`, open loop
   (requests leave on schedule whether or not earlier ones answered); prints p50/p99/max and the rate achieved.
3. Batch check: `POST /v1/consent/check-batch` with `--audience` ids (the seeded people first, then unknown ids);
   prints the wall time.
4. Erasure: `--erasures` contacts created through the gateway, each erased through it; prints the time from the
   request to the report showing every service confirmed.

    uv run python bench/consent_bench.py [--people 20000] [--rate 1000 250] [--seconds 10] [--audience 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from typing import Any

import httpx

STATUSES = ("granted", "granted", "withdrawn")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


async def seed(consent: str, people: int, run: str, concurrency: int = 16) -> list[str]:
    ids = [f"b{run}{i:07d}" for i in range(people)]
    done = 0
    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=consent, timeout=30) as c:
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(people):
            queue.put_nowait(i)

        async def worker() -> None:
            nonlocal done
            while not queue.empty():
                i = queue.get_nowait()
                r = await c.post(
                    "/v1/consent/statements",
                    json={
                        "person_id": ids[i],
                        "channel": "email",
                        "purpose": "newsletter",
                        "status": STATUSES[i % 3],
                        "source": "bench",
                        "event_time": "2026-03-01T10:00:00+07:00",
                        "proof": {"text_version": "bench-v1"},
                        "idempotency_key": ids[i],
                    },
                )
                r.raise_for_status()
                done += 1
                if done % 2000 == 0:
                    rate = done / (time.perf_counter() - started)
                    print(f"  seeded {done:>7,}/{people:,} ({rate:,.0f}/s)", file=sys.stderr, flush=True)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    print(f"seeded {people:,} subjects in {time.perf_counter() - started:.1f} s", flush=True)
    return ids


async def single_checks(consent: str, ids: list[str], rate: int, seconds: float) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    async with httpx.AsyncClient(base_url=consent, timeout=httpx.Timeout(60, pool=None), limits=limits) as c:
        # warm the connections
        await asyncio.gather(*(c.get("/health") for _ in range(32)))

        async def one(i: int) -> None:
            nonlocal errors
            t = time.perf_counter()
            r = await c.get(
                "/v1/consent/check",
                params={"person_id": ids[i % len(ids)], "channel": "email", "purpose": "newsletter"},
            )
            latencies.append((time.perf_counter() - t) * 1000)
            errors += r.status_code != 200

        total = int(rate * seconds)
        tasks = []
        start = time.perf_counter()
        for i in range(total):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    return {
        "requests": total,
        "achieved_per_s": total / elapsed,
        "p50_ms": statistics.median(latencies),
        "p99_ms": pct(latencies, 0.99),
        "max_ms": max(latencies),
        "errors": errors,
    }


async def batch_check(consent: str, ids: list[str], audience: int) -> dict[str, Any]:
    people = (ids + [f"unknown-{uuid.uuid4().hex[:6]}-{i}" for i in range(max(0, audience - len(ids)))])[:audience]
    async with httpx.AsyncClient(base_url=consent, timeout=300) as c:
        t = time.perf_counter()
        r = await c.post(
            "/v1/consent/check-batch", json={"channel": "email", "purpose": "newsletter", "person_ids": people}
        )
        elapsed = time.perf_counter() - t
    r.raise_for_status()
    body = r.json()
    return {"audience": audience, "known": min(len(ids), audience), "seconds": elapsed, "allowed": body["allowed"]}


async def erasures(gateway: str, n: int) -> list[float]:
    async with httpx.AsyncClient(base_url=gateway, timeout=30) as c:
        token = (await c.post("/v1/auth/token", data={"username": "admin", "password": "local-only-change-me"})).json()[
            "access_token"
        ]
        c.headers["Authorization"] = f"Bearer {token}"
        times: list[float] = []
        for i in range(n):
            marker = uuid.uuid4().hex[:8]
            pid = (
                await c.post(
                    "/v1/contacts",
                    json={"full_name": f"Vũ Thị Bench {marker}", "emails": [{"address": f"b{marker}@example.vn"}]},
                )
            ).json()["id"]
            await asyncio.sleep(1.0)  # let every service learn about the person first
            t = time.perf_counter()
            rid = (await c.post("/v1/privacy/requests", json={"kind": "erasure", "person_id": pid})).json()[
                "request_id"
            ]
            while True:
                body = (await c.get(f"/v1/privacy/requests/{rid}")).json()
                if body["status"] == "completed":
                    break
                if time.perf_counter() - t > 60:
                    raise SystemExit(f"erasure {rid} not confirmed by every service in 60 s: {body['services']}")
                await asyncio.sleep(0.02)
            times.append(time.perf_counter() - t)
            print(f"  erasure {i + 1}/{n}: {times[-1]:.2f} s", file=sys.stderr, flush=True)
    return times


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--consent", default="http://127.0.0.1:8003")
    parser.add_argument("--gateway", default="http://127.0.0.1:8000")
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--rate", type=int, nargs="+", default=[1000, 250], help="one run per rate")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--audience", type=int, default=100_000)
    parser.add_argument("--erasures", type=int, default=5)
    args = parser.parse_args()

    ids = await seed(args.consent, args.people, uuid.uuid4().hex[:6])
    for rate in args.rate:
        s = await single_checks(args.consent, ids, rate, args.seconds)
        print(
            f"single check offered {rate:,}/s: {s['requests']:,} requests answered at {s['achieved_per_s']:,.0f}/s: "
            f"p50 {s['p50_ms']:.2f} ms, p99 {s['p99_ms']:.2f} ms, max {s['max_ms']:.1f} ms, errors {s['errors']:.0f} "
            "(target p99 < 5 ms at 1,000/s)",
            flush=True,
        )
    b = await batch_check(args.consent, ids, args.audience)
    print(
        f"batch check: {b['audience']:,} persons ({b['known']:,} with statements) in {b['seconds']:.2f} s, "
        f"{b['allowed']:,} allowed (target < 10 s)"
    )
    times = await erasures(args.gateway, args.erasures)
    print(
        f"erasure confirmed by all services: median {statistics.median(times):.2f} s, max {max(times):.2f} s "
        f"over {len(times)} (target < 5 s)"
    )


if __name__ == "__main__":
    asyncio.run(main())
