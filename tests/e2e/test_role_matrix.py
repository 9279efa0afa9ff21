"""Every route of the gateway for every role: allowed (the call gets past the door: neither 401 nor 403) or 403
with problem+json, as the role policy below says (docs/operations.md, "Access"). Every operation the gateway
documents must be in the policy, so a new route cannot ship without deciding who may call it."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e
PASSWORD = "a-long-enough-password-4"
STAFF = ("admin", "sales", "support", "marketing", "analyst")
ALL_STAFF = frozenset(STAFF)
READERS = frozenset({"admin", "sales", "support", "marketing"})  # personal data: analysts get none
FIGURES = frozenset({"admin", "analyst", "marketing", "sales"})
PER_CUSTOMER = FIGURES | {"support"}
ADMIN = frozenset({"admin"})

# (method, path) -> the roles allowed; "integration" is an API key. Sign-in, refresh, sign-out and the double
# opt-in confirmation link are public by design and listed in PUBLIC.
POLICY: dict[tuple[str, str], frozenset[str]] = {
    ("GET", "/v1/auth/me"): ALL_STAFF | {"integration"},
    ("POST", "/v1/users"): ADMIN,
    ("POST", "/v1/api-keys"): ADMIN,
    ("DELETE", "/v1/api-keys/{key_id}"): ADMIN,
    ("GET", "/v1/analytics/kpis"): FIGURES,
    ("GET", "/v1/analytics/reports/{granularity}"): FIGURES,
    ("GET", "/v1/analytics/journey"): FIGURES,
    ("GET", "/v1/analytics/new-contacts"): FIGURES,
    ("GET", "/v1/analytics/dormant"): PER_CUSTOMER,
    ("GET", "/v1/analytics/customers/{contact_id}"): PER_CUSTOMER,
    ("GET", "/v1/analytics/segments"): FIGURES,
    ("PUT", "/v1/analytics/segments/{segment_id}"): frozenset({"admin", "marketing"}),
    ("GET", "/v1/analytics/segments/{segment_id}/members"): PER_CUSTOMER,
    ("POST", "/v1/analytics/evaluations"): frozenset({"admin", "analyst"}),
    ("GET", "/v1/analytics/consumables"): FIGURES,
    ("PUT", "/v1/analytics/consumables/{sku}"): frozenset({"admin", "marketing"}),
    ("DELETE", "/v1/analytics/consumables/{sku}"): frozenset({"admin", "marketing"}),
    ("POST", "/v1/contacts"): frozenset({"admin", "sales", "support"}),
    ("GET", "/v1/contacts"): READERS,
    ("POST", "/v1/contacts/import-batch"): frozenset({"admin", "sales", "marketing"}),
    ("GET", "/v1/contacts/export"): frozenset({"admin", "sales"}),  # marketing may not export raw personal data
    ("GET", "/v1/contacts/stale"): READERS,
    ("GET", "/v1/contacts/{contact_id}"): READERS,
    ("PATCH", "/v1/contacts/{contact_id}"): frozenset({"admin", "sales", "support"}),
    ("PUT", "/v1/contacts/{contact_id}/lifecycle"): frozenset({"admin", "sales", "marketing"}),
    ("GET", "/v1/contacts/{contact_id}/lifecycle/history"): READERS,
    ("POST", "/v1/contacts/{contact_id}/lead-status"): frozenset({"admin", "sales"}),
    ("GET", "/v1/contacts/{contact_id}/lead-status/history"): READERS,
    ("GET", "/v1/contacts/{contact_id}/timeline"): READERS,
    ("GET", "/v1/contacts/{contact_id}/fields/{field_path}/explain"): READERS,
    ("GET", "/v1/contacts/{contact_id}/360"): READERS,
    ("GET", "/v1/custom-fields"): ALL_STAFF,
    ("POST", "/v1/custom-fields"): ADMIN,
    ("PATCH", "/v1/custom-fields/{key}"): ADMIN,
    ("GET", "/v1/survivorship-policy"): ALL_STAFF,
    ("PUT", "/v1/survivorship-policy"): ADMIN,
    ("GET", "/v1/consent/subjects/{person_id}"): READERS,
    ("POST", "/v1/consent/statements"): READERS,
    ("GET", "/v1/consent/subjects/{person_id}/audit"): frozenset({"admin", "support"}),
    ("GET", "/v1/consent/check"): frozenset({"admin", "marketing", "sales"}),
    ("POST", "/v1/consent/check-batch"): frozenset({"admin", "marketing", "sales"}),
    ("PUT", "/v1/consent/suppressions/{person_id}"): READERS,
    ("DELETE", "/v1/consent/suppressions/{person_id}"): ADMIN,
    ("GET", "/v1/consent/best-channel"): frozenset({"admin", "marketing", "sales"}),
    ("GET", "/v1/persons/{person_id}"): READERS,
    ("GET", "/v1/reviews"): READERS,
    ("POST", "/v1/reviews/{review_id}"): frozenset({"admin", "sales", "support"}),
    ("POST", "/v1/merges"): frozenset({"admin", "sales", "support"}),
    ("POST", "/v1/merges/{merge_id}/undo"): frozenset({"admin", "sales", "support"}),
    ("GET", "/v1/matching-config"): READERS,
    ("PUT", "/v1/matching-config"): ADMIN,
    ("POST", "/v1/matching-config/impact"): ADMIN,
    ("GET", "/v1/matching-config/learned"): ADMIN,
    ("POST", "/v1/events"): frozenset({"admin", "integration"}),
    ("POST", "/v1/privacy/requests"): frozenset({"admin", "support"}),
    ("GET", "/v1/privacy/requests/{request_id}"): frozenset({"admin", "support"}),
}
PUBLIC = {
    ("POST", "/v1/auth/token"),
    ("POST", "/v1/auth/refresh"),
    ("POST", "/v1/auth/logout"),
    ("POST", "/v1/consent/confirmations/{token}"),
}
PLACEHOLDERS = {"granularity": "month", "field_path": "full_name"}


def documented(stack: Stack) -> set[tuple[str, str]]:
    spec = httpx.get(f"{stack.gateway}/openapi.json", timeout=10).json()
    return {
        (method.upper(), path)
        for path, item in spec["paths"].items()
        if path.startswith("/v1/")
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    }


def test_every_documented_operation_has_a_decided_policy(stack: Stack) -> None:
    ops = documented(stack)
    assert ops - PUBLIC - set(POLICY) == set(), "routes without a decided policy"
    assert set(POLICY) - ops == set(), "policy for routes that no longer exist"


async def test_every_route_for_every_role(stack: Stack) -> None:
    admin = stack.token()
    tokens = {"admin": admin}
    async with httpx.AsyncClient(timeout=30, headers={"authorization": f"Bearer {admin}"}) as c:
        for role in STAFF[1:]:
            name = f"matrix-{role}-{uuid.uuid4().hex[:6]}"
            r = await c.post(f"{stack.gateway}/v1/users", json={"username": name, "password": PASSWORD, "role": role})
            assert r.status_code == 201, r.text
            tokens[role] = stack.token(name, PASSWORD)
        key = await c.post(f"{stack.gateway}/v1/api-keys", json={"name": "matrix", "scopes": ["web.*"]})
        tokens["integration"] = key.json()["api_key"]

    wrong: list[str] = []
    for (method, template), allowed in sorted(POLICY.items()):
        path = re.sub(r"\{(\w+)\}", lambda m: PLACEHOLDERS.get(m.group(1), f"matrix-{m.group(1)}"), template)
        for role, token in tokens.items():
            async with httpx.AsyncClient(timeout=60, headers={"authorization": f"Bearer {token}"}) as c:
                body = {} if method in ("POST", "PUT", "PATCH") else None
                r = await c.request(method, f"{stack.gateway}{path}", json=body)
            if role in allowed and r.status_code in (401, 403):
                wrong.append(f"{role} {method} {template}: {r.status_code}, should pass the door")
            elif role not in allowed and (r.status_code != 403 or "problem+json" not in r.headers["content-type"]):
                wrong.append(f"{role} {method} {template}: {r.status_code}, should be 403")
    assert wrong == []
