"""Consent figures: the single check at a steady rate, the batch check of a campaign audience, and one person's
erasure confirmed by every service. Needs `make up`.

1. Seeds `--people` consent subjects through the consent service's API (one statement each, a third withdrawn),
   with progress.
2. Single check: `GET /v1/consent/check` on the consent service at `--rate` requests/s for `--seconds`, open loop
   (requests leave on schedule whether or not earlier ones answered; latency counts from the planned time), two
   passes over the same persons; prints p50/p99/max, the rate achieved and the share answered from the
   replica's memory (from its /metrics).
3. Batch check: `POST /v1/consent/check-batch` with `--audience` ids (the seeded people first, then unknown ids);
   prints the wall time.
4. Erasure: `--erasures` contacts created through the gateway, each erased through it; prints the time from the
   request to the report showing every service confirmed.

    uv run python bench/consent_bench.py [--people 10000] [--rate 1000] [--seconds 10] [--audience 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.settle import settle

STATUSES = ("granted", "granted", "withdrawn")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


async def seed(consent: str, people: int, run: str, concurrency: int = 48) -> list[str]:
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


class RawHttp:
    """A lean keep-alive HTTP/1.1 client (GET only) so the load generator does not eat the CPU the service under
    test needs: this machine has two cores, and httpx costs several times the service's own work per request."""

    def __init__(self, base: str, connections: int) -> None:
        u = urlsplit(base)
        self.host, self.port = u.hostname or "127.0.0.1", u.port or 80
        self.size = connections
        self.free: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()

    async def open(self) -> None:
        for _ in range(self.size):
            self.free.put_nowait(await asyncio.open_connection(self.host, self.port))

    async def close(self) -> None:
        while not self.free.empty():
            _, w = self.free.get_nowait()
            w.close()

    async def get(self, path: str) -> tuple[int, bytes]:
        reader, writer = await self.free.get()
        try:
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body = await reader.readexactly(length)
        except Exception:
            writer.close()
            reader, writer = await asyncio.open_connection(self.host, self.port)
            raise
        finally:
            self.free.put_nowait((reader, writer))
        return status, body


async def cache_counts(consent: str) -> dict[str, float]:
    async with httpx.AsyncClient(base_url=consent, timeout=10) as c:
        text = (await c.get("/metrics")).text
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("cdp_consent_check_cache_total{"):
            outcome = line.split('outcome="', 1)[1].split('"', 1)[0]
            out[outcome] = float(line.rsplit(" ", 1)[1])
    return out


async def server_share_under(consent: str, route: str, le: str = "0.005") -> tuple[float, float]:
    """(requests of `route` answered within `le` seconds inside the service, all requests of `route`)."""
    async with httpx.AsyncClient(base_url=consent, timeout=10) as c:
        text = (await c.get("/metrics")).text
    under = total = 0.0
    for line in text.splitlines():
        if line.startswith("cdp_http_request_seconds_bucket{") and f'route="{route}"' in line:
            if f'le="{le}"' in line:
                under += float(line.rsplit(" ", 1)[1])
            if 'le="+Inf"' in line:
                total += float(line.rsplit(" ", 1)[1])
    return under, total


def vegeta_checks(
    vegeta: str, consent: str, ids: list[str], rate: int, seconds: float, offset: int
) -> dict[str, float]:
    """The same open-loop load from vegeta (Go): it needs a fraction of the CPU a Python client does, which matters
    when the load generator shares the machine's two cores with the service it measures."""
    total = int(rate * seconds)
    with tempfile.NamedTemporaryFile("w", suffix=".targets", delete=False) as f:
        for i in range(total):
            pid = ids[(offset + i) % len(ids)]
            f.write(f"GET {consent}/v1/consent/check?person_id={pid}&channel=email&purpose=newsletter\n\n")
    attack = subprocess.run(
        [
            vegeta,
            "attack",
            f"-targets={f.name}",
            f"-rate={rate}",
            f"-duration={seconds}s",
            "-max-workers=64",
            "-keepalive",
        ],
        check=True,
        capture_output=True,
    )
    report = json.loads(
        subprocess.run([vegeta, "report", "-type=json"], input=attack.stdout, check=True, capture_output=True).stdout
    )
    os.unlink(f.name)
    lat = report["latencies"]
    return {
        "requests": report["requests"],
        "achieved_per_s": report["throughput"],
        "p50_ms": lat["50th"] / 1e6,
        "p99_ms": lat["99th"] / 1e6,
        "max_ms": lat["max"] / 1e6,
        "errors": report["requests"] - report["status_codes"].get("200", 0),
    }


async def single_checks(consent: str, ids: list[str], rate: int, seconds: float, offset: int) -> dict[str, float]:
    """Open loop: request i leaves at start + i/rate whether or not earlier ones answered; its latency counts from
    that planned time, so a stall is charged to every request it delays (no coordinated omission)."""
    latencies: list[float] = []
    errors = 0
    http = RawHttp(consent, connections=64)
    await http.open()

    async def one(i: int, planned: float) -> None:
        nonlocal errors
        pid = ids[(offset + i) % len(ids)]
        try:
            status, _ = await http.get(f"/v1/consent/check?person_id={pid}&channel=email&purpose=newsletter")
        except Exception:
            status = 0
        latencies.append((time.perf_counter() - planned) * 1000)
        errors += status != 200

    total = int(rate * seconds)
    tasks = []
    start = time.perf_counter()
    for i in range(total):
        planned = start + i / rate
        delay = planned - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, planned)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    await http.close()
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
    parser.add_argument("--kafka", default="127.0.0.1:9092")
    parser.add_argument(
        "--vegeta",
        default=shutil.which("vegeta"),
        help="vegeta binary for the single-check load (go install github.com/tsenart/vegeta/v12@v12.12.0); "
        "default: from PATH, else a Python client",
    )
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--rate", type=int, nargs="+", default=[1000], help="two passes per rate")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--audience", type=int, default=100_000)
    parser.add_argument("--erasures", type=int, default=5)
    args = parser.parse_args()

    ids = await seed(args.consent, args.people, uuid.uuid4().hex[:6])
    lag = await settle(args.kafka)
    print(f"consumers caught up with the seeding's events: lag {lag}", flush=True)
    # each rate runs two passes over the same persons: in the first, those recorded since the service last warmed
    # its memory are read from the store; the second is the steady state (memory kept current by the consent
    # topic). The share answered from memory is printed with each.
    offset = 0
    for rate in args.rate:
        for label in ("pass 1", "pass 2"):
            hits_before = await cache_counts(args.consent)
            under_before, all_before = await server_share_under(args.consent, "/v1/consent/check")
            if args.vegeta:
                s = vegeta_checks(args.vegeta, args.consent, ids, rate, args.seconds, offset)
            else:
                s = await single_checks(args.consent, ids, rate, args.seconds, offset)
            hits_after = await cache_counts(args.consent)
            under_after, all_after = await server_share_under(args.consent, "/v1/consent/check")
            looked = sum(hits_after.values()) - sum(hits_before.values())
            hit = (hits_after.get("hit", 0) - hits_before.get("hit", 0)) / looked if looked else 0.0
            inside = (under_after - under_before) / max(1.0, all_after - all_before)
            print(
                f"single check ({'vegeta' if args.vegeta else 'python client'}), {label}, offered {rate:,}/s: "
                f"{s['requests']:,} answered at {s['achieved_per_s']:,.0f}/s: p50 {s['p50_ms']:.2f} ms, "
                f"p99 {s['p99_ms']:.2f} ms, max {s['max_ms']:.1f} ms, errors {s['errors']:.0f}; answered from "
                f"memory {hit:.0%}; within 5 ms inside the service {inside:.2%} (target p99 < 5 ms at 1,000/s)",
                flush=True,
            )
            if label == "pass 2":
                offset += int(s["requests"])
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
