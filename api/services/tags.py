"""Tags and tag groups; tagging customers one by one or in bulk by filter.

Tags are ``Tag`` nodes keyed by their name (as ingest writes them from ``tag_applied``
events and contact ``tags``), linked by ``TAGGED {by, at}``. A tag group is a ``Tag`` node
with ``kind = "group"`` and id ``tag-group:<name>`` (no label of its own, see
docs/api.md); a tag names its group in ``group``. In an *exclusive* group a customer carries
at most one tag: tagging with one removes the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from quanzi.api.schemas import (
    SegmentFilter,
    TagAssignment,
    TagAssignmentResult,
    TagCreate,
    TagGroupCreate,
    TagGroupPublic,
    TagPublic,
    TagStats,
)
from quanzi.api.services.access import Principal
from quanzi.api.services.customers import customer_ids, find_customer
from quanzi.errors import ConflictError, InputError, NotFoundError
from quanzi.graph import queries as q
from quanzi.graph.store import GraphStore
from quanzi.model import Node
from quanzi.settings import Settings

__all__ = [
    "GROUP_PREFIX",
    "apply_tag",
    "create_group",
    "create_tag",
    "tag_stats",
]

#: Id prefix of tag-group nodes.
GROUP_PREFIX = "tag-group:"
_BATCH = 5000


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _tag(props: dict[str, Any], customers: int) -> TagPublic:
    return TagPublic(
        id=str(props["id"]),
        name=str(props.get("name") or props["id"]),
        group=props.get("group"),
        description=props.get("description"),
        customers=customers,
    )


def tag_stats(store: GraphStore, *, limit: int = 500, after: str | None = None) -> TagStats:
    """Up to ``limit`` tags by id (after id ``after``) with their customer counts, and every
    tag group with all its tags."""
    rows = store.read(q.API_TAG_COUNTS, "counting tags")
    tags = [
        _tag(dict(r["props"]), int(r["customers"]))
        for r in rows
        if r["props"].get("kind") != "group"
    ]
    groups: dict[str, TagGroupPublic] = {}
    for r in rows:
        props = r["props"]
        if props.get("kind") == "group":
            name = str(props.get("name"))
            groups[name] = TagGroupPublic(
                name=name,
                description=props.get("description"),
                exclusive=bool(props.get("exclusive")),
            )
    for tag in tags:
        if tag.group is not None:
            group = groups.setdefault(tag.group, TagGroupPublic(name=tag.group))
            group.tags.append(tag.id)
            group.customers += tag.customers
    page = [t for t in tags if after is None or t.id > after][:limit]
    return TagStats(tags=page, groups=sorted(groups.values(), key=lambda g: g.name))


def _group(store: GraphStore, name: str) -> dict[str, Any] | None:
    return store.get_node(Node.TAG, GROUP_PREFIX + name)


def create_group(store: GraphStore, body: TagGroupCreate, *, actor: str) -> TagGroupPublic:
    """Create a tag group (409 if it exists)."""
    if _group(store, body.name) is not None:
        raise ConflictError(f"Tag group {body.name!r} exists already")
    store.upsert_nodes(
        Node.TAG,
        [
            {
                "id": GROUP_PREFIX + body.name,
                "kind": "group",
                "name": body.name,
                "description": body.description,
                "exclusive": body.exclusive,
                "created_by": actor,
                "created_at": _now(),
            }
        ],
    )
    return TagGroupPublic(name=body.name, description=body.description, exclusive=body.exclusive)


def create_tag(store: GraphStore, body: TagCreate, *, actor: str) -> TagPublic:
    """Create a tag (409 if it exists; 422 if its group does not)."""
    if body.name.startswith(GROUP_PREFIX) or store.get_node(Node.TAG, body.name) is not None:
        raise ConflictError(f"Tag {body.name!r} exists already")
    if body.group is not None and _group(store, body.group) is None:
        raise InputError(f"group: no tag group {body.group!r}; create it with POST /tags/groups")
    row = {
        "id": body.name,
        "name": body.name,
        "group": body.group,
        "description": body.description,
        "created_by": actor,
        "created_at": _now(),
    }
    store.upsert_nodes(Node.TAG, [row])
    return _tag(row, 0)


def _existing_tag(store: GraphStore, tag: str) -> dict[str, Any]:
    props = store.get_node(Node.TAG, tag)
    if props is None or props.get("kind") == "group":
        raise NotFoundError(f"No tag {tag!r}; create it with POST /tags")
    return props


def _batches(ids: Sequence[str]) -> list[list[str]]:
    return [list(ids[i : i + _BATCH]) for i in range(0, len(ids), _BATCH)]


def apply_tag(
    store: GraphStore,
    settings: Settings,
    principal: Principal,
    tag: str,
    selection: TagAssignment | str,
    *,
    remove: bool = False,
) -> TagAssignmentResult:
    """Tag (or untag, with ``remove``) one customer (an id) or a selection of customers.

    Idempotent: customers that already carry (or lack) the tag are counted in ``matched``
    but not in ``changed``. A merged customer id given alone answers 307.
    """
    props = _existing_tag(store, tag)
    if isinstance(selection, str):
        ids = [str(find_customer(store, selection)["id"])]
    elif selection.customer_ids is not None:
        ids = customer_ids(
            store, settings, principal, SegmentFilter(), extra={"ids": selection.customer_ids}
        )
        missing = sorted(set(selection.customer_ids) - set(ids))
        if missing:
            raise InputError(
                f"customer_ids: no (unmerged) customer with id {missing[0]!r}"
                + (f" and {len(missing) - 1} more" if len(missing) > 1 else "")
            )
    else:
        assert selection.filter is not None
        ids = customer_ids(store, settings, principal, selection.filter)
    changed = 0
    for batch in _batches(ids):
        tagged = set(store.read(q.API_TAGGED_ALREADY, "reading tags", ids=batch, tag=tag)[0]["ids"])
        targets = sorted(tagged if remove else set(batch) - tagged)
        if not targets:
            continue
        statements: list[tuple[str, dict[str, Any]]]
        if remove:
            statements = [(q.API_UNTAG_CUSTOMERS, {"ids": targets, "tag": tag})]
        else:
            statements = [
                (
                    q.API_TAG_CUSTOMERS,
                    {"ids": targets, "tag": tag, "by": principal.actor, "at": _now()},
                )
            ]
            group = props.get("group")
            if group is not None and (_group(store, str(group)) or {}).get("exclusive"):
                statements.insert(
                    0, (q.API_UNTAG_GROUP_SIBLINGS, {"ids": targets, "tag": tag, "group": group})
                )
        store.write_many(statements, f"{'untagging' if remove else 'tagging'} customers with {tag}")
        changed += len(targets)
    return TagAssignmentResult(tag=tag, matched=len(ids), changed=changed)
