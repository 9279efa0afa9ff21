"""`cdp-import FILE`: bulk import of contacts from CSV or NDJSON through the gateway, with a progress bar and a
per-row error report. A bad row is reported and skipped, the rest lands; running the same file again creates
nothing twice (the import id is the file's hash).

CSV columns (all optional but full_name): full_name, emails and phones (several separated by `;`), birth_date
(YYYY-MM-DD), gender, preferred_channel, address_line1, ward, district, city, country, interests, tags (`;`),
owner, lifecycle_stage, lead_status, source, education_level, company, position, income_band, and `custom.<key>`
for custom fields. NDJSON: one `ContactIn` object per line.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import hashlib
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

BATCH = 1000


def rows_from_csv(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(newline="", encoding="utf-8-sig") as f:
        for n, raw in enumerate(csv.DictReader(f), start=2):  # row 1 is the header
            yield n, csv_row_to_contact({k.strip(): (v or "").strip() for k, v in raw.items() if k})


def rows_from_ndjson(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as e:
                data = {"__unparseable__": str(e)}
            yield n, data if isinstance(data, dict) else {"__unparseable__": "not a JSON object"}


def _split(v: str) -> list[str]:
    return [x.strip() for x in v.split(";") if x.strip()]


def csv_row_to_contact(r: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in (
        "full_name",
        "birth_date",
        "gender",
        "preferred_channel",
        "owner",
        "lifecycle_stage",
        "lead_status",
        "source",
    ):
        if r.get(key):
            out[key] = r[key]
    if r.get("emails") or r.get("email"):
        out["emails"] = [{"address": a} for a in _split(r.get("emails") or r.get("email", ""))]
    if r.get("phones") or r.get("phone"):
        out["phones"] = [{"number": p} for p in _split(r.get("phones") or r.get("phone", ""))]
    if r.get("address_line1") and r.get("city"):
        out["addresses"] = [
            {
                k: r[c]
                for k, c in (
                    ("line1", "address_line1"),
                    ("ward", "ward"),
                    ("district", "district"),
                    ("city", "city"),
                    ("country", "country"),
                )
                if r.get(c)
            }
        ]
    for key in ("interests", "tags"):
        if r.get(key):
            out[key] = _split(r[key])
    descriptive: dict[str, Any] = {}
    if r.get("education_level"):
        descriptive["education_level"] = r["education_level"]
    if r.get("income_band"):
        descriptive["income_band"] = r["income_band"]
    if r.get("company") or r.get("position"):
        descriptive["occupation"] = {k: r[k] for k in ("company", "position") if r.get(k)}
    if descriptive:
        out["descriptive"] = descriptive
    custom = {k.removeprefix("custom."): _typed(v) for k, v in r.items() if k.startswith("custom.") and v}
    if custom:
        out["custom_fields"] = custom
    return out


def _typed(v: str) -> Any:
    if v in ("true", "false"):
        return v == "true"
    try:
        return int(v)
    except ValueError:
        try:
            return float(v)
        except ValueError:
            return v


class Progress:
    def __init__(self, total: int, stream: Any = sys.stderr) -> None:
        self.total, self.done, self.errors, self.started, self.stream = total, 0, 0, time.perf_counter(), stream

    def advance(self, rows: int, errors: int) -> None:
        self.done += rows
        self.errors += errors
        elapsed = max(time.perf_counter() - self.started, 1e-6)
        rate = self.done / elapsed
        width = 30
        filled = int(width * self.done / max(self.total, 1))
        eta = (self.total - self.done) / rate if rate else 0
        self.stream.write(
            f"\r[{'#' * filled}{'.' * (width - filled)}] {self.done:,}/{self.total:,} rows  {rate:,.0f} rows/s  "
            f"ETA {eta:,.0f}s  rejected {self.errors:,}"
        )
        self.stream.flush()


def read_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    return rows_from_ndjson(path) if path.suffix.lower() in (".ndjson", ".jsonl") else rows_from_csv(path)


def import_id_of(path: Path) -> str:
    """Same content, same id: the service derives row ids from it, so a re-run creates nothing twice."""
    raw = f"{path.name[:40]}:{hashlib.sha256(path.read_bytes()).hexdigest()[:16]}"
    return "".join(ch if ch.isalnum() or ch in "_.:-" else "_" for ch in raw)


async def run(
    path: Path, base_url: str, token: str | None, errors_path: Path, concurrency: int, total: int, import_id: str
) -> dict[str, int]:
    rows = read_rows(path)
    headers = {"authorization": f"Bearer {token}"} if token else {}
    progress = Progress(total)
    totals = {"created": 0, "already_imported": 0, "rejected": 0}
    sem = asyncio.Semaphore(concurrency)
    with errors_path.open("w", newline="", encoding="utf-8") as ef:
        report = csv.writer(ef)
        report.writerow(["row", "field", "message"])

        async def send(client: httpx.AsyncClient, batch: list[tuple[int, dict[str, Any]]]) -> None:
            async with sem:
                body = {"import_id": import_id, "rows": [{"row": n, "data": d} for n, d in batch]}
                for attempt in range(5):
                    r = await client.post(f"{base_url}/v1/contacts/import-batch", json=body, headers=headers)
                    if r.status_code in (429, 502, 503, 504) and attempt < 4:
                        await asyncio.sleep(float(r.headers.get("retry-after", 1)))
                        continue
                    break
                if r.status_code != 200:
                    for n, _ in batch:
                        report.writerow([n, "batch", f"HTTP {r.status_code}: {r.text[:200]}"])
                    totals["rejected"] += len(batch)
                    progress.advance(len(batch), len(batch))
                    return
                result = r.json()
                for e in result["errors"]:
                    report.writerow([e["row"], e["field"], e["message"]])
                for k in totals:
                    totals[k] += result[k]
                progress.advance(len(batch), result["rejected"])

        async with httpx.AsyncClient(timeout=120) as client:
            tasks: list[asyncio.Task[None]] = []
            batch: list[tuple[int, dict[str, Any]]] = []
            for item in rows:
                batch.append(item)
                if len(batch) == BATCH:
                    tasks.append(asyncio.create_task(send(client, batch)))
                    batch = []
                    if len(tasks) >= concurrency * 2:
                        await asyncio.gather(*tasks)
                        tasks = []
            if batch:
                tasks.append(asyncio.create_task(send(client, batch)))
            await asyncio.gather(*tasks)
    sys.stderr.write("\n")
    return totals


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="cdp-import", description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("file", type=Path, help="a .csv or .ndjson file")
    parser.add_argument("--gateway", default=os.environ.get("CDP_GATEWAY_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--token", default=os.environ.get("CDP_TOKEN"), help="bearer token (or CDP_TOKEN)")
    parser.add_argument("--errors", type=Path, default=None, help="error report CSV (default: FILE.errors.csv)")
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args(argv)
    errors_path = args.errors or args.file.with_suffix(args.file.suffix + ".errors.csv")
    started = time.perf_counter()
    total = sum(1 for _ in read_rows(args.file))
    totals = asyncio.run(
        run(
            args.file,
            args.gateway.rstrip("/"),
            args.token,
            errors_path,
            args.concurrency,
            total,
            import_id_of(args.file),
        )
    )
    elapsed = time.perf_counter() - started
    print(
        f"created {totals['created']:,}, already imported {totals['already_imported']:,}, "
        f"rejected {totals['rejected']:,} rows in {elapsed:.1f}s; error report: {errors_path}"
    )


if __name__ == "__main__":
    main()
