"""Sustained load for 1, 2 and 3 replicas of identity and contacts: the realistic mix of `bench/chaos.py` (staff
creating contacts; an integration publishing orders, visits, tickets, email events and source records of which
many are duplicates; consent statements) at a steady pace, half of the integration's batches through the gateway and
half straight to Kafka (`--direct`), without faults. Needs `make up`.

For each replica count it prints:
- events per second end to end: events accepted (the gateway's 202, or Kafka's acknowledgement) / time from the
  first send until every consumer group has caught up;
- p50 and p99 from an event's arrival (its 202 or acknowledgement) to its effect being visible through the gateway
  (every interaction of a sampled contact on its timeline);
- CPU (share of one core) and peak memory (RSS) per service over the run, the document store and Kafka included;
and Kafka's own producer benchmark (ProducerPerformance from the same jars, acks=all) beside it, as the ceiling.

    uv run python bench/load.py [--replicas 1 2 3] [--people 150] [--seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from bench.chaos import RUN_DIR, Load, scale  # noqa: E402
from bench.ingestion_bench import kafka_ceiling  # noqa: E402
from bench.settle import settle  # noqa: E402

WATCHED = ("gateway", "contacts", "identity", "consent", "analytics", "store", "kafka")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] if ordered else float("nan")


class Usage:
    """CPU seconds and peak RSS of every process of the watched services, sampled every second."""

    def __init__(self) -> None:
        self.cpu0: dict[int, float] = {}
        self.cpu1: dict[int, float] = {}
        self.rss: dict[int, int] = {}
        self.owner: dict[int, str] = {}
        self.started = self.ended = 0.0

    @staticmethod
    def _cpu(pid: int) -> float | None:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / 100.0  # utime + stime, in clock ticks of 1/100 s
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            return None

    def _pids(self) -> dict[int, str]:
        out = {}
        for service in WATCHED:
            for f in [*RUN_DIR.glob(f"{service}-*.pid"), *RUN_DIR.glob(f"{service}.pid")]:
                try:
                    out[int(f.read_text().strip())] = service
                except ValueError:
                    continue
        return out

    def sample(self) -> None:
        for pid, service in self._pids().items():
            self.owner[pid] = service
            cpu = self._cpu(pid)
            if cpu is None:
                continue
            self.cpu0.setdefault(pid, cpu)
            self.cpu1[pid] = cpu
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        self.rss[pid] = max(self.rss.get(pid, 0), int(line.split()[1]) * 1024)
            except FileNotFoundError:
                continue

    async def watch(self, stop: asyncio.Event) -> None:
        self.started = time.monotonic()
        while not stop.is_set():
            self.sample()
            await asyncio.sleep(1)
        self.sample()
        self.ended = time.monotonic()

    def per_service(self) -> dict[str, tuple[float, float]]:
        """service -> (CPU as a share of one core, summed over its processes; peak RSS in MB, summed)."""
        seconds = max(self.ended - self.started, 1e-9)
        out: dict[str, tuple[float, float]] = {}
        for pid, service in self.owner.items():
            cpu = (self.cpu1.get(pid, 0.0) - self.cpu0.get(pid, 0.0)) / seconds
            c, m = out.get(service, (0.0, 0.0))
            out[service] = (c + cpu, m + self.rss.get(pid, 0) / 2**20)
        return out


class Watched(Load):
    """The chaos load, plus: for every `sample_every`-th contact, the time from the gateway's 202 for its events to
    all its interactions being on its timeline through the gateway."""

    sample_every = 5

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.latencies: list[float] = []
        self.watchers: list[asyncio.Task[None]] = []
        self.admin: dict[str, str] = {}
        self.reader = httpx.AsyncClient(timeout=30)  # its own: the load's client closes when the load ends

    async def sign_in(self, c: httpx.AsyncClient) -> tuple[dict[str, str], dict[str, str]]:
        admin, integration = await super().sign_in(c)
        self.admin = admin
        return admin, integration

    async def publish(self, c: httpx.AsyncClient, integration: dict[str, str], events: list[dict[str, Any]]) -> None:
        await super().publish(c, integration, events)
        interactions = [e for e in events if e["type"] != "identity.record_observed"]
        if not interactions:
            return
        cid = interactions[0]["subject"]
        if int(interactions[0]["idempotency_key"].split("-")[2]) % self.sample_every:
            return
        arrived = time.monotonic()
        expected = {self.tally.accepted_ids[e["idempotency_key"]] for e in interactions}
        self.watchers.append(asyncio.create_task(self._visible(cid, expected, arrived)))

    async def _visible(self, cid: str, expected: set[str], arrived: float) -> None:
        c = self.reader
        deadline = arrived + 300
        pause = 0.05  # grows, so that waiting readers do not become the load (the figure is good to ~10%)
        while time.monotonic() < deadline:
            try:
                r = await c.get(f"{self.gateway}/v1/contacts/{cid}/timeline", params={"limit": 200}, headers=self.admin)
                if r.status_code == 200 and expected <= {i["id"] for i in r.json()["items"]}:
                    self.latencies.append(time.monotonic() - arrived)
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(pause)
            pause = min(pause * 1.1, 1.0)


async def one_run(args: argparse.Namespace, replicas: int) -> dict[str, Any]:
    for service in ("identity", "contacts"):
        await asyncio.to_thread(scale, service, replicas)
    await settle(args.kafka, timeout_s=600)
    load = Watched(
        args.gateway, args.seed + replicas, args.people, uuid.uuid4().hex[:6], kafka=args.kafka, direct=args.direct
    )
    usage = Usage()
    stop = asyncio.Event()
    watcher = asyncio.create_task(usage.watch(stop))
    started = time.monotonic()
    await load.run_load(args.seconds, started, args.workers)
    await settle(args.kafka, timeout_s=900)
    caught_up = time.monotonic() - started
    await asyncio.gather(*load.watchers)
    await load.reader.aclose()
    stop.set()
    await watcher
    return {
        "replicas": replicas,
        "events": load.tally.sent,
        "direct": load.tally.direct,
        "seconds": caught_up,
        "rate": load.tally.sent / caught_up,
        "p50": pct(load.latencies, 0.5),
        "p99": pct(load.latencies, 0.99),
        "samples": len(load.latencies),
        "mean": statistics.fmean(load.latencies) if load.latencies else float("nan"),
        "usage": usage.per_service(),
    }


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--replicas", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--people", type=int, default=150)
    ap.add_argument("--seconds", type=float, default=60, help="the people arrive evenly over this time")
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--gateway", default="http://127.0.0.1:8000")
    ap.add_argument("--kafka", default="127.0.0.1:9092")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument(
        "--direct", type=float, default=0.5, help="share of the integration's batches produced straight to Kafka"
    )
    args = ap.parse_args()
    results = []
    try:
        for r in args.replicas:
            print(f"-- {r} replica(s) of identity and contacts", flush=True)
            results.append(await one_run(args, r))
            x = results[-1]
            print(
                f"   {x['events']:,} events ({x['direct']:,} straight to Kafka) in {x['seconds']:.1f} s = "
                f"{x['rate']:.0f} events/s end to end; arrival to "
                f"visible p50 {x['p50'] * 1e3:.0f} ms, p99 {x['p99'] * 1e3:.0f} ms ({x['samples']} contacts sampled)",
                flush=True,
            )
    finally:
        for service in ("identity", "contacts"):
            await asyncio.to_thread(scale, service, 1)
    print("\n| replicas | events/s end to end | p50 | p99 | " + " | ".join(f"{s} CPU, RSS" for s in WATCHED) + " |")
    print("|---:|---:|---:|---:|" + "---|" * len(WATCHED))
    for x in results:
        cells = [f"{x['usage'].get(s, (0, 0))[0]:.0%}, {x['usage'].get(s, (0, 0))[1]:.0f} MB" for s in WATCHED]
        print(
            f"| {x['replicas']} | {x['rate']:.0f} | {x['p50'] * 1e3:.0f} ms | {x['p99'] * 1e3:.0f} ms | "
            + " | ".join(cells)
            + " |"
        )
    ceiling = kafka_ceiling(max(20_000, sum(x["events"] for x in results)), 400)
    print(f"\nkafka ProducerPerformance, same machine, acks=all, 400-byte records: {ceiling}")


if __name__ == "__main__":
    asyncio.run(main())
