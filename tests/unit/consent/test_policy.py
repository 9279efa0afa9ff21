"""Effective consent by policy: the later statement wins whatever order statements arrive in; on a tie a withdrawal
wins; an expired grant is no grant; source priority breaks remaining ties; absence is never consent."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cdp_consent.domain.policy import ConsentPolicy, effective

NOW = datetime(2026, 11, 22, tzinfo=UTC)


def st(sid: str, status: str, month: int, source: str = "shop-till", day: int = 10, **kw: Any) -> dict[str, Any]:
    return {
        "id": sid,
        "channel": "email",
        "purpose": "newsletter",
        "status": status,
        "source": source,
        "event_time": datetime(2026, month, day, tzinfo=UTC),
        "received_at": NOW - timedelta(days=month),
        **kw,
    }


JAN_OPT_IN = st("jan", "granted", 1, "ecommerce")
MAR_OPT_OUT = st("mar", "withdrawn", 3, "contest")


@pytest.mark.parametrize("order", list(itertools.permutations([JAN_OPT_IN, MAR_OPT_OUT])))
def test_classic_case_in_either_order(order: tuple[dict[str, Any], ...]) -> None:
    e = effective(list(order), "email", "newsletter", NOW)
    assert (e.status, e.allowed, e.decided_by) == ("withdrawn", False, "mar")
    assert "latest event time wins" in e.reason


def test_a_later_opt_in_wins_again() -> None:
    e = effective([JAN_OPT_IN, MAR_OPT_OUT, st("may", "granted", 5)], "email", "newsletter", NOW)
    assert (e.allowed, e.decided_by) == (True, "may")


def test_on_a_tie_withdrawal_beats_grant() -> None:
    e = effective([st("a", "granted", 4), st("b", "withdrawn", 4)], "email", "newsletter", NOW)
    assert e.decided_by == "b" and "tie" in e.reason


def test_expired_grant_is_no_grant() -> None:
    e = effective([st("a", "granted", 4, expires_at=NOW - timedelta(days=1))], "email", "newsletter", NOW)
    assert (e.status, e.allowed) == ("expired", False)


def test_source_priority_breaks_a_tie_between_equals() -> None:
    pol = ConsentPolicy(version=2, source_priority=("staff", "ecommerce"))
    e = effective([st("a", "granted", 4, "contest"), st("b", "granted", 4, "staff")], "email", "newsletter", NOW, pol)
    assert e.decided_by == "b"


def test_no_statement_is_not_consent_and_other_purposes_do_not_count() -> None:
    other = {**JAN_OPT_IN, "purpose": "marketing"}
    e = effective([other], "email", "newsletter", NOW)
    assert (e.status, e.allowed, e.decided_by) == ("none", False, None)


def test_unconfirmed_double_opt_in_grant_does_not_count() -> None:
    pending = st("p", "granted", 6, confirmed=False)
    assert effective([pending], "email", "newsletter", NOW).status == "none"
    assert effective([{**pending, "confirmed": True}], "email", "newsletter", NOW).allowed


def test_best_channel_prefers_the_persons_choice_among_consented_reachable_ones() -> None:
    from cdp_consent.domain.policy import best_channel

    sms = {**st("s", "granted", 2), "channel": "sms"}
    email = st("e", "granted", 2)
    assert best_channel([sms, email], "newsletter", ["email", "sms"], "sms", NOW)[0] == "sms"
    assert best_channel([sms, email], "newsletter", ["email"], "sms", NOW)[0] == "email"  # sms not reachable
    assert best_channel([MAR_OPT_OUT], "newsletter", ["email"], None, NOW)[0] is None
