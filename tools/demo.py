"""`make demo`: a living system for a newcomer. Loads, through the gateway like any integration, a Vietnamese
retailer's customers as its channels see them:

- each person seen by the shop till, many also by the web shop, some by a contest and the support desk, with what
  real data looks like: names without accents or in Western order, phones typed in every format, one typo;
- a few pairs the matcher is not sure of (same name and birth date, different phones): the duplicate review queue;
- orders in VND, support tickets, web visits, NPS answers, lead forms, deals; a referral;
- consent statements that contradict each other across systems (a January newsletter opt-in at a purchase, a March
  opt-out in a contest: the later one wins);
- staff accounts for each role (sales, support, marketing, analyst), password `demo-password-2026`.

Deterministic for a seed; idempotent (re-running adds nothing: every event has an idempotency key).

    uv run python tools/demo.py [--gateway http://127.0.0.1:8000] [--people 120]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.people import Person, ascii_fold, person, phone_as_typed

STAFF = {"lan.sales": "sales", "minh.support": "support", "hoa.marketing": "marketing", "tuan.analyst": "analyst"}
STAFF_PASSWORD = "demo-password-2026"
DEAL = {"amount": 25_000_000, "currency": "VND"}  # a corporate gift order
PRODUCTS = [
    ("AO-DAI-01", "Áo dài lụa tơ tằm", 1_250_000),
    ("NON-LA-02", "Nón lá Huế", 150_000),
    ("CAFE-03", "Cà phê Buôn Ma Thuột 500g", 185_000),
    ("GOM-04", "Bộ ấm chén gốm Bát Tràng", 690_000),
    ("TUI-05", "Túi cói thủ công", 320_000),
]


def progress(label: str, done: int, total: int) -> None:
    width = 30
    filled = int(width * done / max(1, total))
    print(f"\r  {label:<28} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}", end="", file=sys.stderr)
    if done >= total:
        print(file=sys.stderr)


def reordered(name: str) -> str:
    """Vietnamese written Western-style: given name first, no accents ("An Nguyen Van")."""
    parts = ascii_fold(name).split()
    return " ".join([parts[-1], *parts[:-1]])


def records_of(rng: random.Random, i: int, p: Person, base: datetime) -> list[dict[str, Any]]:
    """What each channel saw of person `i`."""
    seen = base + timedelta(days=rng.randrange(0, 20), hours=rng.randrange(8, 20))
    out = [
        {
            "source": "shop-till",
            "record_id": f"POS-{i:05d}",
            "observed_at": seen.isoformat(),
            "external_ids": {"loyalty_card": f"LC{700000 + i}"},
            "attributes": {
                "full_name": p.full_name,
                "birth_date": p.birth_date.isoformat(),
                "gender": p.gender,
                "phones": [phone_as_typed(rng, p.phone)],
                "preferred_channel": rng.choice(["zalo", "sms", "email"]),
            },
        }
    ]
    if rng.random() < 0.6:
        name = reordered(p.full_name) if rng.random() < 0.5 else ascii_fold(p.full_name)
        out.append(
            {
                "source": "ecommerce",
                "record_id": f"WEB-{i:05d}",
                "observed_at": (seen + timedelta(days=rng.randrange(1, 30))).isoformat(),
                "verified_emails": [p.email],
                "attributes": {"full_name": name, "emails": [p.email], "phones": [p.phone]},
            }
        )
    if rng.random() < 0.3:
        out.append(
            {
                "source": "contest",
                "record_id": f"CT-{i:05d}",
                "observed_at": (base + timedelta(days=60 + rng.randrange(0, 20))).isoformat(),
                "attributes": {
                    "full_name": p.full_name.lower() if rng.random() < 0.5 else p.full_name,
                    "emails": [p.email.upper()],
                    "phones": [phone_as_typed(rng, p.phone)],
                },
            }
        )
    if rng.random() < 0.2:
        out.append(
            {
                "source": "support-desk",
                "record_id": f"SD-{i:05d}",
                "observed_at": (seen + timedelta(days=rng.randrange(5, 90))).isoformat(),
                "attributes": {"full_name": p.full_name, "phones": [phone_as_typed(rng, p.phone)]},
            }
        )
    return out


class Demo:
    def __init__(self, gateway: str, people: int, seed: int) -> None:
        self.gateway = gateway
        self.people = people
        self.rng = random.Random(seed)
        self.client = httpx.AsyncClient(base_url=gateway, timeout=60)
        self.base = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    async def sign_in(self) -> None:
        r = await self.client.post("/v1/auth/token", data={"username": "admin", "password": "local-only-change-me"})
        r.raise_for_status()
        self.client.headers["Authorization"] = f"Bearer {r.json()['access_token']}"

    async def publish(self, events: list[dict[str, Any]], label: str) -> None:
        for n in range(0, len(events), 500):
            r = await self.client.post("/v1/events", json={"events": events[n : n + 500]})
            if r.status_code not in (202, 207):
                raise SystemExit(f"{label}: {r.status_code} {r.text[:500]}")
            rejected = r.json().get("rejected", [])
            if rejected:
                raise SystemExit(f"{label}: rejected {rejected[:3]}")
            progress(label, min(len(events), n + 500), len(events))

    async def retrying(self, path: str, json: dict[str, Any], wait_s: float = 60) -> httpx.Response:
        """POST with an idempotency key: safe to repeat while a busy service answers 502/503/504."""
        for attempt in range(6):
            r = await self.client.post(path, json=json, timeout=wait_s)
            if r.status_code not in (502, 503, 504):
                return r
            await asyncio.sleep(2**attempt)
        return r

    async def staff(self) -> None:
        for username, role in STAFF.items():
            r = await self.client.post(
                "/v1/users", json={"username": username, "password": STAFF_PASSWORD, "role": role}
            )
            if r.status_code not in (201, 409):
                raise SystemExit(f"staff {username}: {r.status_code} {r.text}")

    async def contact_of(self, phone: str, deadline: float) -> str | None:
        while time.monotonic() < deadline:
            r = await self.client.get("/v1/contacts", params={"phone": phone, "limit": 1})
            items = r.json().get("items", []) if r.status_code == 200 else []
            if items:
                return str(items[0]["id"])
            await asyncio.sleep(0.5)
        return None

    async def run(self) -> None:
        await self.sign_in()
        await self.staff()
        crowd = [person(self.rng, i) for i in range(self.people)]
        records: list[dict[str, Any]] = []
        for i, p in enumerate(crowd):
            for rec in records_of(self.rng, i, p, self.base):
                records.append(
                    {
                        "idempotency_key": f"demo-{rec['source']}-{rec['record_id']}",
                        "type": "identity.record_observed",
                        "subject": f"{rec['source']}:{rec['record_id']}",
                        "data": rec,
                    }
                )
        # for the review queue: a second loyalty card under the same name, birth date and phone (a family sharing
        # a phone, or one person with two cards?): the matcher does not merge conflicting cards, it asks staff
        for j in range(min(6, self.people)):
            p = crowd[j * 7 % self.people]
            records.append(
                {
                    "idempotency_key": f"demo-second-card-{j}",
                    "type": "identity.record_observed",
                    "subject": f"shop-till:POS-B{j}",
                    "data": {
                        "source": "shop-till",
                        "record_id": f"POS-B{j}",
                        "observed_at": (self.base + timedelta(days=100)).isoformat(),
                        "external_ids": {"loyalty_card": f"LC{900000 + j}"},
                        "attributes": {
                            "full_name": p.full_name,
                            "birth_date": p.birth_date.isoformat(),
                            "phones": [p.phone],
                        },
                    },
                }
            )
        await self.publish(records, "source records")

        ids: dict[int, str] = {}
        deadline = time.monotonic() + 180
        for i, p in enumerate(crowd):  # every channel saw the phone, in one format or another
            cid = await self.contact_of(p.phone, deadline)
            if cid:
                ids[i] = cid
            progress("matched into contacts", i + 1, len(crowd))
        await self.interactions(crowd, ids)
        await self.consents(crowd, ids)
        # scores, dormancy and segments now, rather than at the analytics service's next hourly evaluation
        # as long as the gateway waits for it: on a stack holding benchmark data it takes minutes
        r = await self.retrying("/v1/analytics/evaluations", {}, wait_s=300)
        if r.status_code != 200:
            raise SystemExit(f"evaluation: {r.status_code} {r.text}")
        print(
            f"demo loaded: {len(records)} source records of {self.people} people ({len(ids)} found as contacts), "
            f"staff {', '.join(STAFF)} (password {STAFF_PASSWORD}). Open {self.gateway}/console/",
            flush=True,
        )

    async def interactions(self, crowd: list[Person], ids: dict[int, str]) -> None:
        events: list[dict[str, Any]] = []

        def add(kind: str, key: str, cid: str, data: dict[str, Any]) -> None:
            events.append(
                {"idempotency_key": f"demo-{key}", "type": kind, "subject": cid, "data": {"contact_id": cid, **data}}
            )

        now = datetime.now(UTC)
        for i, cid in ids.items():
            rng = random.Random(i)
            first = now - timedelta(days=rng.randrange(20, 300))
            if rng.random() < 0.35:
                add("lead.form_submitted", f"lead-{i}", cid, {"occurred_at": first.isoformat(), "form_id": "tet-2026"})
            orders = rng.choice([0, 1, 1, 2, 3, 5])
            for k in range(orders):
                at = first + timedelta(days=k * rng.randrange(10, 60))
                if at > now:
                    break
                sku, name, price = rng.choice(PRODUCTS)
                qty = rng.randrange(1, 3)
                total = {"amount": price * qty, "currency": "VND"}
                channel = rng.choice(["shop-till", "ecommerce"])
                add(
                    "order.placed",
                    f"op-{i}-{k}",
                    cid,
                    {
                        "occurred_at": at.isoformat(),
                        "order_id": f"O{i}-{k}",
                        "total": total,
                        "channel": channel,
                        "lines": [{"sku": sku, "name": name, "quantity": qty, "unit_price": price}],
                    },
                )
                add(
                    "order.paid",
                    f"pd-{i}-{k}",
                    cid,
                    {"occurred_at": (at + timedelta(minutes=5)).isoformat(), "order_id": f"O{i}-{k}", "total": total},
                )
            for k in range(rng.randrange(0, 6)):
                add(
                    "web.visited",
                    f"wv-{i}-{k}",
                    cid,
                    {
                        "occurred_at": (now - timedelta(days=rng.randrange(0, 60))).isoformat(),
                        "session_id": f"s{i}-{k}",
                    },
                )
            if rng.random() < 0.25:
                at = first + timedelta(days=rng.randrange(1, 20))
                add(
                    "ticket.opened",
                    f"to-{i}",
                    cid,
                    {"occurred_at": at.isoformat(), "ticket_id": f"T{i}", "subject": "Đổi size áo dài"},
                )
                add(
                    "ticket.closed",
                    f"tc-{i}",
                    cid,
                    {"occurred_at": (at + timedelta(hours=rng.randrange(2, 48))).isoformat(), "ticket_id": f"T{i}"},
                )
            if orders and rng.random() < 0.5:
                add(
                    "survey.answered",
                    f"nps-{i}",
                    cid,
                    {
                        "occurred_at": (first + timedelta(days=3)).isoformat(),
                        "response_id": f"R{i}",
                        "survey_id": "nps-2026",
                        "kind": "nps",
                        "answers": [
                            {
                                "question_id": "nps",
                                "question": "Bạn có giới thiệu chúng tôi?",
                                "score": rng.randrange(4, 11),
                            },
                            {
                                "question_id": "why",
                                "question": "Vì sao bạn chọn chúng tôi?",
                                "answer": rng.choice(["Chất lượng", "Giá tốt", "Quà tặng"]),
                            },
                        ],
                    },
                )
            if rng.random() < 0.1:
                add(
                    "deal.opened",
                    f"do-{i}",
                    cid,
                    {
                        "occurred_at": first.isoformat(),
                        "deal_id": f"D{i}",
                        "value": {"amount": 25_000_000, "currency": "VND"},
                    },
                )
                won = rng.random() < 0.5
                add(
                    "deal.won" if won else "deal.lost",
                    f"dc-{i}",
                    cid,
                    {"occurred_at": (first + timedelta(days=rng.randrange(5, 40))).isoformat(), "deal_id": f"D{i}"}
                    | ({"value": DEAL} if won else {"reason": "Giá cao"}),
                )
            if orders >= 5:
                add("referral.made", f"ref-{i}", cid, {"occurred_at": now.isoformat(), "referral_id": f"RF{i}"})
        await self.publish(events, "interactions")

    async def consents(self, crowd: list[Person], ids: dict[int, str]) -> None:
        for done, (i, cid) in enumerate(ids.items(), start=1):
            rng = random.Random(1000 + i)
            statements = [("granted", "pos", "2026-01-12T10:30:00+07:00", "Phiếu mua hàng v3")]
            if rng.random() < 0.3:  # the classic conflict: opted out in a contest two months later
                statements.append(("withdrawn", "contest", "2026-03-08T20:15:00+07:00", "Thể lệ cuộc thi 8/3"))
            for status, source, at, proof in statements:
                r = await self.retrying(
                    "/v1/consent/statements",
                    json={
                        "person_id": cid,
                        "channel": "email",
                        "purpose": "newsletter",
                        "status": status,
                        "source": source,
                        "event_time": at,
                        "legal_basis": "consent",
                        "proof": {"text_version": proof},
                        "idempotency_key": f"demo-{source}-{i}",
                    },
                )
                if r.status_code != 201:
                    raise SystemExit(f"consent: {r.status_code} {r.text}")
            progress("consent statements", done, len(ids))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gateway", default="http://127.0.0.1:8000")
    parser.add_argument("--people", type=int, default=120)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    demo = Demo(args.gateway, args.people, args.seed)
    try:
        await demo.run()
    finally:
        await demo.client.aclose()


if __name__ == "__main__":
    asyncio.run(main())
