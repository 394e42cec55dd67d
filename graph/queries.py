"""Every Cypher statement Quanzi sends, as constants and small builders.

Labels and relation types cannot be query parameters, so builders only accept the
:class:`~quanzi.model.Node` / :class:`~quanzi.model.Rel` enums; every *value* travels as a
parameter (``$rows``, ``$id``), never inside the text.
"""

from __future__ import annotations

from quanzi.model import Node, Rel

__all__ = [
    "COUNT_NODES",
    "COUNT_RELS",
    "DELETE_EVERYTHING",
    "PING",
    "SCHEMA_VERSION_READ",
    "SCHEMA_VERSION_WRITE",
    "create_constraint",
    "create_index",
    "create_nodes",
    "create_relations",
    "delete_relations_from",
    "existing_ids",
    "get_node",
    "merge_nodes",
    "merge_relations",
    "neighbourhood",
    "projection_edges",
    "projection_nodes",
    "set_node_properties",
]

PING = "RETURN 1 AS ok"

DELETE_EVERYTHING = "MATCH (n) DETACH DELETE n"
COUNT_NODES = "MATCH (n) RETURN labels(n)[0] AS label, count(*) AS n"
COUNT_RELS = "MATCH ()-[r]->() RETURN type(r) AS type, count(*) AS n"

SCHEMA_VERSION_READ = f"MATCH (m:{Node.SCHEMA_META} {{id: 'schema'}}) RETURN m.version AS version"
SCHEMA_VERSION_WRITE = (
    f"MERGE (m:{Node.SCHEMA_META} {{id: 'schema'}}) SET m.version = $version, m.updated_at = $at"
)


def create_constraint(label: Node, key: str = "id") -> str:
    """Uniqueness constraint on ``label.key`` (idempotent)."""
    name = f"{label.value.lower()}_{key}_unique"
    return f"CREATE CONSTRAINT {name} IF NOT EXISTS FOR (n:{label}) REQUIRE n.{key} IS UNIQUE"


def create_index(label: Node, prop: str) -> str:
    """Range index on ``label.prop`` (idempotent)."""
    return f"CREATE INDEX {label.value.lower()}_{prop} IF NOT EXISTS FOR (n:{label}) ON (n.{prop})"


def merge_nodes(label: Node) -> str:
    """Upsert rows ``{id, props}`` on the constrained key."""
    return f"UNWIND $rows AS r MERGE (n:{label} {{id: r.id}}) SET n += r.props"


def create_nodes(label: Node) -> str:
    """Create rows ``{id, props}`` known not to exist yet (cheaper than MERGE)."""
    return f"UNWIND $rows AS r CREATE (n:{label} {{id: r.id}}) SET n += r.props"


def existing_ids(label: Node) -> str:
    """Which of ``$ids`` exist already."""
    return f"MATCH (n:{label}) WHERE n.id IN $ids RETURN collect(n.id) AS ids"


def merge_relations(rel: Rel, start: Node, end: Node) -> str:
    """Upsert rows ``{start, end, props}``: one ``rel`` between two existing nodes."""
    return (
        f"UNWIND $rows AS r MATCH (a:{start} {{id: r.start}}) MATCH (b:{end} {{id: r.end}}) "
        f"MERGE (a)-[e:{rel}]->(b) SET e += r.props"
    )


def create_relations(rel: Rel, start: Node, end: Node) -> str:
    """Create rows ``{start, end, props}`` known not to exist yet."""
    return (
        f"UNWIND $rows AS r MATCH (a:{start} {{id: r.start}}) MATCH (b:{end} {{id: r.end}}) "
        f"CREATE (a)-[e:{rel}]->(b) SET e += r.props"
    )


def delete_relations_from(rel: Rel, start: Node) -> str:
    """Delete every ``rel`` leaving nodes of ``start`` whose id is in ``$ids``."""
    return f"MATCH (a:{start})-[e:{rel}]->() WHERE a.id IN $ids DELETE e"


def set_node_properties(label: Node) -> str:
    """Set properties ``{id, props}`` on existing nodes (result write-back)."""
    return f"UNWIND $rows AS r MATCH (n:{label} {{id: r.id}}) SET n += r.props"


def get_node(label: Node) -> str:
    """One node's properties by id."""
    return f"MATCH (n:{label} {{id: $id}}) RETURN properties(n) AS props"


def neighbourhood(label: Node, depth: int, rels: list[Rel] | None) -> str:
    """Nodes within ``depth`` hops of one node and the relations among them, bounded by $limit."""
    types = ":" + "|".join(r.value for r in rels) if rels else ""
    return (
        f"MATCH (c:{label} {{id: $id}}) "
        f"OPTIONAL MATCH p = (c)-[{types}*1..{depth}]-(m) "
        "WITH c, p LIMIT $limit "
        "UNWIND (CASE WHEN p IS NULL THEN [null] ELSE relationships(p) END) AS r "
        "WITH c, collect(DISTINCT r) AS rels "
        "RETURN properties(c) AS centre, "
        "[r IN rels | {type: type(r), start: startNode(r).id, end: endNode(r).id, "
        "props: properties(r), start_node: properties(startNode(r)), "
        "end_node: properties(endNode(r)), start_label: labels(startNode(r))[0], "
        "end_label: labels(endNode(r))[0]}] AS rels"
    )


def projection_nodes(label: Node) -> str:
    """Ids of every node of ``label`` in one row."""
    return f"MATCH (n:{label}) RETURN collect(n.id) AS ids"


def projection_edges(rel: Rel, start: Node, end: Node, weight: str | None) -> str:
    """Every ``rel`` between ``start`` and ``end`` nodes as one collected list of triples."""
    w = f"coalesce(e.{weight}, 1.0)" if weight else "1.0"
    return (
        f"MATCH (a:{start})-[e:{rel}]->(b:{end}) "
        f"RETURN collect([a.id, b.id, {w}]) AS rows"
    )
