"""The identity service's internal API: persons with the evidence of each link, the review queue, manual merge
and undo, and the matching configuration (versioned, changeable at run time)."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

from cdp_common.contracts.identity import MergeUndone, ReviewResolved
from cdp_common.events import make_event, utcnow
from cdp_common.problems import Problem
from cdp_common.topics import IDENTITY_EVENTS
from fastapi import APIRouter, Header, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from cdp_identity.adapters.graph import IdentityGraph
from cdp_identity.domain import learning
from cdp_identity.domain.scoring import MatchingConfig
from cdp_identity.service_layer import reevaluate
from cdp_identity.service_layer.matching import NS, SOURCE, merge_persons

router = APIRouter(prefix="/v1", tags=["identity"])
Id = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
Actor = Annotated[str, Header(alias="x-actor", max_length=100)]


def graph_of(request: Request) -> IdentityGraph:
    g: IdentityGraph = request.app.state.graph
    return g


@router.get("/persons/{person_id}", summary="A person and its source records, with the evidence of each link")
async def read_person(person_id: Id, request: Request) -> dict[str, Any]:
    graph = graph_of(request)
    current = await graph.resolve(person_id)
    records = await graph.records_of(current)
    if not records and await graph.person(current) is None:
        raise Problem(404, "Person not found", f"no person with id {person_id}")
    merges = [
        {"merge_id": m["_id"], "merged_id": m["merged"], "by": m["by"], "at": m["at"], "evidence": m["evidence"]}
        async for m in graph.merges.find({"survivor": current, "undone": False})
    ]
    return {
        "person_id": current,
        "redirected_from": person_id if current != person_id else None,
        "merges": merges,
        "records": [
            {
                "source": r["source"],
                "record_key": r["_id"],
                "identifiers": r["profile"]["emails"] + r["profile"]["phones"],
                "observed_at": r["observed_at"],
                "link": r["link"],
            }
            for r in records
        ],
    }


@router.get("/reviews", summary="The duplicate review queue")
async def list_reviews(
    request: Request,
    status: Annotated[str, Query(pattern="^(open|accepted|rejected)$")] = "open",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[dict[str, Any]]:
    graph = graph_of(request)
    return [{"review_id": d.pop("_id"), **d} async for d in graph.reviews.find({"status": status}).limit(limit)]


class Resolution(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: str = Field(pattern="^(accept|reject)$")
    person_id: str | None = Field(None, description="With accept: the candidate to join (default: the best).")


@router.post("/reviews/{review_id}", summary="Accept (merge) or reject a proposed match; the answer is kept as a label")
async def resolve_review(review_id: Id, body: Resolution, request: Request, x_actor: Actor = "staff") -> dict[str, Any]:
    graph = graph_of(request)
    review = await graph.reviews.find_one_and_update(
        {"_id": review_id, "status": "open"},
        {
            "$set": {
                "status": "accepted" if body.decision == "accept" else "rejected",
                "by": x_actor,
                "resolved_at": utcnow(),
            }
        },
    )
    if review is None:
        raise Problem(409, "Not open", f"review {review_id} is unknown or already resolved")
    target = None
    merge_id = None
    if body.decision == "accept":
        target = body.person_id or review["candidates"][0]["person_id"]
        if target not in [c["person_id"] for c in review["candidates"]]:
            raise Problem(
                422,
                "Not a candidate",
                "person_id is not one of this review's candidates",
                errors=[{"field": "person_id", "in": "body", "message": "not a candidate"}],
            )
        # the label: which candidate was the same person (the others were not)
        await graph.reviews.update_one({"_id": review_id}, {"$set": {"accepted_person_id": target}})
        survivor = await graph.resolve(target)
        merged = await graph.resolve(review["person_id"])
        if survivor != merged:
            merge_id = await merge_persons(
                survivor,
                merged,
                x_actor,
                graph,
                request.app.state.publisher,
                evidence=review["candidates"][0]["evidence"],
            )
    await request.app.state.publisher.publish(
        IDENTITY_EVENTS.name,
        make_event(
            source=SOURCE,
            event_type="identity.review_resolved",
            subject=review["person_id"],
            data=ReviewResolved(
                review_id=review_id,
                decision="accepted" if body.decision == "accept" else "rejected",
                person_id=target,
                by=x_actor,
                resolved_at=utcnow(),
            ),
        ),
    )
    return {"review_id": review_id, "decision": body.decision, "merge_id": merge_id}


class MergeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    survivor_id: str = Field(min_length=1, max_length=64)
    merged_id: str = Field(min_length=1, max_length=64)


@router.post("/merges", status_code=201, summary="Merge two persons (the survivor keeps its id)")
async def merge(body: MergeIn, request: Request, x_actor: Actor = "staff") -> dict[str, Any]:
    graph = graph_of(request)
    survivor, merged = await graph.resolve(body.survivor_id), await graph.resolve(body.merged_id)
    if survivor == merged:
        raise Problem(409, "Same person", "these are already one person")
    if await graph.person(survivor) is None or await graph.person(merged) is None:
        raise Problem(404, "Person not found", "both persons must exist")
    merge_id = await merge_persons(survivor, merged, x_actor, graph, request.app.state.publisher)
    return {"merge_id": merge_id, "survivor_id": survivor, "merged_id": merged}


@router.post("/merges/{merge_id}/undo", summary="Undo a merge: each person gets back exactly its own records")
async def undo(merge_id: Id, request: Request, x_actor: Actor = "staff") -> dict[str, Any]:
    graph = graph_of(request)
    m = await graph.undo_merge(merge_id, x_actor)
    if m is None:
        raise Problem(404, "Merge not found", f"no merge {merge_id}")
    import uuid

    await request.app.state.publisher.publish(
        IDENTITY_EVENTS.name,
        make_event(
            source=SOURCE,
            event_type="identity.merge_undone",
            subject=m["survivor"],
            event_id=uuid.uuid5(NS, f"undo:{merge_id}").hex,
            data=MergeUndone(
                merge_id=merge_id, survivor_id=m["survivor"], restored_id=m["merged"], by=x_actor, undone_at=utcnow()
            ),
        ),
    )
    return {"merge_id": merge_id, "restored_id": m["merged"], "records_returned": len(m["records"])}


@router.get("/matching-config", summary="Thresholds and weights in force")
async def get_config(request: Request) -> dict[str, Any]:
    return (await graph_of(request).matching_config()).to_doc()


Probability = Annotated[float, Field(gt=0, lt=1)]


class ConfigIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=1, description="The version you read; the new one is version + 1.")
    link_threshold: float
    review_threshold: float
    m: dict[str, Probability] | None = Field(
        None, description="P(outcome | same person) per outcome key (as in GET; e.g. the learnt ones); others kept."
    )
    u: dict[str, Probability] | None = Field(
        None, description="P(outcome | different persons) per outcome key; others kept."
    )

    def applied_to(self, current: MatchingConfig, version: int) -> MatchingConfig:
        for name, given, known in (("m", self.m, current.m), ("u", self.u, current.u)):
            unknown = sorted(set(given or {}) - set(known))
            if unknown:
                raise Problem(
                    422,
                    "Unknown outcome",
                    f"{name} has no outcome {', '.join(unknown)}",
                    errors=[{"field": f"{name}.{k}", "in": "body", "message": "unknown outcome"} for k in unknown],
                )
        return replace(
            current,
            version=version,
            link_threshold=self.link_threshold,
            review_threshold=self.review_threshold,
            m={**current.m, **(self.m or {})},
            u={**current.u, **(self.u or {})},
        )


def _ordered(body: ConfigIn) -> None:
    if body.review_threshold >= body.link_threshold:
        raise Problem(
            422,
            "Invalid thresholds",
            "review_threshold must be below link_threshold",
            errors=[{"field": "review_threshold", "in": "body", "message": "must be below link_threshold"}],
        )


@router.post(
    "/matching-config/impact",
    summary="What proposed thresholds would move: existing links and open reviews re-scored (changes nothing)",
)
async def config_impact(body: ConfigIn, request: Request) -> dict[str, Any]:
    _ordered(body)
    graph = graph_of(request)
    current = await graph.matching_config()
    return await reevaluate.impact(graph, current, body.applied_to(current, current.version + 1))


@router.get(
    "/matching-config/learned",
    summary="Weights learnt from the review queue's answers, beside those in force, and what adopting them would move",
)
async def learned_config(request: Request) -> dict[str, Any]:
    graph = graph_of(request)
    current = await graph.matching_config()
    reviews = [r async for r in graph.reviews.find({"status": {"$in": ["accepted", "rejected"]}})]
    labels = learning.labels_from(reviews)
    learnt = learning.learn(labels, current)
    proposed = replace(current, m=learnt["proposed_m"], u=learnt["proposed_u"])
    return {
        "labels": {"matches": labels.matches, "non_matches": labels.non_matches, "reviews": len(reviews)},
        "prior_weight_in_labels": learning.PRIOR_WEIGHT,
        "min_labels_per_field": learning.MIN_LABELS,
        "fields": learnt["fields"],
        "proposed": {"m": learnt["proposed_m"], "u": learnt["proposed_u"]},
        "impact": await reevaluate.impact(graph, current, proposed),
        "adopt": "PUT /v1/matching-config with the version in force, the thresholds, and these m and u",
    }


@router.put(
    "/matching-config", summary="Change thresholds and weights (versioned; every link records the version it used)"
)
async def put_config(body: ConfigIn, request: Request, x_actor: Actor = "admin") -> dict[str, Any]:
    _ordered(body)
    graph = graph_of(request)
    current = await graph.matching_config()
    if current.version != body.version:
        raise Problem(409, "Stale version", f"the configuration is at version {current.version}")
    new = body.applied_to(current, current.version + 1)
    if not await graph.save_config(new, current.version, x_actor):
        raise Problem(409, "Stale version", "another admin changed the configuration first")
    return new.to_doc()
