"""quanzi.ingest: readers, normalisation, identity resolution and loading into the graph.

Entry points: :func:`ingest_files` (files and folders), :func:`ingest_contacts` (records as
dicts, e.g. an API body), and the manual controls :func:`explain_link`,
:func:`merge_customers` and :func:`split_identity`. See ``docs/ingest.md``.
"""

from quanzi.ingest.evaluate import PairwiseScores, pairwise_scores
from quanzi.ingest.manual import (
    LinkExplanation,
    LinkStep,
    explain_link,
    merge_customers,
    split_identity,
)
from quanzi.ingest.pipeline import ingest_contacts, ingest_files
from quanzi.ingest.readers import ColumnMapping, load_mapping
from quanzi.ingest.report import IngestProgress, IngestReport, Reject

__all__ = [
    "ColumnMapping",
    "IngestProgress",
    "IngestReport",
    "LinkExplanation",
    "LinkStep",
    "PairwiseScores",
    "Reject",
    "explain_link",
    "ingest_contacts",
    "ingest_files",
    "load_mapping",
    "merge_customers",
    "pairwise_scores",
    "split_identity",
]
