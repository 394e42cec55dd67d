"""The lookalike graph cache serves its old snapshot while a new one is read, then the new one."""

from __future__ import annotations

import logging
import threading

import pytest

from quanzi.api.services.graph_cache import CachedGraph, GraphCache, _read
from quanzi.api.services.health import CountsCache
from quanzi.graph.connect import open_store
from quanzi.graph.store import GraphStore
from quanzi.model import Node, Rel
from quanzi.settings import Settings
from tests.api.conftest import build_graph

pytestmark = pytest.mark.store


class GatedReader:
    """The real store read, held at a gate so a test can look while a read is under way."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.started = threading.Event()
        self.reads = 0

    def __call__(self, store: GraphStore) -> CachedGraph:
        self.reads += 1
        self.started.set()
        assert self.gate.wait(30), "the test never opened the gate"
        return _read(store)


def _add_customer_with_a_tie(store: GraphStore) -> None:
    store.upsert_nodes(Node.CUSTOMER, [{"id": "c-new", "name": "New Person"}])
    store.upsert_relations(
        Rel.INTERACTS_WITH, Node.CUSTOMER, Node.CUSTOMER, [{"start": "c-new", "end": "c1"}]
    )


def test_a_change_serves_the_old_graph_while_the_new_one_is_read(store: GraphStore) -> None:
    build_graph(store)
    reader = GatedReader()
    reader.gate.set()
    cache = GraphCache(reader=reader)
    old = cache.get(store)
    assert "c-new" not in old.index
    assert reader.reads == 1

    _add_customer_with_a_tie(store)
    reader.gate.clear()
    reader.started.clear()
    cache.invalidate()
    assert cache.stale()
    # The change is known but the request does not wait: it gets the old snapshot at once,
    # and one background read starts (a second request does not start another).
    assert cache.get(store) is old
    assert reader.started.wait(10)
    assert cache.get(store) is old
    assert not cache.wait(0.2)  # still reading, held at the gate
    reader.gate.set()
    assert cache.wait(30)
    assert reader.reads == 2

    new = cache.get(store)
    assert new is not old
    assert "c-new" in new.index
    assert not cache.stale()
    assert new.lookalike_index() is new.lookalike_index()  # built by the background read


def _held_background_read(store: GraphStore) -> tuple[GraphCache, GatedReader]:
    """A cache with a snapshot, a change, and the background read it started held at the gate."""
    build_graph(store)
    reader = GatedReader()
    reader.gate.set()
    cache = GraphCache(reader=reader)
    cache.get(store)
    reader.gate.clear()
    reader.started.clear()
    cache.invalidate()
    cache.get(store)  # starts a background read, held at the gate
    assert reader.started.wait(10)
    return cache, reader


def test_a_change_during_the_read_keeps_the_snapshot_stale(store: GraphStore) -> None:
    cache, reader = _held_background_read(store)
    cache.invalidate()  # a second change lands while the first read is under way
    reader.gate.set()
    assert cache.wait(30)
    assert cache.stale()  # what was read may miss the second change: read again
    cache.get(store)
    assert cache.wait(30)
    assert reader.reads == 3
    assert not cache.stale()


def test_an_erasure_drops_the_graph_and_the_next_request_waits_for_a_new_one(
    store: GraphStore,
) -> None:
    build_graph(store)
    cache = GraphCache()
    old = cache.get(store)
    _add_customer_with_a_tie(store)
    cache.invalidate(drop=True)
    assert cache.age_s() is None
    new = cache.get(store)  # no background read: this request read the store itself
    assert new is not old
    assert "c-new" in new.index


def test_a_read_begun_before_an_erasure_is_not_kept(store: GraphStore) -> None:
    cache, reader = _held_background_read(store)
    cache.invalidate(drop=True)  # an erasure lands meanwhile
    reader.gate.set()
    assert cache.wait(30)
    assert cache.age_s() is None  # what that read saw may hold the erased person
    after = cache.get(store)
    assert reader.reads == 3
    assert cache.get(store) is after


def test_seeds_newer_than_the_graph_read_it_now(store: GraphStore) -> None:
    build_graph(store)
    cache = GraphCache()
    old = cache.get(store)
    _add_customer_with_a_tie(store)
    fresh = cache.refresh(store)
    assert fresh is not old
    assert "c-new" in fresh.index
    assert cache.get(store) is fresh


def test_an_old_graph_is_refreshed_in_the_background(store: GraphStore) -> None:
    build_graph(store)
    cache = GraphCache(max_age_s=0.0)
    old = cache.get(store)
    assert cache.get(store) is old  # too old, but served while the new read runs
    assert cache.wait(30)
    assert cache.get(store) is not old


def test_health_counts_are_reused_for_a_few_seconds(store: GraphStore) -> None:
    build_graph(store)
    cache = CountsCache(max_age_s=60.0)
    counts, version = cache.read(store)
    customers = counts["Customer"]
    store.upsert_nodes(Node.CUSTOMER, [{"id": "c-new", "name": "New Person"}])
    assert cache.read(store)[0]["Customer"] == customers
    assert CountsCache(max_age_s=0.0).read(store)[0]["Customer"] == customers + 1
    assert cache.read(store)[1] == version


def test_warming_reads_in_the_background_and_the_first_request_shares_that_read(
    store: GraphStore,
) -> None:
    build_graph(store)
    reader = GatedReader()
    cache = GraphCache(reader=reader)
    cache.warm(store)  # returns at once: the read is held at the gate
    assert reader.started.wait(10)
    assert cache.age_s() is None
    got: list[CachedGraph] = []
    request = threading.Thread(target=lambda: got.append(cache.get(store)))
    request.start()
    reader.gate.set()
    request.join(30)
    assert got
    assert reader.reads == 1  # the request waited for the warm-up read, no second one
    cache.warm(store)  # a snapshot is held: nothing to do
    assert cache.wait(5)
    assert reader.reads == 1


def test_new_seeds_wait_for_one_shared_background_read(store: GraphStore) -> None:
    build_graph(store)
    reader = GatedReader()
    reader.gate.set()
    cache = GraphCache(reader=reader)
    old = cache.get(store)
    _add_customer_with_a_tie(store)
    reader.gate.clear()
    answers: list[CachedGraph | None] = []
    requests = [
        threading.Thread(target=lambda: answers.append(cache.newer(store, 30))) for _ in range(3)
    ]
    for r in requests:
        r.start()
    assert reader.started.wait(10)
    reader.gate.set()
    for r in requests:
        r.join(30)
    assert len(answers) == 3
    assert all(a is not None and a is not old and "c-new" in a.index for a in answers)
    # 1 read before, then at most 2 for the 3 requests: one, or two when a request asked
    # after the first read had begun (that read may miss what it asked for)
    assert reader.reads <= 3
    reader.gate.clear()
    reader.started.clear()
    assert cache.newer(store, 0.2) is None  # not done in time: the caller answers "not yet"
    reader.gate.set()
    assert cache.wait(30)


def test_a_read_graph_is_kept_out_of_full_garbage_collections(store: GraphStore) -> None:
    # Full collections walk every tracked object; the cached graph is moved out of their reach
    # (gc.freeze), so they stay short while requests are served.
    import gc

    build_graph(store)
    cache = GraphCache(freeze=True)  # as the served app builds it
    try:
        snapshot = cache.get(store)
        tracked = {id(o) for o in gc.get_objects()}
        assert gc.get_freeze_count() > 0
        assert id(snapshot.attributes) not in tracked
        assert id(snapshot.index) not in tracked
    finally:
        gc.unfreeze()


def test_a_library_cache_leaves_the_garbage_collector_alone(store: GraphStore) -> None:
    # Freezing is process-wide: the notebook client's cache (the default) does not do it.
    import gc

    build_graph(store)
    before = gc.get_freeze_count()
    snapshot = GraphCache().get(store)
    assert gc.get_freeze_count() == before
    assert id(snapshot.attributes) in {id(o) for o in gc.get_objects()}


@pytest.mark.parametrize("app_stopping", [False, True])
def test_a_read_cut_off_by_a_stopping_app_does_not_warn(
    store: GraphStore,
    store_settings: Settings,
    caplog: pytest.LogCaptureFixture,
    app_stopping: bool,
) -> None:
    # A served app warms its graph at start; stopped before that read is done, it closes its
    # store under the read. The store going away under a running service is worth a warning;
    # the app closing it is not.
    build_graph(store)
    own = open_store(store_settings)
    reader = GatedReader()
    cache = GraphCache(reader=reader)
    cache.warm(own)
    assert reader.started.wait(10)
    if app_stopping:
        cache.close()
    own.close()
    with caplog.at_level(logging.DEBUG, logger="quanzi.api.services.graph_cache"):
        reader.gate.set()
        assert cache.wait(30)
    levels = {r.levelno for r in caplog.records if "lookalike graph" in r.getMessage()}
    assert levels == ({logging.DEBUG} if app_stopping else {logging.WARNING})


def test_a_change_noted_by_another_process_makes_the_graph_stale(store: GraphStore) -> None:
    # Another worker (or the CLI) ingests and notes it in the store; this worker's cache
    # finds the count moved at its next look and reads again, serving the old graph meanwhile.
    build_graph(store)
    cache = GraphCache(check_s=0.0)
    old = cache.get(store)
    assert cache.get(store) is old
    assert not cache.stale(), "nothing changed: no new read"
    _add_customer_with_a_tie(store)
    store.note_graph_change("ingest")
    assert cache.get(store) is old
    assert cache.wait(30)
    assert "c-new" in cache.get(store).index


def test_an_erasure_in_another_process_drops_the_graph(store: GraphStore) -> None:
    build_graph(store)
    cache = GraphCache(check_s=0.0)
    old = cache.get(store)
    store.note_graph_change("erasure", erasure=True)
    new = cache.get(store)  # dropped: this request read the store itself, not the old graph
    assert new is not old
    assert cache.get(store) is new


def test_the_change_count_is_looked_at_every_check_s_only(store: GraphStore) -> None:
    build_graph(store)
    cache = GraphCache(check_s=3600.0)
    old = cache.get(store)
    store.note_graph_change("ingest")
    assert cache.get(store) is old
    assert not cache.stale()
    assert store.graph_changes() == (1, 0)


def test_a_change_seen_again_during_its_read_is_not_read_twice(store: GraphStore) -> None:
    # At 100k customers a read takes longer than the 5 s between looks: the looks made while
    # it runs must not ask for yet another read of the same change.
    build_graph(store)
    reader = GatedReader()
    reader.gate.set()
    cache = GraphCache(check_s=0.0, reader=reader)
    old = cache.get(store)
    reader.gate.clear()
    reader.started.clear()
    store.note_graph_change("ingest")
    assert cache.get(store) is old
    assert reader.started.wait(10)
    for _ in range(3):
        assert cache.get(store) is old  # looks while the read is held at the gate
    reader.gate.set()
    assert cache.wait(30)
    assert cache.get(store) is not old
    assert not cache.stale()
    assert reader.reads == 2
