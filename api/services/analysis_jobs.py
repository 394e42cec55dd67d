"""Run the analysis (circles, influence, churn, tiers) as a background job.

The analysis itself is :func:`quanzi.api.services.analysis.run_analysis`; it is looked up
when a job is started, so this module works (and reports a clear 503) in builds without it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import asdict, is_dataclass
from typing import Any, cast

from quanzi.api.errors import ServiceUnavailableError
from quanzi.api.services.jobs import Job, JobContext, JobManager
from quanzi.graph.store import GraphStore
from quanzi.settings import Settings

__all__ = ["start_analysis_job"]

_RunAnalysis = Callable[..., Any]


def _run_analysis() -> _RunAnalysis:
    try:
        module = importlib.import_module("quanzi.api.services.analysis")
    except ImportError:
        module = None
    run = getattr(module, "run_analysis", None)
    if run is None:
        raise ServiceUnavailableError(
            "The analysis is not part of this build of Quanzi (quanzi.api.services.analysis "
            "is missing); run `quanzi analyse` where it is installed"
        )
    return cast(_RunAnalysis, run)


def _plain(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return {str(k): v for k, v in value.items()}
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    return {"summary": str(value)} if value is not None else {}


def start_analysis_job(
    jobs: JobManager, store: GraphStore, settings: Settings, *, owner: str
) -> Job:
    """Queue a full analysis run; its result is what ``run_analysis`` returns, as data."""
    run = _run_analysis()

    def work(context: JobContext) -> tuple[dict[str, Any], int]:
        return _plain(run(store, settings, progress=context.progress)), 0

    return jobs.submit("analysis", work, owner=owner, params={})
