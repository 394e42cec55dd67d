"""The domain graph: node kinds, relation kinds and their keys.

Every label and relation type that reaches a Cypher statement comes from here, so names in
queries are never built from user input.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["NODE_KEYS", "Node", "Rel", "check_label", "check_rel"]


class Node(StrEnum):
    """Node labels. Every node kind has a unique string ``id`` property."""

    CUSTOMER = "Customer"  # a resolved person: customer, prospect or non-customer
    IDENTITY = "Identity"  # one channel's key for a person: phone, e-mail, WeChat unionid, ...
    EMPLOYEE = "Employee"
    GROUP = "Group"  # a customer group or chat group
    INTEREST = "Interest"
    TAG = "Tag"
    CAMPAIGN = "Campaign"  # a referral (fission) campaign
    CIRCLE = "Circle"  # a detected community
    ORDER = "Order"
    SCHEMA_META = "SchemaMeta"  # one node recording the schema version
    INGEST_BATCH = "IngestBatch"  # one loaded event file (content fingerprint), for idempotency
    SETTING = "Setting"  # a tuned setting the services read (e.g. lookalike weights), by name
    ERASED_KEY = "ErasedKey"  # keyed hash of an erased person's key: ingest refuses it
    ANALYSIS = "Analysis"  # the latest analysis run's population-level results (id "latest")


class Rel(StrEnum):
    """Relation types, written ``(start)-[TYPE]->(end)``."""

    HAS_IDENTITY = "HAS_IDENTITY"  # Customer -> Identity, with the evidence of the link
    SERVED_BY = "SERVED_BY"  # Customer -> Employee (added_at, deleted_at)
    MEMBER_OF = "MEMBER_OF"  # Customer -> Group (joined_at, left_at)
    INTERESTED_IN = "INTERESTED_IN"  # Customer -> Interest (weight)
    TAGGED = "TAGGED"  # Customer -> Tag (by, at)
    INTERACTS_WITH = "INTERACTS_WITH"  # Customer -> Customer (weight, count, last_at, kinds)
    REFERRED = "REFERRED"  # Customer (referrer) -> Customer (referee) (campaign_id, code, at)
    IN_CAMPAIGN = "IN_CAMPAIGN"  # Customer -> Campaign (invite code holder / participant)
    IN_CIRCLE = "IN_CIRCLE"  # Customer -> Circle (level)
    PLACED = "PLACED"  # Customer -> Order


#: The key property of each node kind (all use ``id``; kept explicit for readers of the schema).
NODE_KEYS: dict[Node, str] = {n: "id" for n in Node}


def check_label(label: str) -> Node:
    """Return ``label`` as a :class:`Node`, or raise ``ValueError`` naming the allowed ones."""
    try:
        return Node(label)
    except ValueError:
        raise ValueError(
            f"unknown node label {label!r}; use one of {[n.value for n in Node]}"
        ) from None


def check_rel(rel: str) -> Rel:
    """Return ``rel`` as a :class:`Rel`, or raise ``ValueError`` naming the allowed ones."""
    try:
        return Rel(rel)
    except ValueError:
        raise ValueError(
            f"unknown relation type {rel!r}; use one of {[r.value for r in Rel]}"
        ) from None
