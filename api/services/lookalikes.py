"""Lookalike prospects: rank customers by how much they resemble seed customers, with reasons.

Runs the prebuilt :class:`~quanzi.algorithms.lookalike.LookalikeIndex` of the cached
in-memory graph (:mod:`quanzi.api.services.graph_cache`): ties, shared circles, groups and
interests, and FastRP embeddings. Seeds and candidates can be given by filter; the filters
run in the store.
"""

from __future__ import annotations

from quanzi.api.schemas import (
    LookalikePublic,
    LookalikeReason,
    LookalikeRequest,
    LookalikeResult,
)
from quanzi.api.services.access import Principal
from quanzi.api.services.customers import customer_ids, summarise, survivors
from quanzi.api.services.graph_cache import GraphCache
from quanzi.errors import InputError
from quanzi.graph import queries as q
from quanzi.graph.store import GraphStore
from quanzi.settings import Settings

__all__ = ["MAX_SEEDS", "find_lookalikes"]

#: Most seeds a filter may select (the first ones by id).
MAX_SEEDS = 1000


def _seeds(
    store: GraphStore, settings: Settings, principal: Principal, request: LookalikeRequest
) -> list[str]:
    if request.seeds is not None:
        found = survivors(store, request.seeds)
        for i, seed in enumerate(request.seeds):
            if seed not in found:
                raise InputError(f"seeds.{i}: no customer with id {seed!r}")
        return sorted(set(found.values()))
    assert request.seed_filter is not None
    seeds = customer_ids(store, settings, principal, request.seed_filter, limit=MAX_SEEDS)
    if not seeds:
        raise InputError("seed_filter: matches no customer; loosen it")
    return seeds


def find_lookalikes(
    store: GraphStore,
    settings: Settings,
    principal: Principal,
    cache: GraphCache,
    request: LookalikeRequest,
) -> LookalikeResult:
    """The ``k`` best prospects for the request's seeds among its candidates, best first.

    Seeds are never returned; candidates with no evidence at all are not returned either, so
    fewer than ``k`` may come back.
    """
    seeds = _seeds(store, settings, principal, request)
    graph = cache.get(store)
    usable = [s for s in seeds if s in graph.index]
    if not usable:
        cache.invalidate()
        graph = cache.get(store)
        usable = [s for s in seeds if s in graph.index]
    if not usable:
        raise InputError("seeds: none of the seeds is in the graph yet; try again shortly")
    candidates = None
    if request.candidate_filter is not None:
        candidates = customer_ids(
            store, settings, principal, request.candidate_filter, limit=10_000_000
        )
        if not candidates:
            return LookalikeResult(seeds=usable, items=[])
    ranked = graph.lookalike_index().query(
        usable, candidates=candidates, k=request.k, max_reasons=request.max_reasons
    )
    ids = [r.id for r in ranked]
    rows = store.read(q.CUSTOMER_PROPERTIES, "reading lookalike prospects", ids=ids) if ids else []
    props = {r["id"]: dict(r["props"]) for r in rows if not r["props"].get("merged_into")}
    found = [r for r in ranked if r.id in props]
    summaries = summarise(store, principal, [props[r.id] for r in found])
    items = [
        LookalikePublic(
            rank=rank,
            score=round(float(r.score), 6),
            parts={k: round(float(v), 6) for k, v in r.parts.items()},
            reasons=[
                LookalikeReason(
                    kind=x.kind, text=x.text, evidence=list(x.evidence), strength=float(x.strength)
                )
                for x in r.reasons
            ],
            customer=summary,
        )
        for rank, (r, summary) in enumerate(zip(found, summaries, strict=True), 1)
    ]
    return LookalikeResult(seeds=usable, items=items)
