"""Referral (fission) campaigns: invite codes, invitations, leaderboard, multi-level reach.

A campaign is a ``Campaign`` node. A customer's invite code lives on their ``IN_CAMPAIGN``
relation (``invite_code``, ``code_issued_at``); codes seen on loaded referral events are
reused. An invitation is a ``REFERRED {campaign_id, invite_code, at}`` relation from the
inviter to the invitee. Within one campaign everyone is invited at most once and nobody
invites one of their own ancestors, so each campaign's referrals form a forest.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from quanzi.api.schemas import (
    CampaignCreate,
    CampaignPublic,
    InvitationCreate,
    InvitationPublic,
    InviteCodePublic,
    Leaderboard,
    LeaderboardEntry,
    ReachPublic,
    iso,
)
from quanzi.api.services.access import Principal
from quanzi.api.services.customers import summarise, survivor_of
from quanzi.errors import ConflictError, InputError, NotFoundError
from quanzi.graph import queries as q
from quanzi.graph.store import GraphStore
from quanzi.model import Node

__all__ = [
    "CODE_ALPHABET",
    "create_campaign",
    "get_campaign",
    "issue_code",
    "leaderboard",
    "list_campaigns",
    "reach",
    "record_invitation",
]

#: Invite codes: 8 characters without the look-alikes I, O, 0 and 1.
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_CODE_LENGTH = 8


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _with_stats(store: GraphStore, campaigns: list[dict[str, Any]]) -> list[CampaignPublic]:
    ids = [str(c["id"]) for c in campaigns]
    stats: dict[str, dict[str, Any]] = {}
    if ids:
        for query in (q.API_CAMPAIGN_STATS, q.API_CAMPAIGN_REFERRAL_COUNTS):
            for r in store.read(query, "counting campaign activity", ids=ids):
                stats.setdefault(str(r["id"]), {}).update(r)
    out = []
    for c in campaigns:
        s = stats.get(str(c["id"]), {})
        out.append(
            CampaignPublic(
                id=str(c["id"]),
                name=c.get("name"),
                start=c.get("start"),
                end=c.get("end"),
                description=c.get("description"),
                participants=int(s.get("participants") or 0),
                codes_issued=int(s.get("codes_issued") or 0),
                referrals=int(s.get("referrals") or 0),
                inviters=int(s.get("inviters") or 0),
            )
        )
    return out


def list_campaigns(
    store: GraphStore, *, limit: int = 100, after: str | None = None
) -> list[CampaignPublic]:
    """Up to ``limit`` campaigns by id (after id ``after``), with participant, code and
    referral counts."""
    rows = store.read(q.API_CAMPAIGNS, "listing campaigns", limit=limit, after=after)
    return _with_stats(store, [dict(r["props"]) for r in rows])


def _campaign(store: GraphStore, campaign_id: str) -> dict[str, Any]:
    props = store.get_node(Node.CAMPAIGN, campaign_id)
    if props is None:
        raise NotFoundError(f"No campaign with id {campaign_id!r}; list them with GET /campaigns")
    return props


def get_campaign(store: GraphStore, campaign_id: str) -> CampaignPublic:
    """One campaign with its counts."""
    return _with_stats(store, [_campaign(store, campaign_id)])[0]


def create_campaign(store: GraphStore, body: CampaignCreate, *, actor: str) -> CampaignPublic:
    """Create a campaign (409 if the id is taken)."""
    campaign_id = body.id or f"CMP{secrets.token_hex(4).upper()}"
    if store.get_node(Node.CAMPAIGN, campaign_id) is not None:
        raise ConflictError(f"Campaign {campaign_id!r} exists already; choose another id")
    row = {
        "id": campaign_id,
        "name": body.name,
        "start": iso(body.start),
        "end": iso(body.end),
        "description": body.description,
        "created_by": actor,
        "created_at": _now(),
    }
    store.upsert_nodes(Node.CAMPAIGN, [row])
    return _with_stats(store, [row])[0]


def _code_owner(store: GraphStore, campaign_id: str, code: str) -> str | None:
    rows = store.read(
        q.API_CAMPAIGN_CODE_OWNER, "looking up an invite code", campaign=campaign_id, code=code
    )
    return str(rows[0]["id"]) if rows else None


def issue_code(store: GraphStore, campaign_id: str, customer_id: str) -> InviteCodePublic:
    """The customer's invite code in the campaign, issued now if they have none.

    A merged customer id is resolved to the surviving customer.
    """
    _campaign(store, campaign_id)
    try:
        customer, _ = survivor_of(store, customer_id)
    except NotFoundError:
        raise InputError(f"customer_id: no customer with id {customer_id!r}") from None
    rows = store.read(
        q.API_CAMPAIGN_CODE_OF, "reading an invite code", customer=customer, campaign=campaign_id
    )
    existing = rows[0]["issued"] or rows[0]["used"] if rows else None
    if existing:
        return InviteCodePublic(
            campaign_id=campaign_id, customer_id=customer, code=existing, new=False
        )
    for _ in range(20):
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(_CODE_LENGTH))
        if _code_owner(store, campaign_id, code) is None:
            break
    else:  # pragma: no cover - 32^8 codes; twenty collisions in a row do not happen
        raise ConflictError("Could not find a free invite code; try again")
    store.write(
        q.API_ISSUE_INVITE_CODE,
        "issuing an invite code",
        customer=customer,
        campaign=campaign_id,
        code=code,
        at=_now(),
    )
    return InviteCodePublic(campaign_id=campaign_id, customer_id=customer, code=code, new=True)


def _edges(store: GraphStore, campaign_id: str) -> list[dict[str, Any]]:
    return store.read(
        q.API_CAMPAIGN_REFERRALS, "reading a campaign's referrals", campaign=campaign_id
    )


def _children(edges: list[dict[str, Any]]) -> dict[str, list[str]]:
    children: dict[str, list[str]] = defaultdict(list)
    for e in edges:
        children[str(e["inviter"])].append(str(e["invitee"]))
    return children


def _levels(children: Mapping[str, list[str]], root: str) -> list[int]:
    """People reached at depth 1, 2, ... below ``root`` (each counted once)."""
    seen = {root}
    frontier = [root]
    levels = []
    while frontier:
        nxt = [c for p in frontier for c in children.get(p, []) if c not in seen]
        nxt = list(dict.fromkeys(nxt))
        seen.update(nxt)
        if nxt:
            levels.append(len(nxt))
        frontier = nxt
    return levels


def record_invitation(
    store: GraphStore, campaign_id: str, body: InvitationCreate
) -> InvitationPublic:
    """Record that ``body.invitee_id`` joined through ``body.code``.

    Refused (409) when the invitee was already invited in this campaign or would become their
    own ancestor; 422 for an unknown code, an unknown invitee, self-invitation, or a time
    outside the campaign.
    """
    campaign = _campaign(store, campaign_id)
    code = body.code.upper()
    inviter = _code_owner(store, campaign_id, code)
    if inviter is None:
        raise InputError(f"code: {body.code!r} is not an invite code of campaign {campaign_id}")
    try:
        invitee, _ = survivor_of(store, body.invitee_id)
    except NotFoundError:
        raise InputError(f"invitee_id: no customer with id {body.invitee_id!r}") from None
    if invitee == inviter:
        raise InputError("invitee_id: a customer cannot use their own invite code")
    at = iso(body.at) if body.at is not None else _now()
    start, end = campaign.get("start"), campaign.get("end")
    if (start and at < str(start)) or (end and at > str(end)):
        raise InputError(f"at: {at} is outside the campaign ({start} .. {end})")
    previous = store.read(
        q.API_CAMPAIGN_INVITED, "checking invitations", customer=invitee, campaign=campaign_id
    )
    if previous:
        raise ConflictError(
            f"Customer {invitee} was already invited in campaign {campaign_id} "
            f"(by {previous[0]['inviter']}); a person is invited once per campaign"
        )
    edges = _edges(store, campaign_id)
    parent = {str(e["invitee"]): str(e["inviter"]) for e in edges}
    ancestor: str | None = inviter
    while ancestor is not None:
        if ancestor == invitee:
            raise ConflictError(
                f"Customer {invitee} is an ancestor of {inviter} in this campaign; "
                "an invitation cannot close a loop"
            )
        ancestor = parent.get(ancestor)
    store.write(
        q.API_RECORD_INVITATION,
        "recording an invitation",
        inviter=inviter,
        invitee=invitee,
        campaign=campaign_id,
        code=code,
        at=at,
    )
    return InvitationPublic(
        campaign_id=campaign_id, inviter_id=inviter, invitee_id=invitee, code=code, at=at
    )


def leaderboard(
    store: GraphStore, principal: Principal, campaign_id: str, *, limit: int = 20
) -> Leaderboard:
    """Inviters ranked by direct invitations, then by multi-level reach."""
    _campaign(store, campaign_id)
    children = _children(_edges(store, campaign_id))
    scored = []
    for inviter in children:
        levels = _levels(children, inviter)
        scored.append((len(set(children[inviter])), sum(levels), len(levels), inviter))
    scored.sort(key=lambda s: (-s[0], -s[1], s[3]))
    top = scored[:limit]
    rows = (
        store.read_collected(q.CUSTOMER_PROPERTIES, "reading inviters", ids=[s[3] for s in top])
        if top
        else []
    )
    props = {r["id"]: dict(r["props"]) for r in rows}
    present = [s for s in top if s[3] in props]
    summaries = summarise(store, principal, [props[s[3]] for s in present])
    items = [
        LeaderboardEntry(rank=i, direct=d, reach=r, depth=depth, customer=summary)
        for i, ((d, r, depth, _), summary) in enumerate(zip(present, summaries, strict=True), 1)
    ]
    return Leaderboard(campaign_id=campaign_id, items=items)


def reach(store: GraphStore, campaign_id: str, customer_id: str) -> ReachPublic:
    """How many people a customer's invitations reached at each level."""
    _campaign(store, campaign_id)
    customer, _ = survivor_of(store, customer_id)
    edges = _edges(store, campaign_id)
    levels = _levels(_children(edges), customer)
    invited_by = next((str(e["inviter"]) for e in edges if e["invitee"] == customer), None)
    return ReachPublic(
        campaign_id=campaign_id,
        customer_id=customer,
        levels=levels,
        total=sum(levels),
        invited_by=invited_by,
    )
