"""Profile reads through the gateway: `GET /v1/contacts/{id}` at steady rates, open loop, with vegeta (Go). Each
read is authenticated, rate-limited, audited and relayed to the contacts service, as in production. Needs
`make up` with some contacts (`make demo`) and vegeta on PATH
(`go install github.com/tsenart/vegeta/v12@v12.12.0`).

The figures are taken after `--warmup` seconds at the first rate (not counted), as a gateway in use sees them.
Requests are spread over `--users` staff accounts (created on first use), because one user is limited to
200 requests/s per gateway process.

    uv run python bench/profile_bench.py [--rate 200 300 500] [--seconds 10] [--users 5]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile

import httpx

PASSWORD = "bench-profile-password-2026"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gateway", default="http://127.0.0.1:8000")
    parser.add_argument("--rate", type=int, nargs="+", default=[200, 300, 500])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--users", type=int, default=5)
    parser.add_argument(
        "--warmup", type=int, default=15, help="seconds at the first rate before measuring, not counted (0: none)"
    )
    parser.add_argument("--vegeta", default=shutil.which("vegeta"))
    args = parser.parse_args()
    if not args.vegeta:
        raise SystemExit("vegeta not found: go install github.com/tsenart/vegeta/v12@v12.12.0, or pass --vegeta")

    with httpx.Client(base_url=args.gateway, timeout=30) as c:
        admin = c.post("/v1/auth/token", data={"username": "admin", "password": "local-only-change-me"})
        c.headers["Authorization"] = f"Bearer {admin.json()['access_token']}"
        ids = [i["id"] for i in c.get("/v1/contacts", params={"limit": 200}).json()["items"]]
        if not ids:
            raise SystemExit("no contacts: run `make demo` first")
        tokens = []
        for n in range(args.users):
            name = f"bench-reader-{n}"
            c.post("/v1/users", json={"username": name, "password": PASSWORD, "role": "sales"})  # 409 if there
            r = httpx.post(f"{args.gateway}/v1/auth/token", data={"username": name, "password": PASSWORD})
            r.raise_for_status()
            tokens.append(r.json()["access_token"])

    with tempfile.NamedTemporaryFile("w", suffix=".targets", delete=False) as f:
        for n, cid in enumerate(ids * 5):
            f.write(f"GET {args.gateway}/v1/contacts/{cid}\nAuthorization: Bearer {tokens[n % len(tokens)]}\n\n")
    print(f"{len(ids)} profiles, {len(tokens)} staff users", flush=True)

    def attack(rate: int, seconds: int) -> bytes:
        return subprocess.run(
            [
                args.vegeta,
                "attack",
                f"-targets={f.name}",
                f"-rate={rate}",
                f"-duration={seconds}s",
                "-max-workers=128",
                "-keepalive",
            ],
            check=True,
            capture_output=True,
        ).stdout

    try:
        if args.warmup > 0:
            # connections, caches and the JIT of the store settle first: the figures are for a system in use
            attack(args.rate[0], args.warmup)
            print(f"warmed up: {args.warmup} s at {args.rate[0]}/s, not counted", flush=True)
        for rate in args.rate:
            results = attack(rate, args.seconds)
            report = json.loads(
                subprocess.run(
                    [args.vegeta, "report", "-type=json"], input=results, check=True, capture_output=True
                ).stdout
            )
            lat = report["latencies"]
            print(
                f"offered {rate}/s: answered {report['throughput']:,.0f}/s, p50 {lat['50th'] / 1e6:.1f} ms, "
                f"p99 {lat['99th'] / 1e6:.1f} ms, max {lat['max'] / 1e6:.0f} ms, status {report['status_codes']} "
                "(target p99 < 50 ms at 500/s)",
                flush=True,
            )
    finally:
        os.unlink(f.name)


if __name__ == "__main__":
    main()
