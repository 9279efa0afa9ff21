"""Matching rules: normalisation (token sets, accent folding, canonical emails and phones, junk), Fellegi-Sunter
weights with term frequency, deterministic rules and merge protection, and the three-way decision."""

from __future__ import annotations

import math
from datetime import date

import pytest
from cdp_identity.adapters.graph import COMMON_NAME_PERSONS, candidates_in
from cdp_identity.domain.normalise import canonical_email, canonical_phone, name_tokens, profile_of
from cdp_identity.domain.scoring import Frequencies, MatchingConfig, Score, compare
from cdp_identity.service_layer.matching import decide

CFG = MatchingConfig()
RARE = Frequencies({}, {})


def p(key: str, name: str | None = None, **kw: object) -> object:
    return profile_of(
        key,
        key.split(":")[0],
        full_name=name,
        birth_date=kw.get("bd"),  # type: ignore[arg-type]
        emails=kw.get("emails", []),
        phones=kw.get("phones", []),  # type: ignore[arg-type]
        verified_emails=kw.get("vemails", []),
        external_ids=kw.get("ext"),
    )  # type: ignore[arg-type]


class TestNormalisation:
    def test_vietnamese_name_order_and_accents(self) -> None:
        assert name_tokens("Nguyễn Văn An")[0] == name_tokens("An Nguyễn Văn")[0]
        assert name_tokens("Nguyễn Văn An")[1] == name_tokens("an nguyen van")[1]
        assert name_tokens("Nguyễn")[0] != name_tokens("Nguyên")[0]
        assert name_tokens("Đặng")[1] == frozenset({"dang"})

    @pytest.mark.parametrize(
        ("raw", "canon"),
        [
            ("An.Nguyen+shop@GMail.com", "annguyen@gmail.com"),
            ("an+x@googlemail.com", "an@gmail.com"),
            ("An.Nguyen@fpt.vn", "an.nguyen@fpt.vn"),
            ("test@test.com", None),
            ("N/A", None),
        ],
    )
    def test_emails(self, raw: str, canon: str | None) -> None:
        assert canonical_email(raw) == canon

    @pytest.mark.parametrize(
        ("raw", "canon"),
        [("0912 345 678", "+84912345678"), ("84912345678", "+84912345678"), ("0000000000", None), ("unknown", None)],
    )
    def test_phones(self, raw: str, canon: str | None) -> None:
        assert canonical_phone(raw) == canon


class TestScoring:
    def test_reordered_unaccented_name_same_phone_and_birth_date_links(self) -> None:
        a = p("shop:1", "Nguyễn Văn An", phones=["0912345678"], bd=date(1990, 5, 6))
        b = p("web:9", "An Nguyen Van", phones=["+84 912 345 678"], bd=date(1990, 5, 6))
        s = compare(a, b, CFG, RARE)  # type: ignore[arg-type]
        assert s.total >= CFG.link_threshold and s.rule == "probabilistic"
        assert {e.field: e.comparison for e in s.evidence}["name"] == "accent-folded (token set)"

    def test_common_family_name_counts_less_than_a_rare_one(self) -> None:
        a, b = p("x:1", "Nguyễn"), p("y:1", "Nguyễn")
        common = compare(a, b, CFG, Frequencies({"nguyen": 0.38}, {}))  # type: ignore[arg-type]
        rare = compare(a, b, CFG, Frequencies({"nguyen": 0.0005}, {}))  # type: ignore[arg-type]
        assert common.total < rare.total

    def test_a_whole_name_borne_by_many_persons_counts_less(self) -> None:
        """Each token is fairly rare, but 90 of 10,000 records' persons bear the whole name: its u is that share, not
        the product of the tokens' (which would call it one in a hundred thousand)."""
        a, b = p("x:1", "Nguyễn Phương Thu"), p("y:1", "Thu Nguyen Phuong")
        tokens = {"nguyen": 0.05, "phuong": 0.02, "thu": 0.01}
        alone = compare(a, b, CFG, Frequencies(tokens, {"name:nguyen phuong thu": 1}, 10_000))  # type: ignore[arg-type]
        borne = compare(a, b, CFG, Frequencies(tokens, {"name:nguyen phuong thu": 90}, 10_000))  # type: ignore[arg-type]
        assert borne.total < alone.total
        assert borne.total == pytest.approx(math.log2(CFG.m["name_folded"] / 0.009) - 1.0, abs=0.01)

    def test_a_common_name_whose_phone_and_email_differ_is_a_new_person_not_a_review(self) -> None:
        """Two different people with one common name: both identifiers disagree, so nobody is asked."""
        a = p("x:1", "Nguyễn Thị Lan", phones=["0912345678"], emails=["lan.nguyen@example.vn"])
        b = p("y:1", "Nguyễn Thị Lan", phones=["0987654321"], emails=["ntlan@example.com"])
        s = compare(a, b, CFG, Frequencies({"nguyen": 0.38, "thi": 0.3, "lan": 0.02}, {}))  # type: ignore[arg-type]
        assert s.total < CFG.review_threshold

    def test_shared_family_phone_says_little(self) -> None:
        a, b = p("x:1", "Lê Thị Hồng", phones=["0912345678"]), p("y:1", "Lê Văn Hùng", phones=["0912345678"])
        alone = compare(a, b, CFG, Frequencies({}, {"phone:+84912345678": 1}))  # type: ignore[arg-type]
        shared = compare(a, b, CFG, Frequencies({}, {"phone:+84912345678": 4}))  # type: ignore[arg-type]
        assert shared.total < alone.total and shared.total < CFG.link_threshold

    def test_day_month_swap_is_weaker_than_exact(self) -> None:
        a, b = p("x:1", "Trần An", bd=date(1990, 3, 7)), p("y:1", "Trần An", bd=date(1990, 7, 3))
        exact = compare(a, p("z:1", "Trần An", bd=date(1990, 3, 7)), CFG, RARE)  # type: ignore[arg-type]
        swapped = compare(a, b, CFG, RARE)  # type: ignore[arg-type]
        assert 0 < swapped.total < exact.total

    def test_verified_email_is_deterministic(self) -> None:
        a = p("x:1", "Khai", vemails=["khai@x.vn"])
        b = p("y:1", "Minh Khai Nguyen", emails=["khai@x.vn"])
        assert compare(a, b, CFG, RARE).rule == "deterministic:verified_identifier"  # type: ignore[arg-type]

    def test_different_customer_numbers_from_one_source_conflict(self) -> None:
        a = p("pos:1", "Lý An", vemails=["an@x.vn"], ext={"customer_number": "C-1"})
        b = profile_of(
            "pos:2",
            "pos",
            full_name="Lý An",
            birth_date=None,
            emails=["an@x.vn"],
            phones=[],
            external_ids={"customer_number": "C-2"},
        )
        s = compare(a, b, CFG, RARE)  # type: ignore[arg-type]
        assert s.conflict == "different pos:customer_number" and s.rule == "probabilistic"


class TestDecision:
    def test_three_outcomes_and_bridges(self) -> None:
        rec = p("x:1", "A")
        link = Score(CFG.link_threshold + 1, [], "probabilistic")
        band = Score(CFG.review_threshold + 1, [], "probabilistic")
        low = Score(CFG.review_threshold - 1, [], "probabilistic")
        assert decide(rec, [("p1", link)], CFG).person_id == "p1"  # type: ignore[arg-type]
        d = decide(rec, [("p1", band)], CFG)  # type: ignore[arg-type]
        assert d.new_person and [c for c, _ in d.review_candidates] == ["p1"]
        d = decide(rec, [("p1", low)], CFG)  # type: ignore[arg-type]
        assert d.new_person and d.review_candidates == []
        best = Score(CFG.link_threshold + 20, [], "probabilistic")
        d = decide(rec, [("p1", best), ("p2", link), ("p3", band)], CFG)  # type: ignore[arg-type]
        # a bridge: the record joins the best person; the other persons are never merged automatically, they wait
        # for a review of the person the record joined
        assert (d.person_id, d.new_person, d.bridge) == ("p1", False, True)
        assert [c for c, _ in d.review_candidates] == ["p2", "p3"]
        d = decide(rec, [("p1", best), ("p3", band)], CFG)  # type: ignore[arg-type]
        assert (d.person_id, d.bridge, [c for c, _ in d.review_candidates]) == ("p1", False, ["p3"])
        conflicted = Score(CFG.link_threshold + 5, [], "probabilistic", conflict="different pos:customer_number")
        d = decide(rec, [("p1", conflicted)], CFG)  # type: ignore[arg-type]
        assert d.new_person and d.review_candidates[0][0] == "p1"


def test_letters_swapped_across_a_space_are_a_fuzzy_name() -> None:
    a, b = p("x:1", "Tran Than hYen"), p("y:1", "Trần Thanh Yến")
    name = next(e for e in compare(a, b, CFG, RARE).evidence if e.field == "name")  # type: ignore[arg-type]
    assert name.comparison.startswith("fuzzy") and name.weight > 0
    c = p("z:1", "Trần Đức Huy")  # other letters: still a different name
    name = next(e for e in compare(a, c, CFG, RARE).evidence if e.field == "name")  # type: ignore[arg-type]
    assert name.comparison.startswith("disagree")


def test_a_name_borne_by_many_brings_no_candidates_but_shared_evidence_does() -> None:
    rec = p("x:1", "Nguyễn Văn An", bd=date(1990, 3, 7), phones=["0912345678"])
    keys = rec.blocking_keys()  # type: ignore[attr-defined]
    name_key = "name:an nguyen van"
    namesakes = [f"n{i}" for i in range(COMMON_NAME_PERSONS + 1)]
    blocks = {name_key: namesakes, "phone:+84912345678": ["ph"], "tokbd:an:1990-03-07": ["bd"]}
    assert candidates_in(blocks, keys) == ["ph", "bd"]
    blocks[name_key] = namesakes[:COMMON_NAME_PERSONS]  # few enough namesakes: each is a candidate
    assert set(candidates_in(blocks, keys)) == {"ph", "bd", *namesakes[:COMMON_NAME_PERSONS]}


def test_a_birth_date_that_reads_both_ways_is_blocked_both_ways() -> None:
    both = p("x:1", "Lê An", bd=date(1990, 3, 7)).blocking_keys()  # type: ignore[attr-defined]
    assert {"tokbd:an:1990-03-07", "tokbd:an:1990-07-03", "tokbd:le:1990-07-03"} <= set(both)
    one = p("x:1", "Lê An", bd=date(1990, 3, 17)).blocking_keys()  # type: ignore[attr-defined]
    assert [k for k in one if k.startswith("tokbd:")] == ["tokbd:an:1990-03-17", "tokbd:le:1990-03-17"]


def test_a_shared_birth_date_under_other_names_and_contacts_is_not_worth_a_review() -> None:
    # against 100,000 people most reviews were such pairs: one name token and the birthday in common, nothing else
    a = p("x:1", "Nguyễn Văn An", bd=date(1990, 3, 7), emails=["an@x.vn"], phones=["0912345678"])
    b = p("y:1", "Nguyễn Thị Lan", bd=date(1990, 3, 7), emails=["lan@y.vn"], phones=["0987654321"])
    assert compare(a, b, CFG, RARE).total < CFG.review_threshold  # type: ignore[arg-type]
    c = p("z:1", "Nguyễn Thị Lan", bd=date(1990, 3, 7))  # the birthday alone, nothing to contradict: a person decides
    assert compare(a, c, CFG, RARE).total >= CFG.review_threshold  # type: ignore[arg-type]


def test_a_name_alone_never_links() -> None:
    a, b = p("x:1", "Tôn Nữ Thị Quỳnh Giao"), p("y:1", "Tôn Nữ Thị Quỳnh Giao", phones=["0912345678"])
    s = compare(a, b, CFG, Frequencies({}, {}))  # type: ignore[arg-type]
    assert s.total < CFG.link_threshold
