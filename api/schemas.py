"""Response and request schemas."""

from __future__ import annotations

from pydantic import BaseModel, Field

__all__ = ["HealthPublic"]


class HealthPublic(BaseModel):
    """Service health."""

    status: str = Field(examples=["ok"])
    store: str = Field(description="`up` or `down`.", examples=["up"])
    store_kind: str = Field(examples=["bundled"])
    latency_ms: float | None = Field(None, description="Round trip of a trivial query.")
    schema_version: int | None = None
    counts: dict[str, int] = Field(
        default_factory=dict,
        description="Nodes per label and relations per type.",
        examples=[{"Customer": 2000, "Identity": 5200, "INTERACTS_WITH": 9100}],
    )
    detail: str | None = None
