"""``/campaigns``: referral campaigns, invite codes, invitations, leaderboard and reach."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from quanzi.api.deps import SalesDep, StoreDep, ViewerDep
from quanzi.api.errors import CONFLICT_RESPONSE, PROBLEM_RESPONSES
from quanzi.api.schemas import (
    CampaignCreate,
    CampaignPublic,
    InvitationCreate,
    InvitationPublic,
    InviteCodePublic,
    InviteCodeRequest,
    Leaderboard,
    ReachPublic,
)
from quanzi.api.services import campaigns as service

router = APIRouter(prefix="/campaigns", tags=["campaigns"], responses=PROBLEM_RESPONSES)

CampaignId = Annotated[str, Path(min_length=1, max_length=100, examples=["C001"])]
CustomerId = Annotated[str, Path(min_length=1, max_length=200)]


@router.get("", response_model=list[CampaignPublic])
def list_campaigns(
    store: StoreDep,
    _: ViewerDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    after: Annotated[
        str | None, Query(max_length=100, description="Id of the last campaign seen.")
    ] = None,
) -> list[CampaignPublic]:
    """Campaigns by id with participant, invite-code and referral counts; for the next
    page pass the last id as `after`."""
    return service.list_campaigns(store, limit=limit, after=after)


@router.post(
    "",
    response_model=CampaignPublic,
    status_code=status.HTTP_201_CREATED,
    responses=CONFLICT_RESPONSE,
)
def create_campaign(body: CampaignCreate, store: StoreDep, principal: SalesDep) -> CampaignPublic:
    """Create a referral campaign."""
    return service.create_campaign(store, body, actor=principal.actor)


@router.get("/{campaign_id}", response_model=CampaignPublic)
def get_campaign(store: StoreDep, _: ViewerDep, campaign_id: CampaignId) -> CampaignPublic:
    """One campaign with its counts."""
    return service.get_campaign(store, campaign_id)


@router.post("/{campaign_id}/codes", response_model=InviteCodePublic, responses=CONFLICT_RESPONSE)
def issue_code(
    body: InviteCodeRequest, store: StoreDep, _: SalesDep, campaign_id: CampaignId
) -> InviteCodePublic:
    """A customer's invite code in the campaign, issued now if they have none (idempotent)."""
    return service.issue_code(store, campaign_id, body.customer_id)


@router.post(
    "/{campaign_id}/invitations",
    response_model=InvitationPublic,
    status_code=status.HTTP_201_CREATED,
    responses=CONFLICT_RESPONSE,
)
def record_invitation(
    body: InvitationCreate, store: StoreDep, _: SalesDep, campaign_id: CampaignId
) -> InvitationPublic:
    """Record that a customer joined through an invite code.

    A person is invited at most once per campaign, and never by one of their own invitees
    (409).
    """
    return service.record_invitation(store, campaign_id, body)


@router.get("/{campaign_id}/leaderboard", response_model=Leaderboard)
def leaderboard(
    store: StoreDep,
    principal: ViewerDep,
    campaign_id: CampaignId,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
) -> Leaderboard:
    """Top inviters: direct invitations, multi-level reach and depth."""
    return service.leaderboard(store, principal, campaign_id, limit=limit)


@router.get("/{campaign_id}/reach/{customer_id}", response_model=ReachPublic)
def reach(
    store: StoreDep, _: ViewerDep, campaign_id: CampaignId, customer_id: CustomerId
) -> ReachPublic:
    """How many people a customer's invitations reached at each level."""
    return service.reach(store, campaign_id, customer_id)
