"""Circles and influence parts computed on a Neo4j server by its Graph Data Science plugin.

``quanzi analyze`` builds the customer tie graph in process (direct ties plus the ties
projected from shared groups, interests and employees: ``build_tie_graph``). When the store
is a Neo4j with the GDS plugin, the ``graphdatascience`` client is installed
(``pip install "quanzi[gds]"``) and ``QUANZI_GDS`` is ``auto`` (the default), that same
graph is sent to the server as an in-memory GDS graph (``gds.graph.construct``) and the
server runs Leiden (the top-level circles), PageRank, sampled betweenness (brokerage) and
k-core decomposition (core depth). The circles inside large circles, referral reach, churn,
the lifecycle and the write-back stay in process, so every result has the same meaning on
either path. Where the plugin or the client is missing, :func:`server_algorithms` says why
and returns no runner; where a GDS call fails, :meth:`ServerAlgorithms.run` raises
:class:`~quanzi.errors.StoreError`; either way the analysis runs in process.

Tested against the bundled ArcadeDB, which has no GDS (the probe and the fallback). Not
tested against a real GDS server: none can run on the project's machines
(docs/algorithms.md, "Neo4j Graph Data Science").
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

import igraph as ig
import numpy as np
import numpy.typing as npt
import pandas as pd

from quanzi.algorithms._matrix import edge_array, edge_weights
from quanzi.errors import StoreError
from quanzi.graph import queries as q
from quanzi.graph.store import GraphStore
from quanzi.settings import Settings

if TYPE_CHECKING:
    from graphdatascience import GraphDataScience

__all__ = ["ServerAlgorithms", "ServerResults", "server_algorithms"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

#: The relationship type of the tie graph sent to GDS (undirected).
TIE = "TIE"


@dataclass(frozen=True)
class ServerResults:
    """What the server computed, one value per vertex in the tie graph's order."""

    #: The GDS library's version on the server.
    version: str
    #: Top-level circle label of each vertex (GDS's community ids, not renumbered).
    membership: IntArray
    #: ``pagerank`` (summing to 1, as in process), ``brokerage`` (betweenness over the
    #: number of vertex pairs) and ``core`` (k-core depth).
    parts: dict[str, FloatArray]


def _by_node(frame: pd.DataFrame, column: str, n: int) -> FloatArray:
    """A stream result's ``column`` in vertex order (the graph was built with node ids 0..n-1)."""
    values = np.zeros(n, dtype=np.float64)
    values[frame["nodeId"].to_numpy(dtype=np.int64)] = frame[column].to_numpy(dtype=np.float64)
    return values


class ServerAlgorithms:
    """Runs the analysis's graph algorithms on a Neo4j server with GDS (see the module)."""

    def __init__(self, store: GraphStore, version: str) -> None:
        self.store = store
        self.version = version

    def _client(self) -> GraphDataScience:
        from graphdatascience import GraphDataScience

        # The store's own driver: the client does not close a driver it was given. Bolt
        # for everything (no Arrow): nothing here needs GDS Enterprise.
        return GraphDataScience(
            self.store.driver, database=self.store.database, arrow=False, show_progress=False
        )

    def run(
        self,
        g: ig.Graph,
        *,
        sampling_size: int,
        weight: str = "weight",
        seed: int = 0,
        damping: float = 0.85,
    ) -> ServerResults:
        """Send ``g`` (undirected, weighted by ``weight``) to the server, run Leiden,
        PageRank, sampled betweenness and k-core there, drop the server's copy.

        Leiden runs on one thread with ``seed`` so that a seed gives the same circles;
        betweenness samples ``sampling_size`` sources (all of them when it is ``n`` or
        more; the analysis passes as many as the in-process brokerage would sample,
        :func:`~quanzi.algorithms.influence.brokerage_sample_size`).

        Raises
        ------
        StoreError
            When the client or a GDS procedure fails; nothing is written to the store.
        """
        n = g.vcount()
        edges = edge_array(g)
        nodes = pd.DataFrame({"nodeId": np.arange(n, dtype=np.int64)})
        ties = pd.DataFrame(
            {
                "sourceNodeId": edges[:, 0],
                "targetNodeId": edges[:, 1],
                "relationshipType": TIE,
                "weight": edge_weights(g, weight),
            }
        )
        name = f"quanzi-analysis-{uuid.uuid4().hex}"
        try:
            gds = self._client()
            graph = gds.graph.construct(name, nodes, ties, undirected_relationship_types=[TIE])
            try:
                circles = gds.leiden.stream(
                    graph,
                    relationship_weight_property="weight",
                    random_seed=seed,
                    concurrency=1,
                )
                ranks = gds.page_rank.stream(
                    graph, relationship_weight_property="weight", damping_factor=damping
                )
                sampled = sampling_size < n
                between = gds.betweenness.stream(
                    graph,
                    sampling_size=sampling_size if sampled else None,
                    sampling_seed=seed if sampled else None,
                )
                cores = gds.kcore.stream(graph)
            finally:
                gds.graph.drop(name, fail_if_missing=False)
        except Exception as e:  # the client's and the server's errors alike
            detail = " ".join(str(e).split())[:300]
            raise StoreError(
                f"Neo4j Graph Data Science {self.version} failed during the analysis "
                f"({type(e).__name__}: {detail}); set QUANZI_GDS=off to compute in process"
            ) from e
        pagerank = _by_node(ranks, "score", n)
        total = pagerank.sum()
        pairs = (n - 1) * (n - 2) / 2.0
        return ServerResults(
            version=self.version,
            membership=_by_node(circles, "communityId", n).astype(np.int64),
            parts={
                "pagerank": pagerank / total if total > 0 else pagerank,
                "brokerage": _by_node(between, "score", n) / pairs if pairs > 0 else np.zeros(n),
                "core": _by_node(cores, "coreValue", n),
            },
        )


def server_algorithms(store: GraphStore, settings: Settings) -> tuple[ServerAlgorithms | None, str]:
    """A runner for GDS on the store's server, or None; and a line saying which and why.

    Asks the server for ``gds.version()``: the bundled ArcadeDB and a Neo4j without the
    plugin answer with an error, and the analysis runs in process.
    """
    if settings.gds == "off":
        return None, "in process (QUANZI_GDS=off)"
    try:
        rows = store.read(q.GDS_VERSION, "asking for the Graph Data Science version")
    except StoreError:
        return None, "in process (no Graph Data Science plugin on the store)"
    version = str(rows[0]["version"]) if rows else "?"
    try:
        import graphdatascience  # noqa: F401
    except ImportError:
        return None, (
            f"in process (the store has Graph Data Science {version}, but the "
            "graphdatascience client is not installed: pip install 'quanzi[gds]')"
        )
    return ServerAlgorithms(store, version), f"Neo4j Graph Data Science {version} on the server"
