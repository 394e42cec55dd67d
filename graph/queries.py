"""Every Cypher statement Quanzi sends, as constants and small builders.

Labels and relation types cannot be query parameters, so builders only accept the
:class:`~quanzi.model.Node` / :class:`~quanzi.model.Rel` enums; every *value* travels as a
parameter (``$rows``, ``$id``), never inside the text.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from typing import Literal

from quanzi.model import Node, Rel

__all__ = [
    "ADD_INTERACTIONS",
    "ANY_IDENTITY",
    "API_CHURN_TENTHS",
    "CUSTOMERS_BY_LATIN_NAME",
    "CUSTOMERS_OF_IDENTITIES",
    "CUSTOMER_LIFECYCLE_FACTS",
    "CUSTOMER_MERGED_INTO",
    "CUSTOMER_PROPERTIES",
    "CUSTOMER_RECORDS",
    "DELETE_EVERYTHING",
    "DETACH_IDENTITY",
    "IDENTITY_LINKS",
    "MARK_MERGED",
    "MERGED_CUSTOMER_IDS",
    "MOVE_ORDER_OWNER",
    "MOVE_RECORD_ORDERS",
    "ORDER_OWNERS",
    "ORDER_TOTALS",
    "PING",
    "REFRESH_ORDER_TOTALS",
    "SCHEMA_VERSION_READ",
    "SCHEMA_VERSION_WRITE",
    "SQL_TYPE_NAMES",
    "count_labels_and_types",
    "create_constraint",
    "create_index",
    "create_nodes",
    "create_relations",
    "delete_nodes",
    "delete_relations_between",
    "delete_relations_from",
    "drop_index",
    "existing_ids",
    "get_node",
    "merge_nodes",
    "merge_relations",
    "move_relations",
    "neighbourhood",
    "node_columns",
    "node_table",
    "projection_edges",
    "projection_nodes",
    "relation_columns",
    "relation_table",
    "remove_node_properties",
    "remove_properties_of",
    "set_node_properties",
    "sql_create_edge_type",
    "sql_delete_records",
    "sql_edge_record_ids",
    "sql_edge_rids",
    "sql_record_ids",
    "sql_type_counts",
]

PING = "RETURN 1 AS ok"

#: The Graph Data Science plugin's version; an error where the plugin is absent (a Neo4j
#: without it: "Unknown function 'gds.version'"; the bundled ArcadeDB has no such function).
GDS_VERSION = "RETURN gds.version() AS version"

DELETE_EVERYTHING = "MATCH (n) DETACH DELETE n"


#: Id of the ``Setting`` node that counts the changes of the graph the services cache (see
#: ``GraphStore.note_graph_change``).
GRAPH_CHANGES_ID = "graph_changes"

#: Add one change (and, with ``$erasure`` 1, one erasure) to that node's counts.
NOTE_GRAPH_CHANGE = (
    f"MERGE (s:{Node.SETTING} {{id: $id}}) "
    "SET s.changes = coalesce(s.changes, 0) + 1, "
    "s.erasures = coalesce(s.erasures, 0) + $erasure, "
    "s.changed_at = $at, s.last_change = $kind"
)

#: That node's counts: ``changes``, ``erasures`` (no row before the first change).
READ_GRAPH_CHANGES = (
    f"MATCH (s:{Node.SETTING} {{id: $id}}) RETURN s.changes AS changes, s.erasures AS erasures"
)

#: Customers (not merged away) with a churn risk, by tenth of risk: rows ``{tenth, n}``
#: (``tenth`` 10 is a risk of exactly 1.0). One pass, where a count per range reads every
#: customer once per range.
API_CHURN_TENTHS = (
    f"MATCH (c:{Node.CUSTOMER}) WHERE c.merged_into IS NULL AND c.churn_risk IS NOT NULL "
    "RETURN toInteger(floor(c.churn_risk * 10)) AS tenth, count(c) AS n"
)


def count_labels_and_types(labels: Sequence[str], types: Sequence[str]) -> str:
    """Rows ``{name, n}``: the nodes of each label and the relations of each type, one
    ``MATCH ... RETURN count`` per name, the form Neo4j answers from its counts store (an
    unlabelled ``MATCH (n)`` grouped by label reads every node)."""
    for name in (*labels, *types):
        if not name.isidentifier():
            raise ValueError(f"not a label or relation type: {name!r}")
    parts = [f"MATCH (n:{x}) RETURN '{x}' AS name, count(n) AS n" for x in labels]
    parts += [f"MATCH ()-[r:{x}]->() RETURN '{x}' AS name, count(r) AS n" for x in types]
    return " UNION ALL ".join(parts)


#: ArcadeDB SQL: the names of the types the database has (a type appears with its first
#: record).
SQL_TYPE_NAMES = "SELECT name FROM schema:types"


def sql_type_counts(types: Sequence[str]) -> str:
    """ArcadeDB SQL, one row: the record count of each type (vertex or edge) as a column named
    after it. ``SELECT count(*) FROM <type>`` reads the type's count; ArcadeDB's Cypher counts
    a relation type by scanning it (0.6 s per type at 100k customers)."""
    for name in types:
        if not name.isidentifier():
            raise ValueError(f"not a type name: {name!r}")
    # Names checked above; nothing of a caller's text reaches the statement.
    lets = ", ".join(
        f"$c{i} = (SELECT count(*) AS n FROM `{x}`)"  # noqa: S608
        for i, x in enumerate(types)
    )
    columns = ", ".join(f"$c{i}[0].n AS `{x}`" for i, x in enumerate(types))
    return f"SELECT {columns} LET {lets}"


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


def drop_index(label: Node, prop: str) -> str:
    """Drop the :func:`create_index` index on ``label.prop`` if it exists (idempotent)."""
    return f"DROP INDEX {label.value.lower()}_{prop} IF EXISTS"


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


def merge_spans(rel: Rel, start: Node, end: Node, began: str, ended: str) -> str:
    """Upsert rows ``{start, end, props}`` of a relation that holds a span (a membership's
    ``joined_at`` and ``left_at``): each of the two times keeps the later of the stored one and
    the row's, and ``active`` is worked out again from them, so a file loaded again, or an
    older export loaded after a newer one, does not move the relation back in time."""

    def later(p: str) -> str:
        return (
            f"e.{p} = CASE WHEN e.{p} IS NULL OR r.props.{p} > e.{p} "
            f"THEN coalesce(r.props.{p}, e.{p}) ELSE e.{p} END"
        )

    return (
        f"UNWIND $rows AS r MATCH (a:{start} {{id: r.start}}) MATCH (b:{end} {{id: r.end}}) "
        f"MERGE (a)-[e:{rel}]->(b) SET {later(began)}, {later(ended)} "
        f"WITH e SET e.active = e.{ended} IS NULL OR "
        f"(e.{began} IS NOT NULL AND e.{began} > e.{ended})"
    )


def merge_ordered(
    rel: Rel, start: Node, end: Node, prop: str, *, largest: bool, tie_smallest: str | None = None
) -> str:
    """Upsert rows ``{start, end, props}``, an existing relation taking a row's properties only
    when the row's ``prop`` is larger (``largest``: an interest's ``weight``, a tag's latest
    ``at``) or smaller (a referral's first ``at``): loading an older file again, or files in
    another order, does not change which row stands. With ``tie_smallest``, a row whose
    ``prop`` equals the stored one wins when its ``tie_smallest`` is smaller (an interest's
    weight reached first: its earliest ``at``), so ties do not depend on the order either."""
    wins = ">" if largest else "<"
    tie = (
        f" OR (r.props.{prop} = e.{prop} AND r.props.{tie_smallest} < e.{tie_smallest})"
        if tie_smallest is not None
        else ""
    )
    return (
        f"UNWIND $rows AS r MATCH (a:{start} {{id: r.start}}) MATCH (b:{end} {{id: r.end}}) "
        f"MERGE (a)-[e:{rel}]->(b) WITH e, r "
        f"WHERE e.{prop} IS NULL OR r.props.{prop} {wins} e.{prop}{tie} SET e += r.props"
    )


def create_relations(rel: Rel, start: Node, end: Node) -> str:
    """Create rows ``{start, end, props}`` known not to exist yet."""
    return (
        f"UNWIND $rows AS r MATCH (a:{start} {{id: r.start}}) MATCH (b:{end} {{id: r.end}}) "
        f"CREATE (a)-[e:{rel}]->(b) SET e += r.props"
    )


def delete_relations_from(rel: Rel, start: Node) -> str:
    """Delete every ``rel`` leaving nodes of ``start`` whose id is in ``$ids``.

    One id lookup per row: measured 5x faster on the bundled store than ``WHERE a.id IN
    $ids`` (2,000 customers' circle links: 0.45 s against 2.3 s).
    """
    return f"UNWIND $ids AS i MATCH (a:{start} {{id: i}})-[e:{rel}]->() DELETE e"


def set_node_properties(label: Node) -> str:
    """Set properties ``{id, props}`` on existing nodes (result write-back)."""
    return f"UNWIND $rows AS r MATCH (n:{label} {{id: r.id}}) SET n += r.props"


def remove_node_properties(label: Node, props: Collection[str]) -> str:
    """Remove the properties ``props`` from every ``label`` node (stale results)."""
    for name in props:
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$", name):
            raise ValueError(f"bad property name {name!r}")
    removed = ", ".join(f"n.{name}" for name in props)
    return f"MATCH (n:{label}) REMOVE {removed}"


def remove_properties_of(label: Node, keys: tuple[str, ...]) -> str:
    """Remove properties ``keys`` from the ``label`` nodes whose id is in ``$ids``."""
    for k in keys:
        if not k.isidentifier():
            raise ValueError(f"property name {k!r} is not an identifier")
    removed = ", ".join(f"n.{k}" for k in keys)
    return f"UNWIND $ids AS i MATCH (n:{label} {{id: i}}) REMOVE {removed}"


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


def delete_nodes(label: Node) -> str:
    """Delete the ``label`` nodes whose id is in ``$ids``, with their relations."""
    return f"MATCH (n:{label}) WHERE n.id IN $ids DETACH DELETE n"


def node_table(label: Node) -> str:
    """Every node of ``label`` with all its properties, as one collected column."""
    return f"MATCH (n:{label}) RETURN collect(properties(n)) AS props"


def relation_table(rel: Rel, start: Node, end: Node) -> str:
    """Every ``rel`` from ``start`` to ``end`` nodes with its properties, as collected columns."""
    return (
        f"MATCH (a:{start})-[e:{rel}]->(b:{end}) "
        "RETURN collect(a.id) AS a, collect(b.id) AS b, collect(properties(e)) AS props"
    )


def projection_nodes(label: Node) -> str:
    """Ids of every node of ``label`` in one row."""
    return f"MATCH (n:{label}) RETURN collect(n.id) AS ids"


def projection_edges(rel: Rel, start: Node, end: Node, weight: str | None) -> str:
    """Every ``rel`` between ``start`` and ``end`` nodes as three parallel collected columns.

    Columns rather than a list of triples: measured 1.5-2x faster to build and decode.
    """
    w = f"coalesce(e.{weight}, 1.0)" if weight else "1.0"
    return (
        f"MATCH (a:{start})-[e:{rel}]->(b:{end}) "
        f"RETURN collect(a.id) AS a, collect(b.id) AS b, collect({w}) AS w"
    )


def sql_record_ids(label: Node) -> str:
    """ArcadeDB SQL: the record id and ``id`` of every ``label`` node, as two lists in one row."""
    # label is a Node member, never user text
    return f"SELECT list(@rid) AS rids, list(id) AS ids FROM `{label}`"  # noqa: S608


def sql_edge_record_ids(rel: Rel, weight: str | None) -> str:
    """ArcadeDB SQL: every ``rel`` edge as record ids of its ends (and weight), three lists.

    ``list()`` skips nulls, so a missing weight is replaced before it is collected: the three
    lists stay aligned.
    """
    w = f"ifnull(`{weight}`, 1.0)" if weight else "1.0"
    # rel is a Rel member; weight is checked against a property-name pattern by the store
    return f"SELECT list(@out) AS a, list(@in) AS b, list({w}) AS w FROM `{rel}`"  # noqa: S608


#: Defaults for missing properties in column reads (``collect`` drops nulls, which would
#: misalign the columns).
COLUMN_DEFAULTS = {"text": "''", "number": "0.0", "list": "[]"}


def _columns(alias: str, props: dict[str, str]) -> str:
    for name, kind in props.items():
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$", name) or kind not in COLUMN_DEFAULTS:
            raise ValueError(f"bad column {name!r} of kind {kind!r}")
    return "".join(
        f", collect(coalesce({alias}.{name}, {COLUMN_DEFAULTS[kind]})) AS {name}"
        for name, kind in props.items()
    )


def node_columns(label: Node, props: dict[str, str]) -> str:
    """Every ``label`` node as parallel columns: ``id`` and one per property.

    ``props`` maps a property name to its kind (``text``, ``number`` or ``list``), which
    gives the value of a missing property (``''``, ``0.0``, ``[]``). Merged-away customers
    (``merged_into`` set) are left out.
    """
    where = " WHERE n.merged_into IS NULL" if label == Node.CUSTOMER else ""
    return f"MATCH (n:{label}){where} RETURN collect(n.id) AS id{_columns('n', props)}"


def relation_columns(rel: Rel, start: Node, end: Node, props: dict[str, str]) -> str:
    """Every ``rel`` as parallel columns: ``a`` and ``b`` (the ids) and one per property of
    the relation (kinds as in :func:`node_columns`)."""
    return (
        f"MATCH (a:{start})-[e:{rel}]->(b:{end}) "
        f"RETURN collect(a.id) AS a, collect(b.id) AS b{_columns('e', props)}"
    )


# -- ingest and identity resolution (quanzi.ingest) -------------------------------------------

#: ``rows``: which customer holds each of ``$ids`` (Identity ids) through HAS_IDENTITY, maps
#: ``{identity, customer, content_hash}`` collected into one row (``GraphStore.read_collected``:
#: a record per row costs the driver ~40-100 µs; ingest reads one per person).
CUSTOMERS_OF_IDENTITIES = (
    f"UNWIND $ids AS iid MATCH (i:{Node.IDENTITY} {{id: iid}}) "
    f"MATCH (i)<-[:{Rel.HAS_IDENTITY}]-(c:{Node.CUSTOMER}) "
    "RETURN collect({identity: i.id, customer: c.id, content_hash: i.content_hash}) AS rows"
)

#: One identity, if the graph holds any (a first load has nothing to look up).
ANY_IDENTITY = f"MATCH (i:{Node.IDENTITY}) RETURN i.id AS id LIMIT 1"

#: ``rows``: ids of the customers holding a source record whose Latin name is one of ``$names``.
CUSTOMERS_BY_LATIN_NAME = (
    f"UNWIND $names AS nm MATCH (i:{Node.IDENTITY} {{name_latin: nm}}) "
    f"MATCH (i)<-[:{Rel.HAS_IDENTITY}]-(c:{Node.CUSTOMER}) RETURN collect(DISTINCT c.id) AS rows"
)

#: ``rows``: every source record (``kind = 'record'``) of the customers ``$ids``, with what
#: resolution needs to know of the customer, as maps ``{customer, first_seen, split_from,
#: props, evidence}`` collected into one row.
CUSTOMER_RECORDS = (
    f"UNWIND $ids AS cid MATCH (c:{Node.CUSTOMER} {{id: cid}})-[h:{Rel.HAS_IDENTITY}]->"
    f"(i:{Node.IDENTITY} {{kind: 'record'}}) "
    "RETURN collect({customer: c.id, first_seen: c.first_seen, split_from: c.split_from, "
    "props: properties(i), evidence: properties(h)}) AS rows"
)

#: ``rows``: properties of the customers ``$ids``, maps ``{id, props}`` collected into one row.
CUSTOMER_PROPERTIES = (
    f"UNWIND $ids AS cid MATCH (c:{Node.CUSTOMER} {{id: cid}}) "
    "RETURN collect({id: c.id, props: properties(c)}) AS rows"
)
#: ``rows``: the ids of every merged-away customer (``merged_into`` is indexed, nulls skipped).
MERGED_CUSTOMER_IDS = (
    f"MATCH (c:{Node.CUSTOMER}) WHERE c.merged_into IS NOT NULL RETURN collect(c.id) AS rows"
)

#: ``rows``: ``[id, merged_into]`` of each known id of ``$ids``, collected into one row.
CUSTOMER_MERGED_INTO = (
    f"UNWIND $ids AS cid MATCH (c:{Node.CUSTOMER} {{id: cid}}) "
    "RETURN collect([c.id, c.merged_into]) AS rows"
)


def customer_fields(fields: Sequence[str], *, contact_points: bool = False) -> str:
    """``rows``: the property maps of the known ids of ``$ids`` with only the named
    properties (and ``id``, ``merged_into``), collected into one row (read it with
    ``GraphStore.read_collected``). Only the named properties: measured 1.7x faster than
    all of them for list views.

    With ``contact_points`` each map also holds ``contact_points``: ``[kind, key]`` of the
    customer's key identities of kinds ``$kinds`` (as :data:`API_CONTACT_POINTS`, in the
    same round trip: measured 0.2-0.7 ms less client CPU for a list of 50)."""
    names = ["id", "merged_into", *(f for f in fields if f not in {"id", "merged_into"})]
    for name in names:
        if not name.isidentifier():
            raise ValueError(f"not a property name: {name!r}")
    projection = ", ".join(f".{name}" for name in names)
    if contact_points:
        projection += (
            f", contact_points: [(c)-[:{Rel.HAS_IDENTITY}]->(i:{Node.IDENTITY}) "
            "WHERE i.kind IN $kinds | [i.kind, i.key]]"
        )
    return (
        f"UNWIND $ids AS cid MATCH (c:{Node.CUSTOMER} {{id: cid}}) "
        f"RETURN collect(c {{{projection}}}) AS rows"
    )


#: Add interactions to INTERACTS_WITH, creating the relation on first sight. Rows are
#: ``{start, end, keys, counts, weights, last_at, kinds}``: one key, count and weight per event.
#: The relation keeps the keys of the events it counts (``event_keys``), and an event whose key
#: it holds adds nothing: an events load killed half-way and run again, a file saved again
#: with other line endings, or a later export that repeats some events, counts each event once.
#: Returns how many events it added (``added``).
ADD_INTERACTIONS = (
    f"UNWIND $rows AS r MATCH (a:{Node.CUSTOMER} {{id: r.start}}) "
    f"MATCH (b:{Node.CUSTOMER} {{id: r.end}}) "
    f"MERGE (a)-[e:{Rel.INTERACTS_WITH}]->(b) "
    "ON CREATE SET e.count = 0, e.weight = 0.0, e.kinds = [], e.event_keys = [] "
    "WITH e, r, coalesce(e.event_keys, []) AS seen "
    "WITH e, r, [i IN range(0, size(r.keys) - 1) WHERE NOT r.keys[i] IN seen] AS new "
    "WHERE size(new) > 0 "
    "SET e.count = e.count + reduce(n = 0, i IN new | n + r.counts[i]), "
    "e.weight = e.weight + reduce(w = 0.0, i IN new | w + r.weights[i]), "
    "e.event_keys = coalesce(e.event_keys, []) + [i IN new | r.keys[i]], "
    "e.last_at = CASE WHEN e.last_at IS NULL OR e.last_at < r.last_at THEN r.last_at "
    "ELSE e.last_at END, e.kinds = [k IN e.kinds WHERE NOT k IN r.kinds] + r.kinds "
    "RETURN sum(size(new)) AS added"
)

#: ``rows``: the customer that placed each of the orders ``$ids`` (through PLACED, which merges
#: move to the survivor) and the time of the order's last event, maps ``{order, customer,
#: placed_at}`` collected into one row.
ORDER_OWNERS = (
    f"UNWIND $ids AS oid MATCH (o:{Node.ORDER} {{id: oid}})<-[:{Rel.PLACED}]-(c:{Node.CUSTOMER}) "
    "RETURN collect({order: o.id, customer: c.id, placed_at: o.placed_at}) AS rows"
)

#: ``rows``: order totals of the customers ``$ids``, recomputed from their PLACED orders, maps
#: ``{id, order_count, total_spent, last_order_at}`` collected into one row.
ORDER_TOTALS = (
    f"UNWIND $ids AS cid MATCH (c:{Node.CUSTOMER} {{id: cid}})-[:{Rel.PLACED}]->(o:{Node.ORDER}) "
    "WITH c.id AS id, count(o) AS order_count, sum(coalesce(o.amount, 0.0)) AS total_spent, "
    "max(o.placed_at) AS last_order_at "
    "RETURN collect({id: id, order_count: order_count, total_spent: total_spent, "
    "last_order_at: last_order_at}) AS rows"
)

#: Facts the lifecycle rules read, for every customer, as parallel columns.
CUSTOMER_LIFECYCLE_FACTS = (
    f"MATCH (c:{Node.CUSTOMER}) RETURN collect(c.id) AS id, "
    "collect(coalesce(c.order_count, 0)) AS orders, "
    "collect(coalesce(c.last_order_at, '')) AS last_order_at, "
    "collect(coalesce(c.last_active_at, '')) AS last_active_at, "
    "collect(coalesce(c.recorded_tier, '')) AS recorded_tier"
)

#: The HAS_IDENTITY relations of one identity (``$id``), with their customers.
IDENTITY_LINKS = (
    f"MATCH (i:{Node.IDENTITY} {{id: $id}}) MATCH (i)<-[h:{Rel.HAS_IDENTITY}]-(c:{Node.CUSTOMER}) "
    "RETURN c.id AS customer, properties(i) AS identity, properties(h) AS evidence"
)

#: Detach one identity (``$id``) from one customer (``$customer``).
DETACH_IDENTITY = (
    f"MATCH (c:{Node.CUSTOMER} {{id: $customer}}) MATCH (i:{Node.IDENTITY} {{id: $id}}) "
    f"MATCH (c)-[h:{Rel.HAS_IDENTITY}]->(i) DELETE h"
)

#: Move the orders that came through source record ``$record`` (``Order.record``) from customer
#: ``$old`` to customer ``$new`` (a split): their PLACED and their ``customer_id``.
MOVE_RECORD_ORDERS = (
    f"MATCH (c:{Node.CUSTOMER} {{id: $old}})-[p:{Rel.PLACED}]->(o:{Node.ORDER}) "
    f"WHERE o.record = $record MATCH (n:{Node.CUSTOMER} {{id: $new}}) "
    f"CREATE (n)-[m:{Rel.PLACED}]->(o) SET m = properties(p), o.customer_id = $new DELETE p"
)

#: The orders customer ``$loser`` placed, now the survivor's (their PLACED moved in the same
#: merge): their ``customer_id``.
MOVE_ORDER_OWNER = (
    f"MATCH (s:{Node.CUSTOMER} {{id: $survivor}})-[:{Rel.PLACED}]->(o:{Node.ORDER}) "
    "WHERE o.customer_id = $loser SET o.customer_id = $survivor"
)

#: Work out the order totals of the customers ``$ids`` again from the orders they placed, in
#: the transaction that moved orders (a merge, a split): ``order_count``, ``total_spent`` to the
#: cent, ``last_order_at`` (removed when none is left).
REFRESH_ORDER_TOTALS = (
    f"UNWIND $ids AS cid MATCH (c:{Node.CUSTOMER} {{id: cid}}) "
    f"OPTIONAL MATCH (c)-[:{Rel.PLACED}]->(o:{Node.ORDER}) "
    "WITH c, count(o) AS n, sum(coalesce(o.amount, 0.0)) AS total, max(o.placed_at) AS last "
    "SET c.order_count = n, c.total_spent = round(total * 100.0) / 100.0, c.last_order_at = last"
)

#: Record that customer ``$loser`` was merged into ``$survivor`` at ``$at``.
MARK_MERGED = (
    f"MATCH (l:{Node.CUSTOMER} {{id: $loser}}) MATCH (s:{Node.CUSTOMER} {{id: $survivor}}) "
    "SET l.merged_into = $survivor, l.merged_at = $at, "
    "s.merged_ids = [x IN coalesce(s.merged_ids, []) WHERE x <> $loser] + [$loser]"
)


def move_relations(rel: Rel, *, outgoing: bool) -> str:
    """Move every ``rel`` of customer ``$loser`` onto ``$survivor``.

    A relation the survivor already has to the same node keeps the survivor's properties,
    except interaction counts and weights, which are added. Relations between the two
    customers are dropped (they would become loops).
    """
    if outgoing:
        pattern, new = f"(l)-[r:{rel}]->(x)", f"(s)-[n:{rel}]->(x)"
    else:
        pattern, new = f"(x)-[r:{rel}]->(l)", f"(x)-[n:{rel}]->(s)"
    add = ""
    if rel is Rel.INTERACTS_WITH:
        add = (
            " ON MATCH SET n.count = coalesce(n.count, 0) + coalesce(r.count, 0), "
            "n.weight = coalesce(n.weight, 0.0) + coalesce(r.weight, 0.0), "
            "n.event_keys = coalesce(n.event_keys, []) + coalesce(r.event_keys, []), "
            "n.kinds = [k IN coalesce(n.kinds, []) WHERE NOT k IN coalesce(r.kinds, [])] "
            "+ coalesce(r.kinds, []), "
            "n.last_at = CASE WHEN n.last_at IS NULL OR n.last_at < r.last_at THEN r.last_at "
            "ELSE n.last_at END"
        )
    return (
        f"MATCH (l:{Node.CUSTOMER} {{id: $loser}}) MATCH (s:{Node.CUSTOMER} {{id: $survivor}}) "
        f"MATCH {pattern} WHERE x <> s AND x <> l "
        f"MERGE {new} ON CREATE SET n = properties(r){add} DELETE r"
    )


def delete_relations_between(rel: Rel) -> str:
    """Delete every ``rel`` between customers ``$loser`` and ``$survivor`` (either way)."""
    return (
        f"MATCH (l:{Node.CUSTOMER} {{id: $loser}}) MATCH (s:{Node.CUSTOMER} {{id: $survivor}}) "
        f"MATCH (l)-[r:{rel}]-(s) DELETE r"
    )


# == HTTP API (quanzi.api) ====================================================================
# Reads and writes behind the HTTP API's services. Filters and sort keys are whitelisted
# here by name: callers pass names, never Cypher text, and every value is a parameter.

__all__ += [
    "API_ACCESS_EXPORT",
    "API_ACCESS_ORDERS",
    "API_CAMPAIGNS",
    "API_CAMPAIGN_CODE_OF",
    "API_CAMPAIGN_CODE_OWNER",
    "API_CAMPAIGN_INVITED",
    "API_CAMPAIGN_REFERRALS",
    "API_CAMPAIGN_REFERRAL_COUNTS",
    "API_CAMPAIGN_STATS",
    "API_CHURN_ALERTS",
    "API_CIRCLE_MEMBER_STATS",
    "API_CONTACT_POINTS",
    "API_CUSTOMER_360",
    "API_ERASURE_CUSTOMER_REFERENCES",
    "API_ERASURE_IDENTITIES",
    "API_ERASURE_MERGED_STUBS",
    "API_ERASURE_ORDERS",
    "API_ERASURE_REMAINING",
    "API_FUNNEL_PATHS",
    "API_ISSUE_INVITE_CODE",
    "API_OWN_CUSTOMERS",
    "API_RECORD_INVITATION",
    "API_SCORED_TIER_PATHS",
    "API_SET_CIRCLE_PROPERTIES",
    "API_TAGGED_ALREADY",
    "API_TAG_COUNTS",
    "API_TAG_CUSTOMERS",
    "API_TIER_COUNTS",
    "API_TIER_PATHS",
    "API_UNTAG_CUSTOMERS",
    "API_UNTAG_GROUP_SIBLINGS",
    "CUSTOMER_ANCHORS",
    "CUSTOMER_FILTERS",
    "CUSTOMER_SCORE_SORTS",
    "CUSTOMER_SORT_KEYS",
    "ERASED_KEYS",
    "ERASED_KEY_SECRETS",
    "TopBound",
    "api_circles_page",
    "api_customer_count",
    "api_customer_ids",
    "api_customer_page",
    "api_customer_top",
    "api_erase",
    "sql_customer_top",
]

#: Filters that start from an indexed node and follow one relation to the customer:
#: filter name -> (label of the node whose ``id`` is the parameter, relation, active only).
#: ``active only`` skips relations marked ``active = false`` (a deleted employee, a left group).
CUSTOMER_ANCHORS: dict[str, tuple[Node, Rel, bool]] = {
    "phone": (Node.IDENTITY, Rel.HAS_IDENTITY, False),
    "email": (Node.IDENTITY, Rel.HAS_IDENTITY, False),
    "tag": (Node.TAG, Rel.TAGGED, False),
    "circle": (Node.CIRCLE, Rel.IN_CIRCLE, False),
    "employee": (Node.EMPLOYEE, Rel.SERVED_BY, True),
    "group": (Node.GROUP, Rel.MEMBER_OF, True),
    "interest": (Node.INTEREST, Rel.INTERESTED_IN, False),
}

#: Filters on the customer's own properties: filter name -> predicate on ``c`` reading the
#: parameter of the same name.
CUSTOMER_FILTERS: dict[str, str] = {
    "name": "(toLower(coalesce(c.name, '')) CONTAINS $name "
    "OR coalesce(c.name_latin, '') CONTAINS $name)",
    "tier": "c.tier = $tier",
    "recorded_tier": "c.recorded_tier = $recorded_tier",
    "funnel_stage": "c.funnel_stage = $funnel_stage",
    "channel": "$channel IN coalesce(c.channels, [])",
    "churn_risk_min": "c.churn_risk >= $churn_risk_min",
    "churn_risk_max": "c.churn_risk <= $churn_risk_max",
    "influence_min": "c.influence >= $influence_min",
    "pagerank_min": "c.pagerank >= $pagerank_min",
    "created_from": "c.first_seen >= $created_from",
    "created_to": "c.first_seen < $created_to",
    "active_from": "c.last_active_at >= $active_from",
    "active_to": "c.last_active_at < $active_to",
    "ids": "c.id IN $ids",
    "exclude_ids": "NOT c.id IN $exclude_ids",
}

#: Sort keys of customer lists: name -> expression (missing values sort as the lowest).
CUSTOMER_SORT_KEYS: dict[str, str] = {
    "id": "c.id",
    "name": "coalesce(c.name, '')",
    "first_seen": "coalesce(c.first_seen, '')",
    "last_active_at": "coalesce(c.last_active_at, '')",
    "churn_risk": "coalesce(c.churn_risk, -1.0)",
    "influence": "coalesce(c.influence, -1.0)",
    "pagerank": "coalesce(c.pagerank, -1.0)",
    "total_spent": "coalesce(c.total_spent, 0.0)",
}


def _anchor_pattern(name: str, alias: str) -> tuple[str, str | None]:
    label, rel, active = CUSTOMER_ANCHORS[name]
    pattern = f"(c)-[{alias}:{rel}]->(:{label} {{id: ${name}}})"
    return pattern, (f"coalesce({alias}.active, true)" if active else None)


#: Customer filters that are plain equalities on an indexed property (see ``INDEXES``).
_PATTERN_EQUALITIES = ("tier", "funnel_stage")


#: Filter by a list of customer ids (``$name_ids``): the customers whose name matched, found
#: by the API's name table. The query starts from the ids (key look-ups), not from every
#: customer; with an anchor filter it is a plain predicate.
CUSTOMER_IDS_FILTER = "name_ids"

#: Every (unmerged) customer's id, lower-cased name and Latin name, as the ``name`` filter
#: compares them, in three collected columns.
CUSTOMER_NAMES = (
    f"MATCH (c:{Node.CUSTOMER}) WHERE c.merged_into IS NULL "
    "RETURN collect(c.id) AS ids, collect(toLower(coalesce(c.name, ''))) AS names, "
    "collect(coalesce(c.name_latin, '')) AS latin"
)


def _customer_match(filters: Collection[str]) -> tuple[str, list[str]]:
    """``MATCH`` clause and ``WHERE`` predicates for a set of filter names."""
    unknown = (
        set(filters) - CUSTOMER_ANCHORS.keys() - CUSTOMER_FILTERS.keys() - {CUSTOMER_IDS_FILTER}
    )
    if unknown:
        raise ValueError(f"unknown customer filters {sorted(unknown)}")
    anchors = [f for f in CUSTOMER_ANCHORS if f in filters]
    where = ["c.merged_into IS NULL"]
    if CUSTOMER_IDS_FILTER in filters and not anchors:
        match = f"UNWIND ${CUSTOMER_IDS_FILTER} AS nid MATCH (c:{Node.CUSTOMER} {{id: nid}})"
        where += [CUSTOMER_FILTERS[f] for f in CUSTOMER_FILTERS if f in filters]
        return match, where
    if CUSTOMER_IDS_FILTER in filters:
        where.append(f"c.id IN ${CUSTOMER_IDS_FILTER}")
    if anchors:
        # Start from the most selective kind of node (identities, then tags, circles, ...).
        label, rel, _ = CUSTOMER_ANCHORS[anchors[0]]
        match = (
            f"MATCH (a0:{label} {{id: ${anchors[0]}}}) MATCH (a0)<-[r0:{rel}]-(c:{Node.CUSTOMER})"
        )
        if CUSTOMER_ANCHORS[anchors[0]][2]:
            where.append("coalesce(r0.active, true)")
    else:
        # Equalities on indexed properties go in the node pattern: ArcadeDB's Cypher then
        # starts from the index (measured 53 ms against 145 ms for a page of one funnel
        # stage of 22,890 customers); in WHERE it reads every customer.
        inline = [f for f in _PATTERN_EQUALITIES if f in filters]
        props = ", ".join(f"{f}: ${f}" for f in inline)
        match = f"MATCH (c:{Node.CUSTOMER}{f' {{{props}}}' if props else ''})"
        filters = [f for f in filters if f not in inline]
    for i, name in enumerate(anchors[1:], start=1):
        pattern, condition = _anchor_pattern(name, f"r{i}")
        inner = f" WHERE {condition}" if condition else ""
        where.append(f"EXISTS {{ MATCH {pattern}{inner} }}")
    where += [CUSTOMER_FILTERS[f] for f in CUSTOMER_FILTERS if f in filters]
    return match, where


def api_customer_page(filters: Collection[str], *, sort: str, descending: bool, after: bool) -> str:
    """One page of customers matching ``filters``, sorted by ``sort`` then ``id``: ``rows``,
    maps ``{props, sort_key}`` in that order, collected into one row.

    Parameters: one per filter name, ``$limit``, and with ``after`` the keyset cursor
    ``$after_key`` / ``$after_id`` (the sort value and id of the last row already seen).
    """
    if sort not in CUSTOMER_SORT_KEYS:
        raise ValueError(f"unknown sort key {sort!r}")
    match, where = _customer_match(filters)
    key = CUSTOMER_SORT_KEYS[sort]
    if after:
        op = "<" if descending else ">"
        where.append(f"({key} {op} $after_key OR ({key} = $after_key AND c.id > $after_id))")
    direction = "DESC" if descending else "ASC"
    return (
        f"{match} WHERE {' AND '.join(where)} "
        f"WITH c, {key} AS sort_key ORDER BY sort_key {direction}, c.id ASC LIMIT $limit "
        "RETURN collect({props: properties(c), sort_key: sort_key}) AS rows"
    )


#: Sort keys that are plain numeric properties (scores); with a range index on the property,
#: :func:`api_customer_top` reads the top of the order from the index.
CUSTOMER_SCORE_SORTS = frozenset({"churn_risk", "influence", "pagerank"})


#: Where :func:`api_customer_top` and :func:`sql_customer_top` read: the top of the order
#: (``None``), below a score (``"below"``: ``$below``, exclusive), or the customers holding
#: one score (``"tie"``: ``$tie``), by id after ``$after_id``.
TopBound = Literal["below", "tie"] | None


def _top_order(sort: str, bound: TopBound, *, prefix: str) -> tuple[list[str], str]:
    """Extra predicates and the order of a top read (``prefix``: ``"c."`` in Cypher, ``""``
    in SQL; parameters as ``$name``)."""
    if bound is None:
        return [], f"{prefix}{sort} DESC"
    if bound == "below":
        return [f"{prefix}{sort} < $below"], f"{prefix}{sort} DESC"
    if bound == "tie":
        return [f"{prefix}{sort} = $tie", f"{prefix}id > $after_id"], f"{prefix}id ASC"
    raise ValueError(f"unknown bound {bound!r}")


def api_customer_top(filters: Collection[str], *, sort: str, bound: TopBound = None) -> str:
    """The customers with the highest score ``sort`` among those matching ``filters``: rows
    ``{props, sort_key}``.

    Unlike :func:`api_customer_page` it orders by the bare property and nothing else, so the
    store can walk a range index on it; ties come back in no fixed order, so callers read
    the customers tied at the end of what they read with ``bound="tie"`` (ordered by id) and
    go on with ``bound="below"``. ``filters`` must include ``<sort>_min`` (which also keeps
    out customers without the score).
    """
    if sort not in CUSTOMER_SCORE_SORTS or f"{sort}_min" not in filters:
        raise ValueError(f"api_customer_top needs a score sort and its {sort}_min filter")
    match, where = _customer_match(filters)
    extra, order = _top_order(sort, bound, prefix="c.")
    return (
        f"{match} WHERE {' AND '.join(where + extra)} "
        f"RETURN properties(c) AS props, c.{sort} AS sort_key ORDER BY {order} LIMIT $limit"
    )


#: ArcadeDB SQL predicates for the customer filters :func:`sql_customer_top` can take.
_SQL_CUSTOMER_FILTERS: dict[str, str] = {
    "tier": "tier = :tier",
    "recorded_tier": "recorded_tier = :recorded_tier",
    "funnel_stage": "funnel_stage = :funnel_stage",
    "channel": "channels CONTAINS :channel",
    "churn_risk_min": "churn_risk >= :churn_risk_min",
    "churn_risk_max": "churn_risk <= :churn_risk_max",
    "influence_min": "influence >= :influence_min",
    "pagerank_min": "pagerank >= :pagerank_min",
    "created_from": "first_seen >= :created_from",
    "created_to": "first_seen < :created_to",
    "active_from": "last_active_at >= :active_from",
    "active_to": "last_active_at < :active_to",
}


def sql_customer_top(filters: Collection[str], *, sort: str, bound: TopBound = None) -> str | None:
    """ArcadeDB SQL for :func:`api_customer_top`, or ``None`` when a filter needs Cypher.

    Only filters on the customer's own properties translate (not ``name``, not the anchored
    ones). ArcadeDB's Cypher does not use a range index for ``ORDER BY ... LIMIT`` and reads
    every customer; its SQL walks the index (measured 9.6 ms against 436 ms for the top 46 of
    22,890 customers). Rows are whole records; parameters are ``:name``.
    """
    if sort not in CUSTOMER_SCORE_SORTS or f"{sort}_min" not in filters:
        raise ValueError(f"sql_customer_top needs a score sort and its {sort}_min filter")
    if not set(filters) <= _SQL_CUSTOMER_FILTERS.keys():
        return None
    extra, order = _top_order(f"`{sort}`", bound, prefix="")
    where = (
        ["merged_into IS NULL"]
        + [text for name, text in _SQL_CUSTOMER_FILTERS.items() if name in filters]
        + [e.replace("$", ":") for e in extra]
    )
    # sort is one of CUSTOMER_SCORE_SORTS and the filters are this module's text
    return (
        f"SELECT FROM `{Node.CUSTOMER}` WHERE {' AND '.join(where)} ORDER BY {order} LIMIT :limit"
    )


def api_customer_ids(filters: Collection[str]) -> str:
    """``rows``: the ids of the customers matching ``filters`` (at most ``$limit``), in order,
    collected into one row (a candidate filter can match tens of thousands: as rows, 55k ids
    cost 2.4 s of the driver's CPU at 100k customers)."""
    match, where = _customer_match(filters)
    return (
        f"{match} WHERE {' AND '.join(where)} "
        "WITH c.id AS id ORDER BY id LIMIT $limit RETURN collect(id) AS rows"
    )


def api_customer_count(filters: Collection[str]) -> str:
    """How many customers match ``filters``."""
    match, where = _customer_match(filters)
    return f"{match} WHERE {' AND '.join(where)} RETURN count(c) AS n"


#: Of the customers ``$ids``, those served (actively) by employee ``$employee``.
API_OWN_CUSTOMERS = (
    f"UNWIND $ids AS cid MATCH (c:{Node.CUSTOMER} {{id: cid}})-[r:{Rel.SERVED_BY}]->"
    f"(:{Node.EMPLOYEE} {{id: $employee}}) WHERE coalesce(r.active, true) "
    "RETURN collect(DISTINCT c.id) AS ids"
)

#: ``rows``: ``[customer id, kind, key]`` of the key identities of kinds ``$kinds`` (``phone``,
#: ``email``) of the customers ``$ids``, ordered, collected into one row.
API_CONTACT_POINTS = (
    f"UNWIND $ids AS cid MATCH (c:{Node.CUSTOMER} {{id: cid}})-[:{Rel.HAS_IDENTITY}]->"
    f"(i:{Node.IDENTITY}) WHERE i.kind IN $kinds WITH cid, i ORDER BY cid, i.kind, i.key "
    "RETURN collect([cid, i.kind, i.key]) AS rows"
)

#: One customer with every relation except those of types ``$skip`` and the node at the
#: other end, and their interaction contacts (summed both ways), in one round trip.
API_CUSTOMER_360 = (
    f"MATCH (c:{Node.CUSTOMER} {{id: $id}}) "
    "CALL { WITH c OPTIONAL MATCH (c)-[r]-(x) WHERE NOT type(r) IN $skip "
    "RETURN collect({type: type(r), outgoing: startNode(r) = c, label: labels(x)[0], "
    "node: properties(x), rel: properties(r)}) AS relations } "
    f"CALL {{ WITH c OPTIONAL MATCH (c)-[r:{Rel.INTERACTS_WITH}]-(x:{Node.CUSTOMER}) "
    "WITH x, sum(coalesce(r.weight, 0.0)) AS weight, sum(coalesce(r.count, 0)) AS count, "
    "max(r.last_at) AS last_at "
    "RETURN collect({id: x.id, name: x.name, weight: weight, count: count, last_at: last_at}) "
    "AS contacts } "
    "RETURN properties(c) AS customer, relations, contacts"
)

# -- circles --

#: Set properties ``$props`` on circle ``$id``.
API_SET_CIRCLE_PROPERTIES = f"MATCH (k:{Node.CIRCLE} {{id: $id}}) SET k += $props"

#: Member count, mean churn risk and tier of every member of the circles ``$ids``.
API_CIRCLE_MEMBER_STATS = (
    f"UNWIND $ids AS kid MATCH (k:{Node.CIRCLE} {{id: kid}})<-[:{Rel.IN_CIRCLE}]-"
    f"(c:{Node.CUSTOMER}) RETURN kid AS id, count(c) AS members, avg(c.churn_risk) AS "
    "churn_risk_mean, collect(coalesce(c.tier, c.recorded_tier, 'unknown')) AS tiers"
)


def api_circles_page(*, level: bool, kind: bool, after: bool) -> str:
    """A page of circles, largest first (``size`` written by the analysis), then by id.

    Parameters: ``$limit``; ``$level`` / ``$kind`` when filtered; ``$after_size`` and
    ``$after_id`` for the keyset cursor.
    """
    where = ["true"]
    if level:
        where.append("k.level = $level")
    if kind:
        where.append("k.kind = $kind")
    if after:
        where.append(
            "(coalesce(k.size, 0) < $after_size OR "
            "(coalesce(k.size, 0) = $after_size AND k.id > $after_id))"
        )
    return (
        f"MATCH (k:{Node.CIRCLE}) WHERE {' AND '.join(where)} "
        "WITH k ORDER BY coalesce(k.size, 0) DESC, k.id ASC LIMIT $limit "
        "RETURN properties(k) AS props"
    )


# -- churn, tiers and funnel --

#: Customers who deleted an employee at or after ``$since`` (and, with ``$employee`` not
#: null, only that employee), newest first, keyset by (``$before_at``, ``$after_id``).
API_CHURN_ALERTS = (
    f"MATCH (c:{Node.CUSTOMER})-[r:{Rel.SERVED_BY}]->(e:{Node.EMPLOYEE}) "
    "WHERE r.deleted_at IS NOT NULL AND r.deleted_at >= $since "
    "AND ($employee IS NULL OR e.id = $employee) "
    "AND (r.deleted_at < $before_at OR (r.deleted_at = $before_at AND c.id > $after_id)) "
    "WITH c, r, e ORDER BY r.deleted_at DESC, c.id ASC LIMIT $limit "
    "RETURN properties(c) AS customer, e.id AS employee_id, e.name AS employee_name, "
    "r.added_at AS added_at, r.deleted_at AS deleted_at"
)

#: Per distinct sequence of funnel stages reached in [``$start``, ``$end``): how many
#: customers followed it. Histories are ``"<ISO time> <stage>"`` strings: the analysis'
#: ``funnel_path`` (stages by the funnel rules, orders included) where it ran, else the
#: stages ingest recorded (``funnel_history``).
API_FUNNEL_PATHS = (
    f"MATCH (c:{Node.CUSTOMER}) WHERE c.merged_into IS NULL "
    "AND coalesce(c.funnel_path, c.funnel_history) IS NOT NULL "
    "WITH [h IN coalesce(c.funnel_path, c.funnel_history) WHERE substring(h, 0, 20) >= $start "
    "AND substring(h, 0, 20) < $end | substring(h, 21)] AS stages "
    "WHERE size(stages) > 0 RETURN stages, count(*) AS n"
)

#: The same for the tiers the analysis scored (``tier_path``).
API_SCORED_TIER_PATHS = (
    f"MATCH (c:{Node.CUSTOMER}) WHERE c.merged_into IS NULL AND c.tier_path IS NOT NULL "
    "WITH [h IN c.tier_path WHERE substring(h, 0, 20) >= $start "
    "AND substring(h, 0, 20) < $end | substring(h, 21)] AS tiers "
    "WHERE size(tiers) > 0 RETURN tiers, count(*) AS n"
)

#: The same for recorded tier changes (``tier_history``).
API_TIER_PATHS = (
    f"MATCH (c:{Node.CUSTOMER}) WHERE c.merged_into IS NULL AND c.tier_history IS NOT NULL "
    "WITH [h IN c.tier_history WHERE substring(h, 0, 20) >= $start "
    "AND substring(h, 0, 20) < $end | substring(h, 21)] AS tiers "
    "WHERE size(tiers) > 0 RETURN tiers, count(*) AS n"
)

#: Customers per (scored tier, recorded tier, funnel stage).
API_TIER_COUNTS = (
    f"MATCH (c:{Node.CUSTOMER}) WHERE c.merged_into IS NULL "
    "RETURN c.tier AS tier, c.recorded_tier AS recorded_tier, c.funnel_stage AS funnel_stage, "
    "count(*) AS n"
)

# -- tags --

#: Every tag with the number of customers carrying it.
API_TAG_COUNTS = (
    f"MATCH (t:{Node.TAG}) OPTIONAL MATCH (t)<-[r:{Rel.TAGGED}]-(c:{Node.CUSTOMER}) "
    "RETURN t.id AS id, properties(t) AS props, count(c) AS customers ORDER BY id"
)

#: Of the customers ``$ids``, those already tagged ``$tag``.
API_TAGGED_ALREADY = (
    f"UNWIND $ids AS cid MATCH (c:{Node.CUSTOMER} {{id: cid}})-[:{Rel.TAGGED}]->"
    f"(:{Node.TAG} {{id: $tag}}) RETURN collect(c.id) AS ids"
)

#: Tag the customers ``$ids`` with ``$tag`` (by ``$by`` at ``$at``); idempotent.
API_TAG_CUSTOMERS = (
    f"MATCH (t:{Node.TAG} {{id: $tag}}) UNWIND $ids AS cid "
    f"MATCH (c:{Node.CUSTOMER} {{id: cid}}) "
    f"MERGE (c)-[r:{Rel.TAGGED}]->(t) ON CREATE SET r.by = $by, r.at = $at"
)

#: Remove tag ``$tag`` from the customers ``$ids``.
API_UNTAG_CUSTOMERS = (
    f"UNWIND $ids AS cid MATCH (c:{Node.CUSTOMER} {{id: cid}})-[r:{Rel.TAGGED}]->"
    f"(:{Node.TAG} {{id: $tag}}) DELETE r"
)

#: Remove from the customers ``$ids`` every other tag of tag group ``$group``.
API_UNTAG_GROUP_SIBLINGS = (
    f"UNWIND $ids AS cid MATCH (c:{Node.CUSTOMER} {{id: cid}})-[r:{Rel.TAGGED}]->"
    f"(t:{Node.TAG}) WHERE t.group = $group AND t.id <> $tag DELETE r"
)

# -- referral campaigns --

#: Up to ``$limit`` campaigns by id, after id ``$after`` (``null``: from the first).
API_CAMPAIGNS = (
    f"MATCH (k:{Node.CAMPAIGN}) WHERE $after IS NULL OR k.id > $after "
    "RETURN k.id AS id, properties(k) AS props ORDER BY id LIMIT $limit"
)

#: Participants and codes issued of every campaign in ``$ids``: rows ``{id, participants,
#: codes_issued}``.
API_CAMPAIGN_STATS = (
    f"UNWIND $ids AS kid MATCH (k:{Node.CAMPAIGN} {{id: kid}}) "
    f"OPTIONAL MATCH (k)<-[p:{Rel.IN_CAMPAIGN}]-(:{Node.CUSTOMER}) "
    "RETURN kid AS id, count(p) AS participants, "
    "sum(CASE WHEN p.invite_code IS NULL THEN 0 ELSE 1 END) AS codes_issued"
)

#: Referrals and inviters of the campaigns in ``$ids`` that have any: rows ``{id,
#: referrals, inviters}``, from one pass over the referrals (matching them campaign by
#: campaign read them all once per campaign: 8.5 s for 40 campaigns at 100k customers,
#: against 0.35 s).
API_CAMPAIGN_REFERRAL_COUNTS = (
    f"MATCH (a:{Node.CUSTOMER})-[r:{Rel.REFERRED}]->(:{Node.CUSTOMER}) "
    "WHERE r.campaign_id IN $ids "
    "RETURN r.campaign_id AS id, count(r) AS referrals, count(DISTINCT a) AS inviters"
)

#: Every referral (inviter, invitee, time, code) of campaign ``$campaign``.
API_CAMPAIGN_REFERRALS = (
    f"MATCH (a:{Node.CUSTOMER})-[r:{Rel.REFERRED}]->(b:{Node.CUSTOMER}) "
    "WHERE r.campaign_id = $campaign "
    "RETURN a.id AS inviter, b.id AS invitee, r.at AS at, r.invite_code AS code"
)

#: The invite code customer ``$customer`` holds in campaign ``$campaign``: issued through
#: the API (on ``IN_CAMPAIGN``) or seen on their referrals (loaded events).
API_CAMPAIGN_CODE_OF = (
    f"MATCH (c:{Node.CUSTOMER} {{id: $customer}}) "
    f"OPTIONAL MATCH (c)-[p:{Rel.IN_CAMPAIGN}]->(:{Node.CAMPAIGN} {{id: $campaign}}) "
    f"OPTIONAL MATCH (c)-[r:{Rel.REFERRED}]->(:{Node.CUSTOMER}) "
    "WHERE r.campaign_id = $campaign AND r.invite_code IS NOT NULL "
    "RETURN p.invite_code AS issued, collect(r.invite_code)[0] AS used"
)

#: Who holds invite code ``$code`` in campaign ``$campaign``.
API_CAMPAIGN_CODE_OWNER = (
    f"MATCH (c:{Node.CUSTOMER})-[p:{Rel.IN_CAMPAIGN}]->(:{Node.CAMPAIGN} {{id: $campaign}}) "
    "WHERE p.invite_code = $code RETURN c.id AS id "
    "UNION "
    f"MATCH (c:{Node.CUSTOMER})-[r:{Rel.REFERRED}]->(:{Node.CUSTOMER}) "
    "WHERE r.campaign_id = $campaign AND r.invite_code = $code RETURN c.id AS id"
)

#: Who invited customer ``$customer`` in campaign ``$campaign`` (empty when nobody did).
API_CAMPAIGN_INVITED = (
    f"MATCH (a:{Node.CUSTOMER})-[r:{Rel.REFERRED}]->(c:{Node.CUSTOMER} {{id: $customer}}) "
    "WHERE r.campaign_id = $campaign RETURN a.id AS inviter"
)

#: Give customer ``$customer`` invite code ``$code`` in campaign ``$campaign``.
API_ISSUE_INVITE_CODE = (
    f"MATCH (c:{Node.CUSTOMER} {{id: $customer}}) MATCH (k:{Node.CAMPAIGN} {{id: $campaign}}) "
    f"MERGE (c)-[p:{Rel.IN_CAMPAIGN}]->(k) "
    "ON CREATE SET p.role = 'inviter' "
    "SET p.invite_code = $code, p.code_issued_at = $at"
)

#: Record that ``$inviter`` invited ``$invitee`` into campaign ``$campaign`` with ``$code``.
API_RECORD_INVITATION = (
    f"MATCH (a:{Node.CUSTOMER} {{id: $inviter}}) MATCH (b:{Node.CUSTOMER} {{id: $invitee}}) "
    f"MATCH (k:{Node.CAMPAIGN} {{id: $campaign}}) "
    f"MERGE (a)-[r:{Rel.REFERRED}]->(b) "
    "SET r.campaign_id = $campaign, r.invite_code = $code, r.at = $at "
    f"MERGE (b)-[p:{Rel.IN_CAMPAIGN}]->(k) ON CREATE SET p.role = 'invitee', p.at = $at"
)

# -- privacy: erasure of a person --

#: Everything held on the customers ``$ids``: their properties and every relation, with the
#: node at the other end (an access request).
API_ACCESS_EXPORT = (
    # UNWIND + a key lookup: ArcadeDB's Cypher reads every customer for `c.id IN $ids`
    # (284 ms against 5 ms at 100k customers).
    f"UNWIND $ids AS cid MATCH (c:{Node.CUSTOMER} {{id: cid}}) OPTIONAL MATCH (c)-[r]-(x) "
    "RETURN c.id AS id, properties(c) AS props, collect({type: type(r), "
    "outgoing: startNode(r) = c, label: labels(x)[0], node: properties(x), "
    "rel: properties(r)}) AS relations"
)

#: Orders naming one of the customers ``$ids`` (linked or not).
API_ACCESS_ORDERS = (
    f"MATCH (o:{Node.ORDER}) WHERE o.customer_id IN $ids RETURN properties(o) AS props"
)

#: The secret ids the erased keys were hashed with (one, unless a secret was changed).
ERASED_KEY_SECRETS = (
    f"MATCH (e:{Node.ERASED_KEY}) RETURN collect(DISTINCT e.secret_id) AS secret_ids"
)

#: Every erased key (a keyed hash), the date of its erasure and the secret it was made with.
ERASED_KEYS = (
    f"MATCH (e:{Node.ERASED_KEY}) "
    "RETURN e.id AS id, e.erased_at AS erased_at, e.secret_id AS secret_id"
)

#: Customers recorded as merged into one of ``$ids`` (their old ids).
API_ERASURE_MERGED_STUBS = (
    f"MATCH (c:{Node.CUSTOMER}) WHERE c.merged_into IN $ids RETURN collect(c.id) AS ids"
)

#: Identities of the customers ``$ids`` and how many *other* customers hold each.
API_ERASURE_IDENTITIES = (
    f"MATCH (c:{Node.CUSTOMER})-[:{Rel.HAS_IDENTITY}]->(i:{Node.IDENTITY}) WHERE c.id IN $ids "
    f"WITH DISTINCT i OPTIONAL MATCH (i)<-[:{Rel.HAS_IDENTITY}]-(o:{Node.CUSTOMER}) "
    "WHERE NOT o.id IN $ids RETURN i.id AS id, count(o) AS others"
)

#: Orders placed by the customers ``$ids`` (linked, or naming them in ``customer_id``).
API_ERASURE_ORDERS = (
    f"MATCH (o:{Node.ORDER}) WHERE o.customer_id IN $ids RETURN o.id AS id "
    "UNION "
    f"MATCH (c:{Node.CUSTOMER})-[:{Rel.PLACED}]->(o:{Node.ORDER}) WHERE c.id IN $ids "
    "RETURN o.id AS id"
)

#: Nodes and relations outside the erased set whose properties still name one of ``$ids``
#: (customer ids) or ``$records`` (record identity ids).
API_ERASURE_CUSTOMER_REFERENCES = (
    f"MATCH (c:{Node.CUSTOMER}) WHERE NOT c.id IN $ids AND (c.merged_into IN $ids "
    "OR any(x IN coalesce(c.merged_ids, []) WHERE x IN $ids) "
    "OR any(x IN coalesce(c.split_from, []) WHERE x IN $ids)) "
    "RETURN 'Customer' AS label, c.id AS id "
    "UNION "
    f"MATCH (k:{Node.CIRCLE}) WHERE any(x IN coalesce(k.leaders, []) WHERE x IN $ids) "
    "RETURN 'Circle' AS label, k.id AS id "
    "UNION "
    f"MATCH (c:{Node.CUSTOMER})-[h:{Rel.HAS_IDENTITY}]->(i:{Node.IDENTITY}) "
    "WHERE NOT c.id IN $ids AND (h.matched IN $records "
    "OR any(x IN coalesce(h.records, []) WHERE x IN $records)) "
    "RETURN 'HAS_IDENTITY' AS label, i.id AS id"
)

#: What is left of an erased person: nodes with one of the ids, and references to them.
API_ERASURE_REMAINING = (
    f"MATCH (n:{Node.CUSTOMER}) WHERE n.id IN $ids RETURN 'Customer' AS label, n.id AS id "
    "UNION "
    f"MATCH (n:{Node.IDENTITY}) WHERE n.id IN $identities RETURN 'Identity' AS label, n.id AS id "
    "UNION "
    f"MATCH (n:{Node.ORDER}) WHERE n.id IN $orders OR n.customer_id IN $ids "
    "RETURN 'Order' AS label, n.id AS id"
)


def api_erase() -> list[str]:
    """Statements that erase one person, run in one transaction, in order.

    Parameters: ``$ids`` (the customer and its merged-in ids), ``$identities`` (identity
    ids held by no one else), ``$shared`` (identity ids others hold too: only the links
    go), ``$records`` (record identity ids), ``$orders`` (order ids), ``$erased_keys``
    (rows ``{id, erased_at, secret_id}``: hashes of the keys later ingests refuse).
    """
    return [
        # Remembered, hashed, so that loading the same records again does not bring them back.
        f"UNWIND $erased_keys AS row MERGE (e:{Node.ERASED_KEY} {{id: row.id}}) "
        "ON CREATE SET e.erased_at = row.erased_at, e.secret_id = row.secret_id",
        # Circles lose the person from their leaders and their size.
        f"MATCH (c:{Node.CUSTOMER})-[:{Rel.IN_CIRCLE}]->(k:{Node.CIRCLE}) WHERE c.id IN $ids "
        "SET k.size = CASE WHEN k.size IS NULL THEN NULL ELSE k.size - 1 END",
        f"MATCH (k:{Node.CIRCLE}) WHERE any(x IN coalesce(k.leaders, []) WHERE x IN $ids) "
        "SET k.leaders = [x IN k.leaders WHERE NOT x IN $ids]",
        # Other customers forget merges and splits that name the person.
        f"MATCH (c:{Node.CUSTOMER}) WHERE NOT c.id IN $ids "
        "AND any(x IN coalesce(c.merged_ids, []) WHERE x IN $ids) "
        "SET c.merged_ids = [x IN c.merged_ids WHERE NOT x IN $ids]",
        f"MATCH (c:{Node.CUSTOMER}) WHERE NOT c.id IN $ids "
        "AND any(x IN coalesce(c.split_from, []) WHERE x IN $ids) "
        "SET c.split_from = [x IN c.split_from WHERE NOT x IN $ids]",
        # Evidence on other customers' links that points at the person's records.
        f"MATCH (:{Node.CUSTOMER})-[h:{Rel.HAS_IDENTITY}]->(:{Node.IDENTITY}) "
        "WHERE h.matched IN $records REMOVE h.matched",
        f"MATCH (c:{Node.CUSTOMER})-[h:{Rel.HAS_IDENTITY}]->(:{Node.IDENTITY}) "
        "WHERE NOT c.id IN $ids AND any(x IN coalesce(h.records, []) WHERE x IN $records) "
        "SET h.records = [x IN h.records WHERE NOT x IN $records]",
        # Shared identities (a household phone) stay for the others; the links go.
        f"MATCH (c:{Node.CUSTOMER})-[h:{Rel.HAS_IDENTITY}]->(i:{Node.IDENTITY}) "
        "WHERE c.id IN $ids AND i.id IN $shared DELETE h",
        f"MATCH (o:{Node.ORDER}) WHERE o.id IN $orders DETACH DELETE o",
        f"MATCH (i:{Node.IDENTITY}) WHERE i.id IN $identities DETACH DELETE i",
        f"MATCH (c:{Node.CUSTOMER}) WHERE c.id IN $ids DETACH DELETE c",
    ]


def sql_create_edge_type(rel: Rel) -> str:
    """ArcadeDB SQL: create the edge type ``rel`` if missing (Cypher creates it lazily; the
    bulk endpoint needs it to exist)."""
    return f"CREATE EDGE TYPE `{rel}` IF NOT EXISTS"


def sql_edge_rids(rel: Rel) -> str:
    """ArcadeDB SQL: every ``rel`` edge record as its own record id and those of its two ends.

    Reads the records themselves, so it also finds edges a failed bulk batch wrote but did not
    link into its vertices' edge lists (which a Cypher ``MATCH`` does not see).
    """
    return f"SELECT list(@rid) AS r, list(@out) AS a, list(@in) AS b FROM `{rel}`"  # noqa: S608


def sql_delete_records(rel: Rel) -> str:
    """ArcadeDB SQL: delete the ``rel`` edge records whose record id is in ``:rids``."""
    return f"DELETE FROM `{rel}` WHERE @rid IN :rids"  # noqa: S608
