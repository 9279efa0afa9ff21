"""Who is calling, and what they may do.

Staff sign in with the OAuth2 password flow and get a short-lived JWT access token plus a refresh token (stored
hashed, revocable, rotated on use). Integrations use API keys (`cdpk_<id>_<secret>`, stored hashed) scoped to the
event types they may publish. Passwords are hashed with scrypt (stdlib, memory-hard). Every principal has one role;
routes declare the roles they allow (`Allow`), and responses drop the fields a role may not see (`redact`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import jwt
from bson import ObjectId
from cdp_common.group_commit import GroupCommit
from cdp_common.problems import Problem
from cdp_common.store import Document
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

Role = Literal["admin", "sales", "support", "marketing", "analyst", "integration"]
ROLES: tuple[str, ...] = ("admin", "sales", "support", "marketing", "analyst", "integration")
STAFF: tuple[str, ...] = ("admin", "sales", "support", "marketing", "analyst")
ACCESS_TTL = timedelta(minutes=15)
REFRESH_TTL = timedelta(days=7)
ALGORITHM = "HS256"

# Fields of a contact a role may not see, anywhere in a response (`descriptive.income_band` for support).
HIDDEN_FIELDS: dict[str, tuple[tuple[str, ...], ...]] = {"support": (("descriptive", "income_band"),)}


@dataclass(frozen=True)
class Principal:
    subject: str
    role: str
    kind: Literal["staff", "api_key"]
    scopes: tuple[str, ...] = field(default_factory=tuple)


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    return f"scrypt$16384$8$1${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        _, n, r, p, salt, digest = stored.split("$")
        candidate = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=32)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(candidate.hex(), digest)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class AuthStore:
    """Users, refresh tokens, API keys and the audit trail, in the gateway's own database."""

    def __init__(self, db: AsyncDatabase[Document], secret: str) -> None:
        self.users = db["users"]
        self.refresh = db["refresh_tokens"]
        self.keys = db["api_keys"]
        self.audit = db["audit"]
        self.secret = secret
        # access tokens whose signature and claims were checked: (principal, expiry); a token is a signed, immutable
        # string, so checking it again would give the same answer until it expires (about a tenth of a millisecond of
        # every staff request)
        self._verified: dict[str, tuple[Principal, float]] = {}
        # a read of personal data answers only once its audit record is stored; concurrent reads share the write
        self._audit_writes = GroupCommit(lambda docs: self.audit.insert_many(docs, ordered=False))

    # ---------------------------------------------------------------------------------------------- users
    async def create_user(self, username: str, password: str, role: str, display_name: str | None = None) -> None:
        try:
            await self.users.insert_one(
                {
                    "_id": username,
                    "password": hash_password(password),
                    "role": role,
                    "display_name": display_name,
                    "active": True,
                    "created_at": datetime.now(UTC),
                }
            )
        except DuplicateKeyError:
            raise Problem(409, "User exists", f"user {username} already exists") from None

    async def ensure_admin(self, username: str, password: str) -> None:
        if await self.users.find_one({"_id": username}) is None:
            try:
                await self.create_user(username, password, "admin", "Bootstrap admin")
            except Problem:
                pass  # another gateway replica created it first

    async def login(self, username: str, password: str) -> dict[str, Any]:
        user = await self.users.find_one({"_id": username})
        # verify against a dummy hash when the user is unknown, so timing does not reveal which usernames exist
        stored = user["password"] if user else hash_password("x", b"0" * 16)
        if not verify_password(password, stored) or not user or not user.get("active", True):
            raise Problem(401, "Unauthorized", "wrong username or password", headers={"WWW-Authenticate": "Bearer"})
        return await self._issue(username, user["role"])

    async def _issue(self, username: str, role: str) -> dict[str, Any]:
        now = datetime.now(UTC)
        access = jwt.encode(
            {
                "sub": username,
                "role": role,
                "iat": now,
                "exp": now + ACCESS_TTL,
                "jti": uuid.uuid4().hex,
                "typ": "access",
            },
            self.secret,
            algorithm=ALGORITHM,
        )
        refresh = secrets.token_urlsafe(32)
        await self.refresh.insert_one(
            {"_id": _sha256(refresh), "username": username, "expires_at": now + REFRESH_TTL, "revoked": False}
        )
        return {
            "access_token": access,
            "token_type": "bearer",
            "expires_in": int(ACCESS_TTL.total_seconds()),
            "refresh_token": refresh,
            "role": role,
        }

    async def refresh_tokens(self, refresh_token: str) -> dict[str, Any]:
        """Rotation: the used refresh token is revoked in the same atomic update that checks it."""
        doc = await self.refresh.find_one_and_update(
            {"_id": _sha256(refresh_token), "revoked": False}, {"$set": {"revoked": True}}
        )
        if doc is None or doc["expires_at"] < datetime.now(UTC):
            raise Problem(401, "Unauthorized", "refresh token unknown, used or expired")
        user = await self.users.find_one({"_id": doc["username"]})
        if user is None or not user.get("active", True):
            raise Problem(401, "Unauthorized", "user disabled")
        return await self._issue(doc["username"], user["role"])

    async def revoke_refresh(self, refresh_token: str) -> None:
        await self.refresh.update_one({"_id": _sha256(refresh_token)}, {"$set": {"revoked": True}})

    VERIFIED_MAX = 10_000

    def decode_access(self, token: str) -> Principal:
        known = self._verified.get(token)
        if known is not None:
            if time.time() < known[1]:
                return known[0]
            del self._verified[token]
        principal, expires = self._decode_access(token)
        if len(self._verified) >= self.VERIFIED_MAX:
            self._verified.clear()  # simpler than an LRU; at worst each live token is checked once more
        self._verified[token] = (principal, expires)
        return principal

    def _decode_access(self, token: str) -> tuple[Principal, float]:
        try:
            claims = jwt.decode(token, self.secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub"]})
        except jwt.ExpiredSignatureError:
            raise Problem(401, "Unauthorized", "token expired", headers={"WWW-Authenticate": "Bearer"}) from None
        except jwt.PyJWTError:
            raise Problem(401, "Unauthorized", "invalid token", headers={"WWW-Authenticate": "Bearer"}) from None
        if claims.get("typ") != "access" or claims.get("role") not in STAFF:
            raise Problem(401, "Unauthorized", "invalid token", headers={"WWW-Authenticate": "Bearer"})
        return Principal(claims["sub"], claims["role"], "staff"), float(claims["exp"])

    # ------------------------------------------------------------------------------------------- API keys
    async def create_api_key(self, name: str, scopes: list[str], by: str) -> str:
        key_id = uuid.uuid4().hex[:12]
        secret = secrets.token_urlsafe(32)
        await self.keys.insert_one(
            {
                "_id": key_id,
                "name": name,
                "secret_hash": _sha256(secret),
                "scopes": scopes,
                "revoked": False,
                "created_by": by,
                "created_at": datetime.now(UTC),
            }
        )
        return f"cdpk_{key_id}_{secret}"

    async def revoke_api_key(self, key_id: str) -> bool:
        result = await self.keys.update_one({"_id": key_id}, {"$set": {"revoked": True}})
        return result.matched_count == 1

    async def check_api_key(self, presented: str) -> Principal:
        try:
            _, key_id, secret = presented.split("_", 2)
        except ValueError:
            raise Problem(401, "Unauthorized", "malformed API key") from None
        doc = await self.keys.find_one({"_id": key_id})
        if doc is None or doc.get("revoked") or not hmac.compare_digest(doc["secret_hash"], _sha256(secret)):
            raise Problem(401, "Unauthorized", "unknown or revoked API key")
        return Principal(f"key:{key_id}", "integration", "api_key", tuple(doc.get("scopes", [])))

    # ---------------------------------------------------------------------------------------------- audit
    async def record(self, principal: Principal, method: str, route: str, status: int, contact_id: str | None) -> None:
        await self._audit_writes.add(
            {
                # time-ordered, so a new record lands beside the last one: a random id rewrote a random page of
                # the audit trail on every request (the local store's young collections then took 200 ms)
                "_id": str(ObjectId()),
                "who": principal.subject,
                "role": principal.role,
                "method": method,
                "route": route,
                "contact_id": contact_id,
                "status": status,
                "at": datetime.now(UTC),
            }
        )


bearer = HTTPBearer(auto_error=False, description="A staff access token or an integration API key.")


class RateLimiter:
    """Token bucket per principal, per gateway process: `rate` requests per second with bursts of `burst`."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self.buckets: dict[str, tuple[float, float]] = {}

    def check(self, key: str) -> float:
        """0 when allowed, else the seconds to wait."""
        now = time.monotonic()
        tokens, last = self.buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        if tokens >= 1:
            self.buckets[key] = (tokens - 1, now)
            return 0.0
        self.buckets[key] = (tokens, now)
        return (1 - tokens) / self.rate


async def authenticate(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Principal:
    if credentials is None:
        raise Problem(401, "Unauthorized", "credentials required", headers={"WWW-Authenticate": "Bearer"})
    store: AuthStore = request.app.state.auth
    token = credentials.credentials
    principal = await store.check_api_key(token) if token.startswith("cdpk_") else store.decode_access(token)
    wait = request.app.state.limiter.check(principal.subject)
    if wait:
        raise Problem(
            429, "Too Many Requests", "rate limit exceeded", headers={"Retry-After": str(max(1, round(wait)))}
        )
    request.state.principal = principal
    return principal


class Allow:
    """A route dependency: the caller must hold one of `roles` (401 without credentials, 403 without the right)."""

    def __init__(self, *roles: str) -> None:
        self.roles = roles

    async def __call__(self, principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if principal.role not in self.roles:
            raise Problem(403, "Forbidden", f"role {principal.role} may not do this")
        return principal


def redact(body: Any, role: str) -> Any:
    """Remove the fields `role` may not see from a contact, a page of contacts or a 360° view."""
    hidden = HIDDEN_FIELDS.get(role)
    if not hidden:
        return body
    if isinstance(body, list):
        return [redact(x, role) for x in body]
    if isinstance(body, dict):
        for path in hidden:
            node: Any = body
            for part in path[:-1]:
                node = node.get(part) if isinstance(node, dict) else None
            if isinstance(node, dict):
                node.pop(path[-1], None)
        for key in ("items", "profile"):
            if key in body:
                body[key] = redact(body[key], role)
        if "provenance" in body and isinstance(body["provenance"], dict):
            for path in hidden:
                body["provenance"].pop(".".join(path), None)
    return body
