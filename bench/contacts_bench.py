"""Contacts figures against a running stack (`make up` first): import 100,000 contacts through the gateway with the
CLI, then search p50/p99 and 360° view p50/p99 on what was imported, once right after the import and once every
consumer group has caught up (`--kafka ''` skips the second). Prints its figures.

    uv run python bench/contacts_bench.py [--rows 100000] [--gateway http://127.0.0.1:8000] [--queries 300]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.people import ascii_fold, person, phone_as_typed
from bench.settle import settle

BAD_EVERY = 997  # about 0.1% of rows are bad on purpose: they must be reported and skipped


def write_csv(path: Path, rows: int, seed: int) -> list[dict[str, str]]:
    rng = random.Random(seed)
    sample = []
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(
            [
                "full_name",
                "emails",
                "phones",
                "birth_date",
                "gender",
                "city",
                "address_line1",
                "tags",
                "lifecycle_stage",
                "source",
            ]
        )
        for i in range(rows):
            p = person(rng, i)
            phone = phone_as_typed(rng, p.phone)
            bad = i % BAD_EVERY == BAD_EVERY - 1
            row = [
                p.full_name,
                p.email if not bad else "not-an-email",
                phone,
                p.birth_date.isoformat(),
                p.gender,
                p.city,
                f"{rng.randrange(1, 300)} Lê Lợi",
                rng.choice(["", "vip", "newsletter", "wholesale"]),
                rng.choice(["", "lead", "customer", "subscriber"]),
                rng.choice(["shop-till", "ecommerce", "contest"]),
            ]
            w.writerow(row)
            if i % max(rows // 500, 1) == 0 and not bad:
                sample.append({"name": p.full_name, "email": p.email, "phone": p.phone})
    return sample


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


async def timed(
    client: httpx.AsyncClient, url: str, params: dict[str, str] | None = None
) -> tuple[float, httpx.Response]:
    t = time.perf_counter()
    r = await client.get(url, params=params)
    return (time.perf_counter() - t) * 1000, r


async def measure(gateway: str, sample: list[dict[str, str]], queries: int, token: str | None) -> None:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    rng = random.Random(7)
    async with httpx.AsyncClient(timeout=30, headers=headers) as client:
        kinds = {
            "name (no accents, word order changed)": [],
            "email": [],
            "phone (typed format)": [],
            "filter tag+stage": [],
        }
        ids: list[str] = []
        failures: dict[str, int] = {}
        for _ in range(queries):
            s = rng.choice(sample)
            tokens = ascii_fold(s["name"]).lower().split()
            name_q = " ".join([tokens[-1], *tokens[:-1]])
            for kind, params in (
                ("name (no accents, word order changed)", {"name": name_q, "limit": "20"}),
                ("email", {"email": s["email"]}),
                ("phone (typed format)", {"phone": phone_as_typed(rng, s["phone"])}),
                ("filter tag+stage", {"tag": "vip", "lifecycle_stage": "customer", "limit": "20"}),
            ):
                ms, r = await timed(client, f"{gateway}/v1/contacts", params)
                if r.status_code != 200:
                    failures[kind] = failures.get(kind, 0) + 1
                    continue
                kinds[kind].append(ms)
                if kind == "email" and r.json()["items"]:
                    ids.append(r.json()["items"][0]["id"])
        print("\nsearch latency through the gateway (ms):")
        for kind, v in kinds.items():
            figures = f"p50={pct(v, 50):7.1f}  p99={pct(v, 99):7.1f}" if v else "no answer in time"
            print(f"  {kind:40s} n={len(v):4d}  {figures}  failed (gateway timeout 5 s): {failures.get(kind, 0)}")
        all_search = [x for v in kinds.values() for x in v] or [float("nan")]
        print(
            f"  {'all searches':40s} n={len(all_search):4d}  "
            f"p50={pct(all_search, 50):7.1f}  p99={pct(all_search, 99):7.1f}"
        )
        v360 = []
        for cid in ids:
            ms, r = await timed(client, f"{gateway}/v1/contacts/{cid}/360")
            r.raise_for_status()
            v360.append(ms)
        if v360:
            print(
                f"360 view through the gateway (ms):         n={len(v360):4d}  "
                f"p50={pct(v360, 50):7.1f}  p99={pct(v360, 99):7.1f}"
            )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--gateway", default="http://127.0.0.1:8000")
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--token", default=os.environ.get("CDP_TOKEN"))
    ap.add_argument(
        "--skip-import",
        action="store_true",
        help="only measure search and the 360 view, on what an earlier run with the same --seed imported",
    )
    ap.add_argument(
        "--kafka",
        default="127.0.0.1:9092",
        help="after the import, wait for every consumer group to catch up and measure again ('' to skip)",
    )
    args = ap.parse_args()
    print(f"seed {args.seed}")
    if not args.token:  # the local bootstrap admin (make up); elsewhere pass --token or CDP_TOKEN
        r = httpx.post(f"{args.gateway}/v1/auth/token", data={"username": "admin", "password": "local-only-change-me"})
        r.raise_for_status()
        args.token = r.json()["access_token"]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"customers-{args.seed}.csv"
        sample = write_csv(path, args.rows, args.seed)
        if args.skip_import:
            asyncio.run(measure(args.gateway, sample, args.queries, args.token))
            return
        print(
            f"generated {args.rows:,} rows ({path.stat().st_size / 1e6:.1f} MB), "
            f"about {args.rows // BAD_EVERY} bad on purpose"
        )
        env = {**os.environ, **({"CDP_TOKEN": args.token} if args.token else {})}
        t = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "cdp_contacts.cli.importer", str(path), "--gateway", args.gateway],
            check=True,
            env=env,
        )
        elapsed = time.perf_counter() - t
        print(f"import: {args.rows:,} rows in {elapsed:.1f}s = {args.rows / elapsed:,.0f} rows/s (target: under 60 s)")
    if args.kafka:
        print("\nright after the import, with the consumers still working through it:")
    asyncio.run(measure(args.gateway, sample, args.queries, args.token))
    if args.kafka:
        t = time.perf_counter()
        lag = asyncio.run(settle(args.kafka, timeout_s=1800))
        print(f"\nevery consumer group caught up {time.perf_counter() - t:.0f} s later (left behind: {lag})")
        asyncio.run(measure(args.gateway, sample, args.queries, args.token))


if __name__ == "__main__":
    main()
