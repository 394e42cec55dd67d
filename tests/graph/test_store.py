"""Contract tests of the store adapter against the real bundled ArcadeDB."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from quanzi.errors import ConflictError, InputError, NotFoundError
from quanzi.graph import queries as q
from quanzi.graph.connect import open_store
from quanzi.graph.schema import INDEXES, SCHEMA_VERSION, ensure_schema, schema_version
from quanzi.graph.store import GraphStore
from quanzi.model import Node, Rel
from quanzi.settings import Settings


def _people(n: int) -> list[dict[str, object]]:
    return [
        {"id": f"c{i}", "name": f"Person {i}", "tier": "general", "score": i / 10} for i in range(n)
    ]


def test_upsert_is_idempotent(store: GraphStore) -> None:
    rows = _people(12)
    assert store.upsert_nodes(Node.CUSTOMER, rows, batch_size=5) == 12
    store.upsert_nodes(Node.CUSTOMER, rows, batch_size=5)
    assert store.counts()["Customer"] == 12
    ties = [{"start": f"c{i}", "end": f"c{i + 1}", "weight": 1.5} for i in range(11)]
    store.upsert_relations(Rel.INTERACTS_WITH, Node.CUSTOMER, Node.CUSTOMER, ties)
    store.upsert_relations(Rel.INTERACTS_WITH, Node.CUSTOMER, Node.CUSTOMER, ties)
    assert store.counts()["INTERACTS_WITH"] == 11


def test_upsert_updates_properties_and_keeps_others(store: GraphStore) -> None:
    store.upsert_nodes(Node.CUSTOMER, [{"id": "c1", "name": "Li Lei", "tier": "general"}])
    store.upsert_nodes(Node.CUSTOMER, [{"id": "c1", "tier": "loyal", "name": None}])
    assert store.get_node(Node.CUSTOMER, "c1") == {"id": "c1", "name": "Li Lei", "tier": "loyal"}


def test_unicode_and_injection_text_is_stored_verbatim(store: GraphStore) -> None:
    nasty = "張偉'}) MATCH (n) DETACH DELETE n //"
    store.upsert_nodes(Node.CUSTOMER, [{"id": "c1", "name": nasty}, {"id": nasty}])
    assert store.get_node(Node.CUSTOMER, "c1") == {"id": "c1", "name": nasty}
    assert store.get_node(Node.CUSTOMER, nasty) == {"id": nasty}
    assert store.counts()["Customer"] == 2


def test_failing_transaction_leaves_nothing_half_written(store: GraphStore) -> None:
    store.upsert_nodes(Node.CUSTOMER, [{"id": "existing"}])
    batch = {"rows": [{"id": f"new{i}", "props": {}} for i in range(10)]}
    duplicate = {"rows": [{"id": "existing", "props": {}}]}
    with pytest.raises(ConflictError):
        store.write_many(
            [(q.merge_nodes(Node.CUSTOMER), batch), (q.create_nodes(Node.CUSTOMER), duplicate)],
            "writing a batch that fails halfway",
        )
    assert store.counts()["Customer"] == 1
    assert store.get_node(Node.CUSTOMER, "new0") is None


def test_bad_row_is_rejected_before_its_batch_is_written(store: GraphStore) -> None:
    rows = [{"id": "a"}, {"id": "b", "attributes": {"nested": 1}}]
    with pytest.raises(InputError, match=r"row 1 \(id=b\), field 'attributes'"):
        store.upsert_nodes(Node.CUSTOMER, rows)
    assert store.counts().get("Customer", 0) == 0
    with pytest.raises(InputError, match="field 'id'"):
        store.upsert_nodes(Node.CUSTOMER, [{"name": "no id"}])
    with pytest.raises(ValueError, match="unknown node label"):
        store.upsert_nodes("Customer) DETACH DELETE (n", [{"id": "x"}])


def test_neighbourhood_to_depth_two(store: GraphStore) -> None:
    store.upsert_nodes(Node.CUSTOMER, _people(4))
    store.upsert_nodes(Node.GROUP, [{"id": "g1", "name": "Hiking club"}])
    chain = [{"start": f"c{i}", "end": f"c{i + 1}"} for i in range(3)]
    store.upsert_relations(Rel.INTERACTS_WITH, Node.CUSTOMER, Node.CUSTOMER, chain)
    store.upsert_relations(Rel.MEMBER_OF, Node.CUSTOMER, Node.GROUP, [{"start": "c0", "end": "g1"}])

    one = store.neighbourhood(Node.CUSTOMER, "c0", depth=1)
    assert set(one.nodes) == {"c1", "g1"}
    assert one.nodes["g1"]["_label"] == "Group"
    two = store.neighbourhood(Node.CUSTOMER, "c0", depth=2)
    assert set(two.nodes) == {"c1", "c2", "g1"}
    assert {(r["start"], r["end"]) for r in two.relations} == {
        ("c0", "c1"),
        ("c1", "c2"),
        ("c0", "g1"),
    }
    only_ties = store.neighbourhood(Node.CUSTOMER, "c0", depth=2, rels=[Rel.INTERACTS_WITH])
    assert set(only_ties.nodes) == {"c1", "c2"}
    alone = store.neighbourhood(Node.CUSTOMER, "c3", depth=1)
    assert set(alone.nodes) == {"c2"}
    with pytest.raises(NotFoundError):
        store.neighbourhood(Node.CUSTOMER, "nobody")


def test_neighbourhood_limit_marks_truncation(store: GraphStore) -> None:
    store.upsert_nodes(Node.CUSTOMER, _people(30))
    star = [{"start": "c0", "end": f"c{i}"} for i in range(1, 30)]
    store.upsert_relations(Rel.INTERACTS_WITH, Node.CUSTOMER, Node.CUSTOMER, star)
    capped = store.neighbourhood(Node.CUSTOMER, "c0", limit=10)
    assert capped.truncated
    assert len(capped.nodes) <= 11
    assert not store.neighbourhood(Node.CUSTOMER, "c0", limit=100).truncated


def test_projection_round_trip(store: GraphStore) -> None:
    store.upsert_nodes(Node.CUSTOMER, _people(6))
    edges = [("c0", "c1", 2.0), ("c1", "c2", 1.0), ("c3", "c4", 0.5), ("c4", "c5", 3.0)]
    store.upsert_relations(
        Rel.INTERACTS_WITH,
        Node.CUSTOMER,
        Node.CUSTOMER,
        [{"start": a, "end": b, "weight": w} for a, b, w in edges],
    )
    store.upsert_nodes(Node.GROUP, [{"id": "g1"}])
    store.upsert_relations(Rel.MEMBER_OF, Node.CUSTOMER, Node.GROUP, [{"start": "c0", "end": "g1"}])

    p = store.read_projection([Rel.INTERACTS_WITH])
    assert sorted(p.ids) == [f"c{i}" for i in range(6)]
    got = {(p.ids[a], p.ids[b], w) for a, b, w in zip(p.src, p.dst, p.weight, strict=True)}
    assert got == set(edges)
    g = p.to_igraph()
    assert g.vcount() == 6
    assert g.ecount() == 4
    assert sorted(g.es["weight"]) == [0.5, 1.0, 2.0, 3.0]
    assert len(g.connected_components()) == 2
    assert p.to_scipy().sum() == pytest.approx(2 * 6.5)
    assert p.to_networkx()["c4"]["c5"]["weight"] == 3.0


def test_results_write_back(store: GraphStore) -> None:
    store.upsert_nodes(Node.CUSTOMER, _people(3))
    store.set_node_properties(
        Node.CUSTOMER, [{"id": "c0", "influence": 0.9}, {"id": "c2", "influence": 0.1}]
    )
    assert store.get_node(Node.CUSTOMER, "c0")["influence"] == 0.9  # type: ignore[index]
    store.upsert_nodes(Node.CIRCLE, [{"id": "K1"}, {"id": "K2"}])
    members = [{"start": "c0", "end": "K1"}, {"start": "c1", "end": "K1"}]
    store.replace_relations(Rel.IN_CIRCLE, Node.CUSTOMER, Node.CIRCLE, ["c0", "c1"], members)
    moved = [{"start": "c0", "end": "K2"}, {"start": "c1", "end": "K1"}]
    store.replace_relations(Rel.IN_CIRCLE, Node.CUSTOMER, Node.CIRCLE, ["c0", "c1"], moved)
    assert store.counts()["IN_CIRCLE"] == 2
    assert set(store.neighbourhood(Node.CUSTOMER, "c0", rels=[Rel.IN_CIRCLE]).nodes) == {"K2"}


def test_remove_node_properties_of_some_nodes(store: GraphStore) -> None:
    store.upsert_nodes(Node.CUSTOMER, [{"id": f"c{i}", "risk": 0.5, "keep": i} for i in range(3)])
    store.remove_node_properties(Node.CUSTOMER, ["risk"], ids=["c0", "c2", "c2", "nobody"])
    nodes = {i: store.get_node(Node.CUSTOMER, f"c{i}") or {} for i in range(3)}
    assert ["risk" in nodes[i] for i in range(3)] == [False, True, False]
    assert [nodes[i]["keep"] for i in range(3)] == [0, 1, 2]


def test_large_result_write_back_takes_the_bulk_path(store: GraphStore) -> None:
    n = 2500  # over the bulk threshold
    store.upsert_nodes(Node.CUSTOMER, _people(n))
    rows = [
        {"id": f"c{i}", "churn_risk": i / n, "churn_risk_reasons": [f"reason {i}", "x"]}
        for i in range(n)
    ]
    assert store.set_node_properties(Node.CUSTOMER, rows) == n
    c7 = store.get_node(Node.CUSTOMER, "c7")
    assert c7 is not None
    assert c7["churn_risk"] == 7 / n
    assert c7["churn_risk_reasons"] == ["reason 7", "x"]
    assert c7["name"]  # the other properties stay
    assert store.counts()["Customer"] == n  # updates only, nothing created


def test_schema_creation_is_idempotent(store: GraphStore) -> None:
    assert ensure_schema(store) == SCHEMA_VERSION
    assert ensure_schema(store) == SCHEMA_VERSION
    assert schema_version(store) == SCHEMA_VERSION
    indexes = store.read("SHOW INDEXES", "listing indexes")
    constrained = {tuple(i["labelsOrTypes"]) for i in indexes if i.get("owningConstraint")}
    assert {(n.value,) for n in Node} <= constrained
    with pytest.raises(ConflictError):
        store.write(q.create_nodes(Node.SCHEMA_META), "dup", rows=[{"id": "schema", "props": {}}])


def test_schema_set_up_by_several_processes_at_once_succeeds_in_each(store: GraphStore) -> None:
    # `quanzi serve --workers N` on a fresh store: every worker runs ensure_schema at once,
    # and two MERGEs of the version node raced into a uniqueness error that stopped the server.
    from concurrent.futures import ThreadPoolExecutor

    for _ in range(4):
        store.delete_everything()
        assert schema_version(store) is None
        with ThreadPoolExecutor(4) as pool:
            versions = list(pool.map(lambda _: ensure_schema(store), range(4)))
        assert versions == [SCHEMA_VERSION] * 4
        assert schema_version(store) == SCHEMA_VERSION
        assert store.counts()["SchemaMeta"] == 1


def _indexed(store: GraphStore, label: Node) -> set[str]:
    indexes = store.read("SHOW INDEXES", "listing indexes")
    return {
        prop
        for i in indexes
        if tuple(i["labelsOrTypes"] or ()) == (label.value,) and not i.get("owningConstraint")
        for prop in i["properties"] or ()
    }


def test_schema_migration_drops_an_index_of_an_earlier_version(store: GraphStore) -> None:
    # A store made by schema version 5 has a Customer.name index; version 6 drops it, and
    # running the migration again changes nothing.
    assert "tier" in _indexed(store, Node.CUSTOMER)
    store.write(q.create_index(Node.CUSTOMER, "name"), "the version 5 index")
    assert "name" in _indexed(store, Node.CUSTOMER)
    for _ in range(2):
        assert ensure_schema(store) == SCHEMA_VERSION == 6
        assert _indexed(store, Node.CUSTOMER) == set(INDEXES[Node.CUSTOMER])
    store.upsert_nodes(Node.CUSTOMER, [{"id": "c1", "name": "张伟"}])
    assert store.get_node(Node.CUSTOMER, "c1") == {"id": "c1", "name": "张伟"}


def test_bulk_create_command_is_atomic(store: GraphStore) -> None:
    assert store.bulk is not None, "the bundled store opens with its bulk channel"
    store.upsert_nodes(Node.CUSTOMER, [{"id": "existing"}])
    rows = [{"id": f"new{i}", "props": {}} for i in range(50)] + [{"id": "existing", "props": {}}]
    with pytest.raises(ConflictError):
        store.bulk.run(q.create_nodes(Node.CUSTOMER), "creating", rows=rows)
    assert store.counts()["Customer"] == 1


def test_bulk_transaction_of_several_statements_commits_whole_or_not_at_all(
    store: GraphStore,
) -> None:
    store.upsert_nodes(Node.CUSTOMER, [{"id": "existing"}])
    create = q.create_nodes(Node.CUSTOMER)
    link = q.create_relations(Rel.INTERACTS_WITH, Node.CUSTOMER, Node.CUSTOMER)
    good = [(create, {"rows": [{"id": f"a{i}", "props": {"n": i}} for i in range(20)]})]
    bad = [(create, {"rows": [{"id": "b1", "props": {}}, {"id": "existing", "props": {}}]})]
    # A failure in the last statement drops what the first ones wrote.
    with pytest.raises(ConflictError):
        store.write_many(good + bad, "creating", bulk=True)
    assert store.counts()["Customer"] == 1
    rels = [(link, {"rows": [{"start": "a0", "end": "a1", "props": {"w": 1}}]})]
    store.write_many(good + rels, "creating", bulk=True)
    counts = store.counts()
    assert counts["Customer"] == 21
    assert counts["INTERACTS_WITH"] == 1
    assert store.get_node(Node.CUSTOMER, "a7") == {"id": "a7", "n": 7}


def test_bulk_path_matches_merge_semantics(store: GraphStore) -> None:
    # Known and new rows mixed, a repeated id within the input, then a full re-run.
    store.upsert_nodes(Node.CUSTOMER, [{"id": "c0", "name": "old", "tier": "loyal"}])
    rows = [{"id": f"c{i}", "name": f"n{i}"} for i in range(3000)]
    rows.append({"id": "c5", "city": "Hangzhou"})
    assert store.upsert_nodes(Node.CUSTOMER, rows) == 3000
    assert store.get_node(Node.CUSTOMER, "c0") == {"id": "c0", "name": "n0", "tier": "loyal"}
    assert store.get_node(Node.CUSTOMER, "c5") == {"id": "c5", "name": "n5", "city": "Hangzhou"}
    ties = [{"start": f"c{i}", "end": f"c{(i * 7 + 1) % 3000}", "weight": 1.0} for i in range(3000)]
    ties.append({"start": "c1", "end": "c8", "weight": 2.0, "count": 3})
    store.upsert_relations(Rel.INTERACTS_WITH, Node.CUSTOMER, Node.CUSTOMER, ties)
    store.upsert_relations(Rel.INTERACTS_WITH, Node.CUSTOMER, Node.CUSTOMER, ties)
    store.upsert_nodes(Node.CUSTOMER, rows)
    counts = store.counts()
    assert counts["Customer"] == 3000
    assert counts["INTERACTS_WITH"] == 3000
    p = store.read_projection([Rel.INTERACTS_WITH], directed=True)
    edges = {(p.ids[a], p.ids[b]): w for a, b, w in zip(p.src, p.dst, p.weight, strict=True)}
    assert edges[("c1", "c8")] == 2.0
    assert len(edges) == 3000
    # Bulk-created relations are linked at both ends: traversals see them either way.
    assert {"c1", "c57"} == set(store.neighbourhood(Node.CUSTOMER, "c8").nodes)
    assert store.get_node(Node.CUSTOMER, "c5") == {"id": "c5", "name": "n5", "city": "Hangzhou"}


def test_bulk_path_keeps_the_ordering_rule_for_a_repeated_new_pair(store: GraphStore) -> None:
    # A pair named twice among new rows was combined, the later row's values winning, before
    # the bulk path created it: a rule of which row stands (smallest/largest/spans) was not
    # applied to it, though it was through MERGE below 2,000 rows.
    store.upsert_nodes(Node.CUSTOMER, [{"id": f"c{i}"} for i in range(2100)])
    ties = [{"start": f"c{i}", "end": f"c{i + 1}", "at": "2024-01-05"} for i in range(2099)]
    ties.append({"start": "c1", "end": "c2", "at": "2024-01-09"})  # later: not the first
    ties.append({"start": "c3", "end": "c4", "at": "2024-01-01"})  # earlier: the first
    store.upsert_relations(Rel.REFERRED, Node.CUSTOMER, Node.CUSTOMER, ties, smallest="at")
    at = {
        (t["start"], t["end"]): t["at"]
        for t in store.relation_table(Rel.REFERRED, Node.CUSTOMER, Node.CUSTOMER)
    }
    assert len(at) == 2099
    assert at[("c1", "c2")] == "2024-01-05"
    assert at[("c3", "c4")] == "2024-01-01"


def test_count_paths_agree(store: GraphStore) -> None:
    # The bundled store counts with SQL (each type's own count); Neo4j with one Cypher count
    # per label and type. Both give the same numbers, and leave out what has none.
    store.upsert_nodes(Node.CUSTOMER, _people(3))
    store.upsert_nodes(Node.GROUP, [{"id": "g1", "name": "tea"}])
    store.upsert_relations(
        Rel.MEMBER_OF,
        Node.CUSTOMER,
        Node.GROUP,
        [{"start": "c0", "end": "g1"}, {"start": "c1", "end": "g1"}],
    )
    counts = store.counts()
    assert {k: counts[k] for k in ("Customer", "Group", "MEMBER_OF")} == {
        "Customer": 3,
        "Group": 1,
        "MEMBER_OF": 2,
    }
    assert "Order" not in counts
    assert "PLACED" not in counts
    labels, types = [n.value for n in Node], [r.value for r in Rel]
    rows = store.read(q.count_labels_and_types(labels, types), "counting")
    assert {r["name"]: r["n"] for r in rows if r["n"]} == counts


def test_projection_paths_agree(store: GraphStore) -> None:
    # The bundled store reads projections with SQL over record ids; Neo4j uses Cypher over
    # Bolt. Both must give the same graph: other labels left out, a missing weight read as
    # 1.0, a relation type that never held a record read as empty.
    store.upsert_nodes(Node.CUSTOMER, _people(5))
    store.upsert_nodes(Node.GROUP, [{"id": "g1"}])
    ties = [{"start": "c0", "end": "c1", "weight": 2.5}, {"start": "c1", "end": "c2"}]
    store.upsert_relations(Rel.INTERACTS_WITH, Node.CUSTOMER, Node.CUSTOMER, ties)
    store.upsert_relations(Rel.MEMBER_OF, Node.CUSTOMER, Node.GROUP, [{"start": "c3", "end": "g1"}])
    bolt_only = GraphStore(store.driver, database=store.database)

    def edges(s: GraphStore, rels: list[Rel]) -> set[tuple[str, str, float]]:
        p = s.read_projection(rels, directed=True)
        assert sorted(p.ids) == [f"c{i}" for i in range(5)]
        return {(p.ids[a], p.ids[b], w) for a, b, w in zip(p.src, p.dst, p.weight, strict=True)}

    rels = [Rel.INTERACTS_WITH, Rel.MEMBER_OF, Rel.REFERRED]
    assert edges(store, rels) == edges(bolt_only, rels) == {("c0", "c1", 2.5), ("c1", "c2", 1.0)}
    pairs = [
        (Rel.MEMBER_OF, Node.CUSTOMER, Node.GROUP),
        (Rel.INTERACTS_WITH, Node.CUSTOMER, Node.CUSTOMER),
    ]
    for rel, a, b in pairs:
        assert sorted(store.read_pairs(rel, a, b)) == sorted(bolt_only.read_pairs(rel, a, b))
    assert store.read_pairs(Rel.MEMBER_OF, Node.CUSTOMER, Node.GROUP) == [("c3", "g1")]
    assert sorted(store.node_ids(Node.CUSTOMER)) == sorted(bolt_only.node_ids(Node.CUSTOMER))
    assert store.node_ids(Node.EMPLOYEE) == bolt_only.node_ids(Node.EMPLOYEE) == []


def _record_count(store: GraphStore, kind: str) -> int:
    """Records of one type as the storage holds them (a Cypher MATCH misses unlinked edges)."""
    assert store.bulk is not None
    return int(store.bulk.read_sql(f"SELECT count(*) AS n FROM `{kind}`", "counting")[0]["n"])


def test_bulk_request_failing_in_a_later_chunk_leaves_nothing(store: GraphStore) -> None:
    # The server commits a bulk request in chunks of 10,000 vertices: the duplicate sits in
    # the second chunk, so the first one is committed when the request fails.
    assert store.bulk is not None
    store.upsert_nodes(Node.CUSTOMER, [{"id": "existing", "name": "kept"}])
    rows = [{"id": f"new{i}", "props": {"n": i}} for i in range(12_000)]
    rows[11_500] = {"id": "existing", "props": {}}
    with pytest.raises(ConflictError):
        store.bulk.create_vertices(Node.CUSTOMER, rows, "creating")
    assert _record_count(store, "Customer") == 1
    assert store.get_node(Node.CUSTOMER, "existing") == {"id": "existing", "name": "kept"}
    assert list(store.bulk.journal.folder.glob("*.json")) == []


def test_bulk_edges_failing_midway_leave_nothing(store: GraphStore) -> None:
    assert store.bulk is not None
    n = 3000
    store.upsert_nodes(Node.CUSTOMER, [*_people(n), {"id": "gone"}])
    rids, ids = store._record_ids(Node.CUSTOMER)
    rid = dict(zip(ids, rids, strict=True))
    store.delete_nodes(Node.CUSTOMER, ["gone"])
    rows = [
        (rid[f"c{i}"], rid[f"c{(i * k + 1) % n}"], {"weight": 1.0})
        for k in (1, 3, 7, 11)
        for i in range(n)
    ]
    rows[11_000] = (rows[11_000][0], rid["gone"], {"weight": 1.0})  # deleted meanwhile
    with pytest.raises(ConflictError, match="deleted"):
        store.bulk.create_edges(Rel.INTERACTS_WITH, rows, "linking")
    assert _record_count(store, "INTERACTS_WITH") == 0
    assert store.counts()["Customer"] == n
    # Through the store, the same rows are redone with MERGE: the one to the deleted node
    # writes nothing, the others are written once.
    ties = [
        {"start": f"c{i}", "end": f"c{(i * k + 1) % n}"} for k in (1, 3, 7, 11) for i in range(n)
    ]
    ties.append({"start": "c0", "end": "gone"})
    store.upsert_relations(Rel.INTERACTS_WITH, Node.CUSTOMER, Node.CUSTOMER, ties)
    assert _record_count(store, "INTERACTS_WITH") == len({(t["start"], t["end"]) for t in ties}) - 1


def test_journal_rolls_back_only_entries_whose_writer_is_gone(store: GraphStore) -> None:
    assert store.bulk is not None
    store.upsert_nodes(Node.CUSTOMER, _people(2))
    store.upsert_relations(
        Rel.INTERACTS_WITH, Node.CUSTOMER, Node.CUSTOMER, [{"start": "c0", "end": "c1"}]
    )
    rids, ids = store._record_ids(Node.CUSTOMER)
    rid = dict(zip(ids, rids, strict=True))
    entry = {"kind": "edges", "type": "INTERACTS_WITH", "pairs": [[rid["c0"], rid["c1"]]]}
    with store.bulk.journal.entry(entry):
        assert store.bulk.recover() == 0  # its writer (this test) is alive and holds the lock
        assert _record_count(store, "INTERACTS_WITH") == 1
    # The writer let go without confirming, as a killed one does: its edge is undone.
    assert store.bulk.recover() == 1
    assert _record_count(store, "INTERACTS_WITH") == 0
    assert store.counts()["Customer"] == 2
    assert list(store.bulk.journal.folder.iterdir()) == []


_KILLED_WRITER = """
import os, signal, sys
from quanzi.graph.connect import open_store
from quanzi.model import Node, Rel
from quanzi.settings import Settings

store = open_store(Settings(store="bundled", data_dir=sys.argv[1]))
store.upsert_nodes(Node.CUSTOMER, [{"id": f"k{i}"} for i in range(2500)])
# Killed after the server wrote the relations, before the journal entry is closed.
store.bulk.journal.done = lambda path: os.kill(os.getpid(), signal.SIGKILL)
ties = [{"start": f"k{i}", "end": f"k{(i + 1) % 2500}", "weight": 2.0} for i in range(2500)]
store.upsert_relations(Rel.INTERACTS_WITH, Node.CUSTOMER, Node.CUSTOMER, ties)
"""


def test_killed_bulk_writer_is_rolled_back_at_the_next_open(
    store: GraphStore, store_settings: Settings
) -> None:
    assert store.bulk is not None
    run = subprocess.run(
        [sys.executable, "-c", _KILLED_WRITER, str(store_settings.data_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == -signal.SIGKILL, run.stderr
    assert _record_count(store, "INTERACTS_WITH") == 2500  # written, never confirmed
    assert len(list(store.bulk.journal.folder.glob("*.json"))) == 1
    open_store(store_settings).close()
    assert _record_count(store, "INTERACTS_WITH") == 0
    assert store.counts()["Customer"] == 2500  # one committed transaction: kept
    assert list(store.bulk.journal.folder.glob("*.json")) == []
    # Loading again is the same as loading once.
    ties = [{"start": f"k{i}", "end": f"k{(i + 1) % 2500}", "weight": 2.0} for i in range(2500)]
    for _ in range(2):
        store.upsert_relations(Rel.INTERACTS_WITH, Node.CUSTOMER, Node.CUSTOMER, ties)
        assert _record_count(store, "INTERACTS_WITH") == store.counts()["INTERACTS_WITH"] == 2500
    assert store.neighbourhood(Node.CUSTOMER, "k7").relations[0]["props"] == {"weight": 2.0}
