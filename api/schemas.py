"""Request and response schemas of the HTTP API, one family per resource.

Request models validate input (a violation becomes a 422 naming the field); response models
document what comes back. Services build the response models; routers only pass them on.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from quanzi.ingest.readers import EVENT_TYPES
from quanzi.settings import Role

__all__ = [
    "ApiKeyCreate",
    "ApiKeyCreated",
    "ApiKeyPublic",
    "AtRiskCustomer",
    "AtRiskPage",
    "AuditEntryPublic",
    "AuditPage",
    "CampaignCreate",
    "CampaignPublic",
    "ChurnAlert",
    "ChurnAlertPage",
    "CirclePage",
    "CirclePublic",
    "CircleUpdate",
    "CircleWithMembers",
    "ContactRecord",
    "ContactsIngest",
    "Customer360",
    "CustomerFilter",
    "CustomerPage",
    "CustomerProfile",
    "CustomerQuery",
    "CustomerSort",
    "CustomerSummary",
    "ErasureReport",
    "ErasureRequest",
    "EventRecord",
    "EventsIngest",
    "FunnelReport",
    "FunnelStep",
    "HealthPublic",
    "IdentityPublic",
    "Influencer",
    "InfluencerList",
    "IngestReportPublic",
    "InvitationCreate",
    "InvitationPublic",
    "InviteCodePublic",
    "InviteCodeRequest",
    "JobPublic",
    "Leaderboard",
    "LeaderboardEntry",
    "LinkExplanationPublic",
    "LinkStepPublic",
    "LookalikePublic",
    "LookalikeRequest",
    "LookalikeResult",
    "LookalikeWeightsPublic",
    "LookalikeWeightsUpdate",
    "MergeRequest",
    "MergeResult",
    "Problem",
    "ReachPublic",
    "RejectPublic",
    "Score",
    "SegmentCreate",
    "SegmentFilter",
    "SegmentPublic",
    "SplitRequest",
    "SplitResult",
    "TagAssignment",
    "TagAssignmentResult",
    "TagCreate",
    "TagGroupCreate",
    "TagGroupPublic",
    "TagPublic",
    "TagStats",
    "TierReport",
    "TimelineEvent",
    "iso",
]

_NAME = r"^[^\x00-\x1f\x7f]+$"  # printable: no control characters
_ID = r"^[^\x00-\x1f\x7f]{1,200}$"


def iso(value: datetime) -> str:
    """A datetime as the store's ISO 8601 UTC text (naive values are taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- errors ------------------------------------------------------------------------------------
class RequestBody(BaseModel):
    """A request body: a field it does not know is a 422 naming it, not silently dropped (a
    typo in a lookalike weight would otherwise reset that weight to its default)."""

    model_config = ConfigDict(extra="forbid")


class FieldProblem(BaseModel):
    """One invalid field."""

    field: str = Field(examples=["query.limit"])
    message: str = Field(examples=["Input should be less than or equal to 200"])


class Problem(BaseModel):
    """An error (RFC 9457 ``application/problem+json``)."""

    type: str = "about:blank"
    title: str = Field(examples=["Not found"])
    status: int = Field(examples=[404])
    detail: str = Field(examples=["No customer with id 'cus_123'"])
    errors: list[FieldProblem] | None = None


# -- health ------------------------------------------------------------------------------------
class HealthPublic(BaseModel):
    """Service health."""

    status: str = Field(examples=["ok"])
    store: str = Field(description="`up` or `down`.", examples=["up"])
    store_kind: str = Field(examples=["bundled"])
    latency_ms: float | None = Field(default=None, description="Round trip of a trivial query.")
    schema_version: int | None = None
    counts: dict[str, int] = Field(
        default_factory=dict,
        description="Nodes per label and relations per type.",
        examples=[{"Customer": 2000, "Identity": 5200, "INTERACTS_WITH": 9100}],
    )
    detail: str | None = None


# -- customers ---------------------------------------------------------------------------------
class CustomerSort(StrEnum):
    """Sort orders of customer lists; a leading ``-`` sorts descending. Ties break by id."""

    ID = "id"
    NAME = "name"
    NAME_DESC = "-name"
    FIRST_SEEN = "first_seen"
    FIRST_SEEN_DESC = "-first_seen"
    LAST_ACTIVE = "last_active_at"
    LAST_ACTIVE_DESC = "-last_active_at"
    CHURN_RISK = "churn_risk"
    CHURN_RISK_DESC = "-churn_risk"
    INFLUENCE = "influence"
    INFLUENCE_DESC = "-influence"
    PAGERANK_DESC = "-pagerank"
    TOTAL_SPENT = "total_spent"
    TOTAL_SPENT_DESC = "-total_spent"


class SegmentFilter(BaseModel):
    """Which customers: every condition given must hold. Used by segments and bulk actions.

    Personal identifiers (name, phone, e-mail) are not allowed here, so saved segments never
    hold personal data; search with :class:`CustomerFilter` for those.
    """

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"tier": "loyal", "churn_risk_min": 0.6}]}
    )

    tag: str | None = Field(default=None, max_length=200, description="Tag id.", examples=["VIP"])
    tier: str | None = Field(
        default=None, max_length=50, description="Tier scored by the analysis.", examples=["loyal"]
    )
    recorded_tier: str | None = Field(
        default=None,
        max_length=50,
        description="Tier recorded by the source system.",
        examples=["gold"],
    )
    funnel_stage: str | None = Field(default=None, max_length=50, examples=["intention"])
    circle: str | None = Field(default=None, max_length=200, description="Circle id.")
    channel: str | None = Field(
        default=None, max_length=50, description="Source channel.", examples=["wechat"]
    )
    employee: str | None = Field(
        default=None,
        max_length=200,
        description="Served (actively) by this employee id.",
        examples=["E0001"],
    )
    group: str | None = Field(
        default=None, max_length=200, description="Active member of this group id."
    )
    interest: str | None = Field(default=None, max_length=200, examples=["hiking"])
    churn_risk_min: float | None = Field(default=None, ge=0.0, le=1.0)
    churn_risk_max: float | None = Field(default=None, ge=0.0, le=1.0)
    influence_min: float | None = Field(default=None, ge=0.0)
    created_from: datetime | None = Field(default=None, description="First seen at or after.")
    created_to: datetime | None = Field(default=None, description="First seen before.")
    active_from: datetime | None = Field(default=None, description="Last active at or after.")
    active_to: datetime | None = Field(default=None, description="Last active before.")
    mine: bool = Field(
        default=False, description="Only the customers of the employee bound to the caller's key."
    )


class CustomerFilter(SegmentFilter):
    """Search conditions over customers (all given must hold)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "zhang", "tier": "loyal", "channel": "wechat"}]}
    )

    name: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="Part of the name, in Chinese characters or Latin letters (any case).",
        examples=["zhang"],
    )
    phone: str | None = Field(
        default=None,
        min_length=3,
        max_length=40,
        description="A phone number in any common format; numbers without a country code are "
        "read in QUANZI_DEFAULT_PHONE_REGION.",
        examples=["138 0013 8000"],
    )
    email: str | None = Field(
        default=None, min_length=3, max_length=200, examples=["li.na@example.com"]
    )


class CustomerQuery(CustomerFilter):
    """Query parameters of a customer search: conditions, order and page."""

    sort: CustomerSort = Field(
        default=CustomerSort.NAME, description="Order; a leading `-` sorts descending."
    )
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(
        default=None, max_length=2000, description="`next_cursor` of the previous page."
    )
    include_total: bool = Field(default=False, description="Also count all matches.")

    def conditions(self) -> CustomerFilter:
        """The search conditions alone."""
        return CustomerFilter.model_validate(
            self.model_dump(include=set(CustomerFilter.model_fields), exclude_none=True)
        )


class CustomerSummary(BaseModel):
    """A customer in a list. Phones and e-mails are masked unless the caller may see them."""

    id: str = Field(examples=["cus_0086b59e2e8f35d6"])
    name: str | None = Field(default=None, examples=["赵杰海"])
    name_latin: str | None = Field(default=None, examples=["jiehai zhao"])
    channels: list[str] = Field(default_factory=list, examples=[["phone", "wechat"]])
    tier: str | None = Field(default=None, description="Tier scored by the analysis.")
    recorded_tier: str | None = Field(
        default=None, description="Tier recorded by the source system."
    )
    funnel_stage: str | None = None
    churn_risk: float | None = None
    influence: float | None = None
    pagerank: float | None = None
    circle_id: str | None = None
    first_seen: str | None = None
    last_active_at: str | None = None
    order_count: int | None = None
    total_spent: float | None = None
    phones: list[str] = Field(default_factory=list, examples=[["+86 138****8000"]])
    emails: list[str] = Field(default_factory=list, examples=[["z***@example.com"]])
    masked: bool = Field(default=True, description="Whether personal identifiers are masked.")


class CustomerPage(BaseModel):
    """One page of customers."""

    items: list[CustomerSummary]
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` to get the next page; absent on the last page."
    )
    total: int | None = Field(
        default=None, description="All matches (only with `include_total=true`)."
    )


class CustomerProfile(CustomerSummary):
    """The customer's own properties."""

    gender: str | None = None
    birth_date: str | None = None
    city: str | None = None
    company: str | None = None
    record_count: int | None = None
    merged_ids: list[str] = Field(
        default_factory=list, description="Ids of customers merged into this one."
    )
    other: dict[str, Any] = Field(
        default_factory=dict, description="Further properties (analysis results, attributes)."
    )


class IdentityPublic(BaseModel):
    """One identity of a customer: a channel key (phone, e-mail, WeChat id) or a source record."""

    id: str = Field(examples=["phone:+86 138****8000"])
    kind: str = Field(description="`record`, or the key kind (`phone`, `email`, ...).")
    channel: str = Field(examples=["wechat"])
    key: str | None = None
    rule: str | None = Field(default=None, description="How it was linked to the customer.")
    evidence: dict[str, Any] = Field(default_factory=dict)
    properties: dict[str, Any] = Field(
        default_factory=dict, description="What the source record holds (masked as needed)."
    )


class Score(BaseModel):
    """A score or label computed for the customer, with its explanation where there is one."""

    name: str = Field(examples=["churn_risk"])
    value: float | int | str | bool | None = Field(examples=[0.82])
    explanation: list[Any] = Field(
        default_factory=list, examples=[["deleted employee E0003 12 days ago"]]
    )


class TimelineEvent(BaseModel):
    """Something that happened to the customer."""

    at: str = Field(examples=["2024-02-06T06:21:05Z"])
    kind: str = Field(examples=["order"])
    summary: str = Field(examples=["order O000000053: 629.30"])
    ref: str | None = Field(default=None, description="Id of the related node, if any.")


class Customer360(BaseModel):
    """Everything known about one customer."""

    customer: CustomerProfile
    identities: dict[str, list[IdentityPublic]] = Field(
        description="Identities by channel (`phone`, `email`, `wechat`, ...)."
    )
    employees: list[dict[str, Any]] = Field(
        description="Employees serving (or who served) the customer."
    )
    groups: list[dict[str, Any]]
    circles: list[dict[str, Any]]
    tags: list[dict[str, Any]]
    interests: list[dict[str, Any]]
    scores: list[Score]
    referrals: dict[str, list[dict[str, Any]]] = Field(
        description="`referred_by`, `referred` and `campaigns`."
    )
    orders: dict[str, Any] = Field(description="Count, total and the latest orders.")
    contacts: dict[str, Any] = Field(description="How many contacts, and the strongest ties.")
    timeline: list[TimelineEvent]


# -- identity and ingest -----------------------------------------------------------------------
class ContactRecord(BaseModel):
    """One contact record, as in ``contacts.csv`` (see docs/input-formats.md).

    Fields not listed are kept as attributes of the record.
    """

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "source": "crm",
                    "source_record_id": "A-1001",
                    "full_name": "张伟",
                    "phone": "138 0013 8000",
                    "email": "zhang.wei@example.com",
                    "created_at": "2024-05-01T10:00:00Z",
                }
            ]
        },
    )

    source: str = Field(min_length=1, max_length=100, pattern=_NAME)
    source_record_id: str = Field(min_length=1, max_length=200, pattern=_NAME)
    full_name: str | None = None
    given_name: str | None = None
    surname: str | None = None
    phone: str | None = None
    email: str | None = None
    wechat_unionid: str | None = None
    wechat_openid: str | None = None
    id_number: str | None = None
    birth_date: str | None = None
    street: str | None = None
    city: str | None = None
    state: str | None = None
    postcode: str | None = None
    gender: str | None = None
    company: str | None = None
    created_at: str | None = None
    tags: list[str] | str | None = None


class ContactsIngest(RequestBody):
    """Contact records to resolve and load now (up to 5,000; upload files for more)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "records": [
                        {
                            "source": "crm",
                            "source_record_id": "A-1001",
                            "full_name": "张伟",
                            "phone": "138 0013 8000",
                            "created_at": "2024-05-01T10:00:00Z",
                        },
                        {
                            "source": "wechat",
                            "source_record_id": "WX-77",
                            "full_name": "張偉",
                            "phone": "+86 138 0013 8000",
                            "wechat_unionid": "oqu_pP-1fJLus8cVkT4JdaSAZqww",
                        },
                    ]
                }
            ]
        }
    )

    records: list[ContactRecord] = Field(min_length=1, max_length=5000)


class EventRecord(BaseModel):
    """One event: its ``type`` and ``time`` are checked before the job is queued; the other
    fields (by type, docs/input-formats.md) when it runs, a bad row becoming a reject."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(examples=["interaction"])
    time: str | int | float = Field(examples=["2024-05-02T09:00:00Z"])

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value not in EVENT_TYPES:
            raise ValueError(f"{value!r} is not an event type; use one of {sorted(EVENT_TYPES)}")
        return value


class EventsIngest(RequestBody):
    """Events as in ``events.jsonl`` (see docs/input-formats.md), loaded as a background job."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "events": [
                        {
                            "type": "employee_added",
                            "time": "2024-05-02T09:00:00Z",
                            "customer": "crm:A-1001",
                            "employee_id": "E0001",
                        }
                    ]
                }
            ]
        }
    )

    events: list[EventRecord] = Field(min_length=1, max_length=100_000)


class RejectPublic(BaseModel):
    """One input row that was not loaded, and why."""

    file: str = Field(examples=["<api>"])
    row: int = Field(examples=[3])
    field: str = Field(examples=["phone"])
    reason: str = Field(examples=["'12' is not a possible phone number in region CN"])


class IngestReportPublic(BaseModel):
    """What an ingest run did."""

    ok: bool = Field(description="Whether every row was loaded.")
    counts: dict[str, int] = Field(examples=[{"contacts_read": 2, "customers_created": 1}])
    rejects: list[RejectPublic] = Field(description="At most 1,000 shown.")
    rejects_total: int
    dropped_fields: list[RejectPublic] = Field(default_factory=list)
    timings: dict[str, float] = Field(default_factory=dict)
    skipped_files: list[str] = Field(default_factory=list)


class JobPublic(BaseModel):
    """A long operation running in the background."""

    id: str = Field(examples=["job_5f2c1a9e7b3d"])
    kind: str = Field(examples=["ingest"])
    status: Literal["queued", "running", "succeeded", "failed", "interrupted"]
    step: str | None = Field(default=None, examples=["load customers"])
    done: int | None = None
    total: int | None = None
    created_at: str
    started_at: str | None = None
    finished_at: str | None = None
    owner: str = Field(description="Id of the key that started it.")
    params: dict[str, Any] = Field(default_factory=dict)
    result: dict[str, Any] = Field(default_factory=dict)
    rejects: int = Field(default=0, description="Rows rejected; details at `rejects_url` (CSV).")
    rejects_url: str | None = None
    error: str | None = None


class LinkStepPublic(BaseModel):
    """One link on the chain that joins two identities."""

    left: str = Field(examples=["record:wechat:WX00000116"])
    right: str = Field(examples=["record:phone:CC00000076"])
    rule: str = Field(examples=["same phone and name"])
    match_weight: float | None = None
    match_probability: float | None = Field(default=None, examples=[0.998])
    agreed: list[str] = Field(default_factory=list, examples=[["phone", "name_latin"]])


class LinkExplanationPublic(BaseModel):
    """Why two identities are (or are not) one customer."""

    same_customer: bool
    customers: list[str] = Field(description="The customer holding each identity.")
    path: list[LinkStepPublic]


class MergeRequest(RequestBody):
    """Merge two customers (the one seen first survives)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"customer_ids": ["cus_1a2b", "cus_9f8e"], "reason": "same person, called"}
            ]
        }
    )

    customer_ids: list[str] = Field(min_length=2, max_length=2)
    reason: str = Field(default="manual merge", min_length=1, max_length=500)


class MergeResult(BaseModel):
    """The outcome of a merge."""

    survivor_id: str
    merged_id: str = Field(description="Now redirects to the survivor.")


class SplitRequest(RequestBody):
    """Split one source record off its customer into a customer of its own."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"identity": "store:ST00000042"}]})

    identity: str = Field(
        min_length=3,
        max_length=300,
        description="`record:<source>:<source_record_id>` or `<source>:<source_record_id>`.",
    )
    reason: str | None = Field(default=None, max_length=500)


class SplitResult(BaseModel):
    """The outcome of a split."""

    identity: str
    customer_id: str = Field(description="The customer the record was split off.")
    new_customer_id: str


# -- circles and influence ---------------------------------------------------------------------
class CirclePublic(BaseModel):
    """A detected circle (community) with its statistics."""

    id: str = Field(examples=["circle_0007"])
    name: str | None = Field(default=None, description="Given by a person (PATCH).")
    auto_name: str | None = Field(
        default=None, description="Named by the analysis from what members share."
    )
    note: str | None = None
    kind: str | None = Field(default=None, examples=["colleague"])
    level: int | None = Field(
        default=None,
        description="0: a top-level circle (every customer is in exactly one); 1: a sub-circle "
        "of a top-level circle that split (``parent_id``). A circle that did not split is "
        "listed at level 0 only.",
    )
    parent_id: str | None = None
    sub_circles: int | None = Field(
        default=None,
        description="How many sub-circles the analysis split this circle into (0: none).",
    )
    size: int | None = Field(default=None, description="Size recorded by the analysis.")
    members: int = Field(
        description="Members now linked by IN_CIRCLE (with live=false: at the last analysis)."
    )
    leaders: list[str] = Field(default_factory=list)
    leader_names: dict[str, str] = Field(
        default_factory=dict,
        description="The leaders' names by id (those that have one), for lists of circles.",
        examples=[{"cus_1a2b3c4d5e6f7a8b": "王芳"}],
    )
    churn_risk_mean: float | None = None
    tier_mix: dict[str, int] = Field(default_factory=dict, examples=[{"loyal": 4, "general": 9}])
    other: dict[str, Any] = Field(default_factory=dict)


class CirclePage(BaseModel):
    """One page of circles, largest first."""

    items: list[CirclePublic]
    next_cursor: str | None = None


class CircleWithMembers(BaseModel):
    """A circle, its leaders and the first page of its members."""

    circle: CirclePublic
    leaders: list[CustomerSummary]
    members: CustomerPage


class CircleUpdate(RequestBody):
    """Rename or annotate a circle (at least one field)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "上海徒步圈", "note": "hiking weekend group"}]}
    )

    name: str | None = Field(default=None, min_length=1, max_length=100, pattern=_NAME)
    note: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _something(self) -> CircleUpdate:
        if self.name is None and self.note is None:
            raise ValueError("give a name, a note, or both")
        return self


class Influencer(BaseModel):
    """One influencer."""

    rank: int = Field(examples=[1])
    score: float = Field(examples=[0.93])
    customer: CustomerSummary


class InfluencerList(BaseModel):
    """Top influencers in a scope."""

    by: str = Field(examples=["influence"])
    scope: dict[str, str] = Field(examples=[{"circle": "circle_0007"}])
    items: list[Influencer]


class LookalikeRequest(RequestBody):
    """Seeds (ids or a filter), who may be returned, and how many."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "seeds": ["cus_0086b59e2e8f35d6", "cus_00b6646148013a09"],
                    "candidate_filter": {"funnel_stage": "intention"},
                    "k": 50,
                }
            ]
        }
    )

    seeds: list[str] | None = Field(default=None, min_length=1, max_length=1000)
    seed_filter: SegmentFilter | None = Field(
        default=None, description="Seeds by filter instead of ids (the first 1,000 matches)."
    )
    candidate_filter: SegmentFilter | None = Field(
        default=None, description="Who may be returned; everyone but the seeds when left out."
    )
    k: int = Field(default=50, ge=1, le=500)
    max_reasons: int = Field(default=4, ge=1, le=10)
    thorough: bool = Field(
        default=False,
        description="Re-rank by each prospect's probability of being in the seeds' community "
        "under a block model of the whole graph (the score is then that probability, also the "
        "part `community` and the first reason). Finds more of a sparse, noisy circle "
        "(precision@50 0.78 -> 0.90 on a held-out test graph) but reads the whole graph: "
        "about 0.15 s at 10k customers and 1.5-2 s at 100k, against milliseconds.",
    )

    @model_validator(mode="after")
    def _one_kind_of_seeds(self) -> LookalikeRequest:
        if (self.seeds is None) == (self.seed_filter is None):
            raise ValueError("give exactly one of seeds (ids) or seed_filter")
        return self


_WEIGHT = Field(default=None, ge=0, le=100, allow_inf_nan=False)
#: The example both lookalike weight schemas show (a saved setting's weights and note).
_WEIGHTS_EXAMPLE: dict[str, Any] = {
    "proximity": 0.5,
    "adamic_adar": 0.2,
    "embedding": 0.1,
    "attributes": 0.2,
    "note": "precision@50 0.81 vs 0.78 on the spring campaign's buyers",
}


class LookalikeWeightsUpdate(RequestBody):
    """New part weights for every later lookalike search; a part left out takes its default
    (proximity 0.4, adamic_adar 0.2, embedding 0.2, attributes 0.2, profile 0.1). A weight
    of 0 leaves that part out; they need not sum to 1 (a search divides by their sum)."""

    model_config = ConfigDict(json_schema_extra={"examples": [_WEIGHTS_EXAMPLE]})

    proximity: float | None = _WEIGHT
    adamic_adar: float | None = _WEIGHT
    embedding: float | None = _WEIGHT
    attributes: float | None = _WEIGHT
    profile: float | None = _WEIGHT
    note: str = Field(default="", max_length=2000, description="Why (e.g. the evaluation).")


class LookalikeWeightsPublic(BaseModel):
    """The part weights lookalike searches use now, and who saved them when."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **_WEIGHTS_EXAMPLE,
                    "profile": 0.1,
                    "saved": True,
                    "updated_at": "2026-11-23T09:30:00Z",
                    "updated_by": "key:admin-ops",
                }
            ]
        }
    )

    proximity: float
    adamic_adar: float
    embedding: float
    attributes: float
    profile: float
    saved: bool = Field(description="False: no setting saved, these are the defaults.")
    updated_at: str | None = None
    updated_by: str | None = None
    note: str | None = None


class LookalikeReason(BaseModel):
    """Why a prospect looks like the seeds."""

    kind: str = Field(examples=["mutual_contacts"])
    text: str = Field(examples=["shares 5 contacts with the seeds"])
    evidence: list[str] = Field(default_factory=list)
    strength: float


class LookalikePublic(BaseModel):
    """One ranked prospect."""

    rank: int
    score: float = Field(description="In [0, 1].")
    parts: dict[str, float] = Field(examples=[{"proximity": 1.0, "attributes": 0.4}])
    reasons: list[LookalikeReason]
    customer: CustomerSummary


class LookalikeResult(BaseModel):
    """Ranked prospects."""

    seeds: list[str] = Field(description="Seeds used (merged ids resolved).")
    items: list[LookalikePublic]


class AtRiskCustomer(BaseModel):
    """A customer at risk of churning, with reasons."""

    churn_risk: float
    reasons: list[Any] = Field(default_factory=list)
    customer: CustomerSummary


class AtRiskPage(BaseModel):
    """One page of customers at risk, riskiest first."""

    items: list[AtRiskCustomer]
    next_cursor: str | None = None


class ChurnRiskBin(BaseModel):
    """Customers whose churn risk is in ``[low, high)`` (the last bin includes 1.0)."""

    low: float = Field(examples=[0.5])
    high: float = Field(examples=[0.6])
    customers: int = Field(examples=[1234])


class ChurnDistribution(BaseModel):
    """How churn risk is spread over the scored customers, in ten bins of 0.1."""

    scored: int = Field(description="Customers with a churn risk.")
    bins: list[ChurnRiskBin]


class ChurnAlert(BaseModel):
    """A customer deleted an employee: a strong churn signal."""

    employee_id: str
    employee_name: str | None = None
    added_at: str | None = None
    deleted_at: str
    customer: CustomerSummary


class ChurnAlertPage(BaseModel):
    """Alerts, newest first."""

    items: list[ChurnAlert]
    next_cursor: str | None = None


class FunnelStep(BaseModel):
    """Conversion from one stage (or tier) to the next."""

    from_stage: str = Field(examples=["intention"])
    to_stage: str = Field(examples=["meeting"])
    reached: int = Field(description="Customers who reached `from_stage` or beyond.")
    converted: int = Field(description="Of those, how many reached `to_stage` or beyond.")
    rate: float | None = Field(default=None, description="`converted / reached`.")


class FunnelReport(BaseModel):
    """Funnel stages reached in a period and the conversion between them."""

    start: str
    end: str
    reached: dict[str, int] = Field(examples=[{"first_contact": 120, "intention": 60}])
    steps: list[FunnelStep]
    current: dict[str, int] = Field(description="Customers per current stage (all time).")


class TierReport(BaseModel):
    """Tiers now and tier changes in a period."""

    start: str
    end: str
    tiers: dict[str, int] = Field(description="Customers per tier scored by the analysis.")
    recorded_tiers: dict[str, int] = Field(description="Customers per tier the source recorded.")
    changes: dict[str, int] = Field(
        description="Customers reaching each recorded tier in the period."
    )
    steps: list[FunnelStep]
    scored_changes: dict[str, int] = Field(
        default_factory=dict,
        description="Customers entering each scored tier in the period (from `quanzi analyze`'s "
        "tier history; tiers can also go down, e.g. loyal -> general after a year without "
        "orders).",
    )
    scored_steps: list[FunnelStep] = Field(
        default_factory=list,
        description="Conversion between consecutive scored tiers in the period (potential -> "
        "general -> loyal -> member): of those who reached a tier or beyond, how many reached "
        "the next or beyond.",
    )


# -- tags ----------------------------------------------------------------------------------------
class TagCreate(RequestBody):
    """A new tag."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "wine-lover", "group": "interests"}]}
    )

    name: str = Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f:/]+$")
    group: str | None = Field(default=None, max_length=64, description="Tag group name.")
    description: str | None = Field(default=None, max_length=500)


class TagPublic(BaseModel):
    """A tag and how many customers carry it."""

    id: str = Field(examples=["VIP"])
    name: str
    group: str | None = None
    description: str | None = None
    customers: int = 0


class TagGroupCreate(RequestBody):
    """A group of tags; in an exclusive group a customer carries at most one of its tags."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "value", "exclusive": True}]}
    )

    name: str = Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f:/]+$")
    description: str | None = Field(default=None, max_length=500)
    exclusive: bool = False


class TagGroupPublic(BaseModel):
    """A tag group with its tags."""

    name: str
    description: str | None = None
    exclusive: bool = False
    tags: list[str] = Field(default_factory=list)
    customers: int = Field(default=0, description="Tag assignments in the group.")


class TagAssignment(RequestBody):
    """Customers to tag or untag: ids, or every customer matching a filter."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"filter": {"circle": "circle_0007"}}]}
    )

    customer_ids: list[str] | None = Field(default=None, min_length=1, max_length=10_000)
    filter: SegmentFilter | None = None

    @model_validator(mode="after")
    def _one(self) -> TagAssignment:
        if (self.customer_ids is None) == (self.filter is None):
            raise ValueError("give exactly one of customer_ids or filter")
        return self


class TagAssignmentResult(BaseModel):
    """What a bulk tag or untag did."""

    tag: str
    matched: int = Field(description="Customers selected.")
    changed: int = Field(description="Customers whose tags changed.")


class TagStats(BaseModel):
    """Tags and tag groups with customer counts."""

    tags: list[TagPublic]
    groups: list[TagGroupPublic]


# -- segments ------------------------------------------------------------------------------------
class SegmentCreate(RequestBody):
    """Save a filter as a named segment."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"name": "loyal at risk", "filter": {"tier": "loyal", "churn_risk_min": 0.6}}
            ]
        }
    )

    name: str = Field(min_length=1, max_length=100, pattern=_NAME)
    description: str | None = Field(default=None, max_length=1000)
    filter: SegmentFilter


class SegmentPublic(BaseModel):
    """A saved segment."""

    id: str = Field(examples=["seg_1a2b3c4d5e6f"])
    name: str
    description: str | None = None
    filter: SegmentFilter
    created_by: str
    created_at: str
    customers: int | None = Field(default=None, description="Customers matching now.")


# -- referral campaigns --------------------------------------------------------------------------
class CampaignCreate(RequestBody):
    """A new referral (fission) campaign."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "双11老带新 2025",
                    "start": "2025-11-01T00:00:00Z",
                    "end": "2025-11-30T23:59:59Z",
                }
            ]
        }
    )

    id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_-]{1,40}$",
        description="Chosen id; generated when left out.",
    )
    name: str = Field(min_length=1, max_length=100, pattern=_NAME)
    start: datetime
    end: datetime
    description: str | None = Field(default=None, max_length=1000)

    @model_validator(mode="after")
    def _ordered(self) -> CampaignCreate:
        if iso(self.end) <= iso(self.start):
            raise ValueError("end must be after start")
        return self


class CampaignPublic(BaseModel):
    """A campaign and its counts."""

    id: str = Field(examples=["C001"])
    name: str | None = None
    start: str | None = None
    end: str | None = None
    description: str | None = None
    participants: int = 0
    codes_issued: int = Field(default=0, description="Invite codes issued through Quanzi.")
    referrals: int = 0
    inviters: int = Field(
        default=0,
        description="Customers who invited at least one person (loaded referrals included, "
        "whose codes were issued elsewhere).",
    )


class InviteCodeRequest(RequestBody):
    """Issue (or look up) a customer's invite code."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"customer_id": "cus_0086b59e2e8f35d6"}]}
    )

    customer_id: str = Field(min_length=1, max_length=200, examples=["cus_0086b59e2e8f35d6"])


class InviteCodePublic(BaseModel):
    """A customer's invite code in a campaign."""

    campaign_id: str
    customer_id: str
    code: str = Field(examples=["R8PBTXFJ"])
    new: bool = Field(description="Whether this call issued it.")


class InvitationCreate(RequestBody):
    """Record that someone joined through an invite code."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"code": "R8PBTXFJ", "invitee_id": "cus_30fd5ba64bc7cc8d"}]}
    )

    code: str = Field(min_length=4, max_length=32, pattern=r"^[A-Za-z0-9]+$")
    invitee_id: str = Field(min_length=1, max_length=200)
    at: datetime | None = Field(default=None, description="When; now when left out.")


class InvitationPublic(BaseModel):
    """A recorded invitation."""

    campaign_id: str
    inviter_id: str
    invitee_id: str
    code: str
    at: str


class LeaderboardEntry(BaseModel):
    """An inviter and how far their invitations reached."""

    rank: int
    direct: int = Field(description="People invited directly.")
    reach: int = Field(description="People reached through any number of levels.")
    depth: int = Field(description="Longest invitation chain below them.")
    customer: CustomerSummary


class Leaderboard(BaseModel):
    """Top inviters of a campaign."""

    campaign_id: str
    items: list[LeaderboardEntry]


class ReachPublic(BaseModel):
    """How far one customer's invitations reached, level by level."""

    campaign_id: str
    customer_id: str
    levels: list[int] = Field(description="People reached at depth 1, 2, ...", examples=[[3, 5, 1]])
    total: int
    invited_by: str | None = None


# -- privacy -------------------------------------------------------------------------------------
class ErasureRequest(RequestBody):
    """Erase a person."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"customer_id": "cus_0086b59e2e8f35d6", "reason": "GDPR art. 17 request #881"}
            ]
        }
    )

    customer_id: str = Field(min_length=1, max_length=200)
    reason: str = Field(min_length=1, max_length=500, description="Kept in the audit trail.")


class ErasureReport(BaseModel):
    """What an erasure removed, and the check that nothing is left."""

    customer_id: str
    customer_ids: list[str] = Field(description="The customer and the ids merged into it.")
    erased: dict[str, int] = Field(
        examples=[
            {
                "customers": 2,
                "identities": 7,
                "shared_identity_links": 1,
                "orders": 3,
                "suppressed_keys": 7,
            }
        ],
        description="What went, by kind. `suppressed_keys`: the person's records and keys now "
        "remembered as keyed hashes, so that later ingests reject them.",
    )
    remaining: list[str] = Field(description="Anything still found afterwards (should be empty).")
    verified: bool
    at: str


class AuditEntryPublic(BaseModel):
    """One audited request."""

    at: str
    key_id: str
    role: str
    method: str
    route: str
    status: int
    path_params: dict[str, str] = Field(default_factory=dict)
    query: dict[str, str] = Field(default_factory=dict)
    action: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)


class AccessExport(BaseModel):
    """Everything Quanzi holds about one person (an access request), unmasked."""

    customer_id: str = Field(description="The person's customer id (the surviving one).")
    customer_ids: list[str] = Field(description="It and the ids merged into it.")
    generated_at: str
    customers: list[dict[str, Any]] = Field(
        description="Every property of the customer and of the customers merged into it "
        "(profile, lifecycle, funnel and tier history, scores and their reasons)."
    )
    scores: list[Score] = Field(description="The scores among them, with their explanation.")
    identities: list[dict[str, Any]] = Field(
        description="Source records (with every field read) and channel keys, each with "
        "the evidence of its link (`link`)."
    )
    orders: list[dict[str, Any]]
    relations: dict[str, list[dict[str, Any]]] = Field(
        description="Every other relation by type (`SERVED_BY`, `MEMBER_OF`, `TAGGED`, "
        "`INTERESTED_IN`, `IN_CIRCLE`, `IN_CAMPAIGN`, `INTERACTS_WITH`, `REFERRED`, ...): "
        "direction, the node at the other end (other people by id only) and the relation's "
        "properties."
    )
    audit: list[AuditEntryPublic] = Field(
        description="Audit entries naming the person's ids, newest first."
    )


class AuditPage(BaseModel):
    """Audit entries, newest first."""

    items: list[AuditEntryPublic]
    next_before: str | None = Field(default=None, description="Pass as `before` for older entries.")


# -- API keys ------------------------------------------------------------------------------------
class ApiKeyCreate(RequestBody):
    """A new API key."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"name": "Li Na (sales east)", "role": "sales", "employee_id": "E0002"}]
        }
    )

    name: str = Field(min_length=1, max_length=100, pattern=_NAME)
    role: Role
    employee_id: str | None = Field(
        default=None, min_length=1, max_length=200, description="Required for sales keys."
    )

    @model_validator(mode="after")
    def _sales_has_employee(self) -> ApiKeyCreate:
        if self.role == "sales" and self.employee_id is None:
            raise ValueError("a sales key must be bound to an employee: give employee_id")
        return self


class ApiKeyPublic(BaseModel):
    """An API key's record (never the key)."""

    id: str = Field(examples=["key_3f9a0c1b2d4e"])
    name: str
    role: Role
    source: str = Field(description="`settings` (QUANZI_API_KEYS) or `api`.")
    employee_id: str | None = None
    created_at: str | None = None
    created_by: str | None = None
    revoked_at: str | None = None
    active: bool


class ApiKeyCreated(ApiKeyPublic):
    """A new key: ``key`` is shown this once and cannot be recovered."""

    key: str = Field(examples=["qz_8Jx0..."])
