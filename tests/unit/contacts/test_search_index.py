"""Contact search from memory: the same answers as the store query (name words in any order without accents, the
last word a prefix; filters; custom values; sorting; cursor pages), and contacts leave it when they stop being
active."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cdp_common.identifiers import fold
from cdp_contacts.adapters import search_index
from cdp_contacts.adapters.search_index import SearchIndex

T0 = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture(autouse=True, params=["heap", "walk"])
def page_picking(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test both ways: a heap over the candidates (few of them), and a walk along the kept sort order (many)."""
    monkeypatch.setattr(search_index, "WALK_ABOVE", 10**9 if request.param == "heap" else 0)


def doc(cid: str, name: str, minutes: int, **over: Any) -> dict[str, Any]:
    search_name = fold(name)
    base = {
        "_id": cid,
        "status": "active",
        "name_tokens": search_name.split(),
        "search_name": search_name,
        "lifecycle_stage": "lead",
        "lead_status": "new",
        "tags": [],
        "owner": None,
        "custom_fields": {},
        "created_at": T0,
        "updated_at": T0 + timedelta(minutes=minutes),
    }
    return {**base, **over}


def ask(index: SearchIndex, **over: Any) -> tuple[list[str], Any]:
    args: dict[str, Any] = {
        "tokens": [],
        "filters": {},
        "custom": (),
        "sort": "updated_at",
        "descending": True,
        "limit": 50,
        "after": None,
    }
    args.update(over)
    return index.query(**args)


def filled() -> SearchIndex:
    index = SearchIndex()
    for d in (
        doc("c1", "Nguyễn Văn An", 1, tags=["vip"], lifecycle_stage="customer"),
        doc("c2", "Nguyễn Thị Anh", 2, lifecycle_stage="customer", custom_fields={"sizes": ["M", "L"]}),
        doc("c3", "Trần An", 3, owner="lan.sales", custom_fields={"shoe_size": 39}),
        doc("c4", "An Nguyen Van", 4, tags=["vip"], lifecycle_stage="customer"),
        doc("c5", "Lê Bình", 5, lead_status="bad_timing"),
    ):
        index.put(d, d["_id"])
    return index


def test_name_words_in_any_order_without_accents_and_the_last_one_a_prefix() -> None:
    index = filled()
    assert ask(index, tokens=["an", "nguyen", "van"])[0] == ["c4", "c1"]
    assert ask(index, tokens=["nguyen", "an"])[0] == ["c4", "c2", "c1"]  # "an" also starts "anh"
    assert ask(index, tokens=["nguyen", "anh"])[0] == ["c2"]
    assert ask(index, tokens=["tran", "b"])[0] == []


def test_filters_and_custom_values_as_the_store_matches_them() -> None:
    index = filled()
    assert ask(index, filters={"tag": "vip", "stage": "customer"})[0] == ["c4", "c1"]
    assert ask(index, filters={"owner": "lan.sales"})[0] == ["c3"]
    assert ask(index, filters={"lead": "bad_timing"})[0] == ["c5"]
    assert ask(index, custom=(("shoe_size", ("39", 39)),))[0] == ["c3"]
    assert ask(index, custom=(("sizes", ("L",)),))[0] == ["c2"]  # one value of a multi-select
    assert ask(index, custom=(("sizes", ("XL",)),))[0] == []


def test_cursor_pages_walk_the_whole_order_once() -> None:
    index = filled()
    seen: list[str] = []
    after = None
    while True:
        ids, after = ask(index, limit=2, after=after, sort="full_name", descending=False)
        seen += ids
        if after is None:
            break
    everyone = sorted(index.entries.values(), key=lambda e: (e.search_name, e.id))
    assert seen == [e.id for e in everyone]
    newest_first, _ = ask(index)
    assert newest_first == ["c5", "c4", "c3", "c2", "c1"]


def test_a_contact_that_changes_or_stops_being_active_is_found_only_as_it_is_now() -> None:
    index = filled()
    index.put(doc("c1", "Nguyễn Văn Bình", 9), "c1")  # renamed
    assert ask(index, tokens=["nguyen", "van", "an"])[0] == ["c4"]
    assert ask(index, tokens=["binh"])[0] == ["c1", "c5"]
    index.put(doc("c5", "Lê Bình", 10, status="merged"), "c5")  # absorbed by a merge
    index.put(None, "c4")  # erased
    assert ask(index, tokens=["binh"])[0] == ["c1"]
    assert ask(index, tokens=["nguyen", "van"])[0] == ["c1"]
    assert "c4" not in index.entries and len(index) == 3
    assert ("t", "le") not in index.postings  # nothing left behind for words nobody has any more
