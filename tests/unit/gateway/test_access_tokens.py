"""Access tokens are checked once and then remembered until they expire: a remembered token stays refused after
its expiry, and a token signed with another secret or carrying another type is never remembered as valid."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
from cdp_common.problems import Problem
from cdp_gateway.auth import ALGORITHM, AuthStore

SECRET = "unit-test-secret-0123456789-abcdefghijkl"


def store() -> AuthStore:
    db: Any = {"users": None, "refresh_tokens": None, "api_keys": None, "audit": None}
    return AuthStore(db, SECRET)


def token(exp: float, secret: str = SECRET, typ: str = "access", role: str = "sales") -> str:
    return jwt.encode({"sub": "lan", "role": role, "exp": int(exp), "typ": typ}, secret, algorithm=ALGORITHM)


def test_a_remembered_token_is_refused_once_it_expired() -> None:
    auth = store()
    t = token(time.time() + 2)
    assert auth.decode_access(t).subject == "lan"
    assert auth.decode_access(t).role == "sales"  # from memory
    time.sleep(max(0.0, int(time.time() + 2) - time.time() + 0.1))  # past the whole second `exp` names
    with pytest.raises(Problem) as refused:
        auth.decode_access(t)
    assert refused.value.status == 401


@pytest.mark.parametrize(
    "bad",
    [
        token(time.time() + 60, secret="another-secret-0123456789-abcdefghijkl"),
        token(time.time() + 60, typ="refresh"),
        token(time.time() + 60, role="integration"),
        token(time.time() - 5),
    ],
)
def test_a_bad_token_is_refused_every_time(bad: str) -> None:
    auth = store()
    for _ in range(2):
        with pytest.raises(Problem) as refused:
            auth.decode_access(bad)
        assert refused.value.status == 401
