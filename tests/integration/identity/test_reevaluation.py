"""A threshold change, before it is made: existing links are scored again and the report says which would move
(with their evidence); nothing changes in the store."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date

import pytest
from cdp_common.store import Document
from cdp_identity.adapters.graph import IdentityGraph
from cdp_identity.service_layer.reevaluate import impact
from pymongo.asynchronous.database import AsyncDatabase

from tests.integration.identity.test_matching_flow import Recorder, feed

pytestmark = pytest.mark.integration
BIRTH_AN, BIRTH_HAN = date(1990, 5, 6), date(1987, 2, 14)


async def test_a_stricter_link_threshold_reports_exactly_the_links_it_would_undo(db: AsyncDatabase[Document]) -> None:
    graph, rec = IdentityGraph(db), Recorder()
    # strong: the same phone, name and birth date; weaker: the same name and birth date only
    await feed(graph, rec, "shop-till", "1", full_name="Nguyễn Văn An", phones=["0912345678"], birth_date=BIRTH_AN)
    strong = await feed(
        graph, rec, "ecommerce", "2", full_name="Nguyen Van An", phones=["+84912345678"], birth_date=BIRTH_AN
    )
    await feed(graph, rec, "shop-till", "3", full_name="Trịnh Thị Ngọc Hân", birth_date=BIRTH_HAN)
    weak = await feed(graph, rec, "contest", "4", full_name="Trinh Thi Ngoc Han", birth_date=BIRTH_HAN)
    assert not strong.new_person and not weak.new_person
    current = await graph.matching_config()
    links_before = {d["_id"]: d["person_id"] async for d in graph.records.find({})}

    same = await impact(graph, current, current)
    assert (same["links_evaluated"], same["unchanged"], same["would_move"]) == (2, 2, {})

    everything = await impact(graph, current, replace(current, link_threshold=1e9, review_threshold=1e8))
    assert everything["would_move"] == {"link->apart": 2}
    score = {m["record"]: m["score"] for m in everything["examples"]}
    assert score["contest:4"] < score["ecommerce:2"] and all(m["evidence"] for m in everything["examples"])

    between = (score["contest:4"] + score["ecommerce:2"]) / 2
    stricter = await impact(graph, current, replace(current, link_threshold=between))
    assert stricter["would_move"] == {"link->review": 1}
    assert [m["record"] for m in stricter["examples"]] == ["contest:4"]
    # a dry run: no record moved, the configuration is the one in force
    assert {d["_id"]: d["person_id"] async for d in graph.records.find({})} == links_before
    assert (await graph.matching_config()).version == current.version


async def test_new_weights_are_scored_not_only_new_thresholds(db: AsyncDatabase[Document]) -> None:
    graph, rec = IdentityGraph(db), Recorder()
    await feed(graph, rec, "shop-till", "1", full_name="Lê Thị Thu", phones=["0987654321"], birth_date=BIRTH_AN)
    await feed(graph, rec, "ecommerce", "2", full_name="Le Thi Thu", phones=["+84987654321"], birth_date=BIRTH_AN)
    current = await graph.matching_config()
    # the review queue taught that a shared phone says little (a family's, a shop's): u of a phone agreement rises
    shared_phones = replace(current, u={**current.u, "phone": 0.5}, link_threshold=1e9, review_threshold=1e8)
    (example,) = (await impact(graph, current, shared_phones))["examples"]
    assert example["record"] == "ecommerce:2" and example["proposed_score"] < example["score"]
    phone = next(e for e in example["evidence"] if e["field"] == "phone")
    assert abs(phone["weight"] - math.log2(current.m["phone"] / 0.5)) < 0.01
