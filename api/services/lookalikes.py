"""Lookalike prospects: rank customers by how much they resemble seed customers, with reasons.

Runs the prebuilt :class:`~quanzi.algorithms.lookalike.LookalikeIndex` of the cached
in-memory graph (:mod:`quanzi.api.services.graph_cache`): ties, shared circles, groups and
interests, and FastRP embeddings. Seeds and candidates can be given by filter; the filters
run in the store.

The parts of the score are mixed by the weights saved in the graph as the ``Setting`` node
``lookalike_weights`` (:func:`save_lookalike_weights`; a data scientist tunes them with
``quanzi.connect().save_lookalike_weights``), else by the defaults of
:class:`~quanzi.algorithms.lookalike.LookalikeWeights`. Each process reads them again when
what it holds is 5 s old (the graph cache's ``check_s``), so a saved setting takes effect at
once in the process that saved it and within 5 s in every other process using the store, as
a graph change does. (Read at every search before session 12: a store round trip that was
4 % of a search's CPU in the service.)
"""

from __future__ import annotations

from dataclasses import asdict, fields
from datetime import UTC, datetime
from typing import Any

from quanzi.algorithms.lookalike import LookalikeWeights
from quanzi.api.schemas import (
    LookalikePublic,
    LookalikeReason,
    LookalikeRequest,
    LookalikeResult,
    LookalikeWeightsPublic,
    LookalikeWeightsUpdate,
)
from quanzi.api.services.access import Principal
from quanzi.api.services.customers import customer_ids, summarise, summary_rows, survivors
from quanzi.api.services.graph_cache import GraphCache
from quanzi.errors import ConfigError, InputError
from quanzi.graph import queries as q
from quanzi.graph.store import GraphStore
from quanzi.model import Node
from quanzi.settings import Settings

__all__ = [
    "LOOKALIKE_WEIGHTS_SETTING",
    "MAX_SEEDS",
    "NEW_SEEDS_WAIT_S",
    "find_lookalikes",
    "lookalike_weights",
    "save_lookalike_weights",
    "update_weights",
    "weights_setting",
]

#: Most seeds a filter may select (the first ones by id).
MAX_SEEDS = 1000

#: Seconds a request whose seeds are all newer than the cached graph waits for the
#: background read of a new one before answering that they are not in the graph yet.
NEW_SEEDS_WAIT_S = 30.0

#: Id of the ``Setting`` node that holds the lookalike part weights.
LOOKALIKE_WEIGHTS_SETTING = "lookalike_weights"
_WEIGHT_NAMES = tuple(f.name for f in fields(LookalikeWeights))


def _saved_setting(store: GraphStore) -> dict[str, Any] | None:
    # One round trip (an auto-commit read), as the API's other per-request reads.
    rows = store.read_autocommit(
        q.get_node(Node.SETTING), "reading the lookalike weights", id=LOOKALIKE_WEIGHTS_SETTING
    )
    return dict(rows[0]["props"]) if rows else None


def lookalike_weights(store: GraphStore) -> LookalikeWeights:
    """The part weights lookalike searches use: the saved setting, else the defaults.

    A part the saved setting does not name keeps its default weight.

    Raises
    ------
    ConfigError
        The saved setting holds a value that is not a weight; it names the field and how to
        replace the setting.
    """
    return _weights_of(_saved_setting(store))


def _weights_of(saved: dict[str, Any] | None) -> LookalikeWeights:
    if saved is None:
        return LookalikeWeights()
    fix = (
        "save valid weights with PUT /lookalikes/weights or "
        "quanzi.connect().save_lookalike_weights(...), or delete the "
        f"Setting node {LOOKALIKE_WEIGHTS_SETTING!r}"
    )
    values: dict[str, float] = {}
    for name in _WEIGHT_NAMES:
        value = saved.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(
                f"Setting {LOOKALIKE_WEIGHTS_SETTING!r}, field {name!r}: {value!r} is not a "
                f"number; {fix}"
            )
        values[name] = float(value)
    try:
        return LookalikeWeights(**values)
    except InputError as e:
        raise ConfigError(f"Setting {LOOKALIKE_WEIGHTS_SETTING!r}: {e}; {fix}") from None


def save_lookalike_weights(
    store: GraphStore, weights: LookalikeWeights, *, actor: str, note: str = ""
) -> dict[str, Any]:
    """Save ``weights`` as the setting every later lookalike search uses; return what was saved.

    ``note`` records why (e.g. the evaluation that chose them); ``actor`` who saved them.
    """
    row: dict[str, Any] = {
        "id": LOOKALIKE_WEIGHTS_SETTING,
        **asdict(weights),
        "updated_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "updated_by": actor,
        "note": note,
    }
    store.upsert_nodes(Node.SETTING, [row])
    return row


def weights_setting(store: GraphStore) -> LookalikeWeightsPublic:
    """The weights searches use now (:func:`lookalike_weights`) with who saved them when."""
    return _public(_saved_setting(store))


def _public(saved: dict[str, Any] | None) -> LookalikeWeightsPublic:
    weights = _weights_of(saved)
    saved = saved or {}
    return LookalikeWeightsPublic(
        **asdict(weights),
        saved=bool(saved),
        updated_at=saved.get("updated_at"),
        updated_by=saved.get("updated_by"),
        note=saved.get("note"),
    )


def update_weights(
    store: GraphStore,
    update: LookalikeWeightsUpdate,
    *,
    actor: str,
    cache: GraphCache | None = None,
) -> LookalikeWeightsPublic:
    """Save new part weights (a part left out takes its default) and return them; ``cache``
    (this process's) uses them from its next search on.

    Raises
    ------
    InputError
        Every weight is 0.
    """
    given = update.model_dump(exclude_none=True, exclude={"note"})
    try:
        weights = LookalikeWeights(**given)
    except InputError:
        raise InputError(
            "weights: at least one part needs a weight above 0 (parts left out take their "
            f"defaults: {asdict(LookalikeWeights())})"
        ) from None
    saved = save_lookalike_weights(store, weights, actor=actor, note=update.note)
    if cache is not None:
        cache.forget(LOOKALIKE_WEIGHTS_SETTING)
    return _public(saved)


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
    graph = cache.get(store)
    given = request.seeds
    if given is not None and all(s in graph.index and s not in graph.merged for s in given):
        # Customers of the snapshot, none merged away when it was read: no store round trip
        # to check them (the ranking reads the snapshot anyway; a merge made since shows
        # once the snapshot is read again, within seconds, as for every other change).
        seeds = sorted(set(given))
    else:
        seeds = _seeds(store, settings, principal, request)
    usable = [s for s in seeds if s in graph.index]
    if not usable:  # seeds newer than the snapshot: wait for the (one, shared) background read
        graph = cache.newer(store, NEW_SEEDS_WAIT_S) or graph
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
        usable,
        candidates=candidates,
        k=request.k,
        weights=cache.kept(LOOKALIKE_WEIGHTS_SETTING, lambda: lookalike_weights(store)),
        max_reasons=request.max_reasons,
        block_model=request.thorough,
    )
    ids = [r.id for r in ranked]
    rows = summary_rows(store, ids, "reading lookalike prospects")
    props = {r["id"]: r for r in rows if not r.get("merged_into")}
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
