"""``/segments``: save a filter as a segment, list its customers, export it as CSV."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from quanzi.api.deps import SalesDep, SettingsDep, StoreDep, ViewerDep
from quanzi.api.errors import PROBLEM_RESPONSES
from quanzi.api.observability import note
from quanzi.api.schemas import CustomerPage, CustomerSort, SegmentCreate, SegmentPublic
from quanzi.api.services.segments import SegmentBook

router = APIRouter(prefix="/segments", tags=["segments"], responses=PROBLEM_RESPONSES)

SegmentId = Annotated[str, Path(pattern=r"^seg_[0-9a-f]{12}$", examples=["seg_1a2b3c4d5e6f"])]


def _book(request: Request) -> SegmentBook:
    book: SegmentBook = request.app.state.segments
    return book


@router.get("", response_model=list[SegmentPublic], response_model_exclude_none=True)
def list_segments(
    request: Request,
    _: ViewerDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    after: Annotated[
        str | None, Query(max_length=100, description="Id of the last segment seen.")
    ] = None,
) -> list[SegmentPublic]:
    """Saved segments, newest first; for the next page pass the last id as `after`."""
    return _book(request).list(limit=limit, after=after)


@router.post(
    "",
    response_model=SegmentPublic,
    status_code=status.HTTP_201_CREATED,
    response_model_exclude_none=True,
)
def create_segment(request: Request, body: SegmentCreate, principal: SalesDep) -> SegmentPublic:
    """Save a filter as a segment. Segments hold filters, never lists of people."""
    return _book(request).create(body, actor=principal.actor)


@router.get("/{segment_id}", response_model=SegmentPublic, response_model_exclude_none=True)
def get_segment(
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    principal: ViewerDep,
    segment_id: SegmentId,
) -> SegmentPublic:
    """One segment, with how many customers match it now."""
    return _book(request).get(store, settings, principal, segment_id)


@router.delete("/{segment_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def delete_segment(request: Request, _: SalesDep, segment_id: SegmentId) -> Response:
    """Delete a segment."""
    _book(request).delete(segment_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{segment_id}/customers", response_model=CustomerPage)
def segment_customers(
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    principal: ViewerDep,
    segment_id: SegmentId,
    sort: CustomerSort = CustomerSort.NAME,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
) -> CustomerPage:
    """The segment's customers, one page at a time."""
    return _book(request).customers(
        store, settings, principal, segment_id, sort=sort.value, limit=limit, cursor=cursor
    )


@router.get(
    "/{segment_id}/export.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {"example": "id,name,name_latin,phones,...\n"}}}},
)
def export_segment(
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    principal: ViewerDep,
    segment_id: SegmentId,
) -> StreamingResponse:
    """The segment's customers as CSV (UTF-8), masked as for any list."""
    rows = _book(request).export_csv(store, settings, principal, segment_id)
    note(request.state, "segment_exported", segment_id=segment_id)
    return StreamingResponse(
        rows,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{segment_id}.csv"'},
    )
