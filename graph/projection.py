"""In-memory projections of the graph for algorithms: compact arrays plus an id mapping."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    import igraph as ig
    import networkx as nx
    import scipy.sparse as sp

__all__ = ["Projection"]


@dataclass(frozen=True)
class Projection:
    """A graph as edge arrays over vertices ``0..n-1``, with the store ids of the vertices.

    Attributes
    ----------
    ids : list of str
        ``ids[i]`` is the store ``id`` of vertex ``i``.
    src, dst : ndarray of int64
        Edge endpoints as vertex indexes.
    weight : ndarray of float64
        Edge weights (1.0 where the relation has no weight property).
    directed : bool
        Whether edges are directed.

    Examples
    --------
    >>> p = Projection.from_edges(["a", "b", "c"], [("a", "b", 2.0), ("b", "c", 1.0)])
    >>> g = p.to_igraph()
    >>> g.vcount(), g.ecount(), g.es["weight"]
    (3, 2, [2.0, 1.0])
    >>> float(p.to_scipy().toarray()[0, 1])
    2.0
    """

    ids: list[str]
    src: npt.NDArray[np.int64]
    dst: npt.NDArray[np.int64]
    weight: npt.NDArray[np.float64]
    directed: bool = False

    @classmethod
    def from_edges(
        cls,
        ids: list[str],
        edges: list[tuple[str, str, float]],
        *,
        directed: bool = False,
    ) -> Projection:
        """Build from vertex ids and ``(start_id, end_id, weight)`` triples."""
        index = {v: i for i, v in enumerate(ids)}
        src = np.fromiter((index[a] for a, _, _ in edges), dtype=np.int64, count=len(edges))
        dst = np.fromiter((index[b] for _, b, _ in edges), dtype=np.int64, count=len(edges))
        w = np.fromiter((float(x) for _, _, x in edges), dtype=np.float64, count=len(edges))
        return cls(list(ids), src, dst, w, directed)

    @property
    def vcount(self) -> int:
        """Number of vertices."""
        return len(self.ids)

    @property
    def ecount(self) -> int:
        """Number of edges."""
        return int(self.src.shape[0])

    def index(self) -> dict[str, int]:
        """Map from store id to vertex index."""
        return {v: i for i, v in enumerate(self.ids)}

    def to_igraph(self) -> ig.Graph:
        """An ``igraph.Graph`` with vertex attribute ``id`` and edge attribute ``weight``."""
        import igraph as ig

        edges = np.column_stack([self.src, self.dst])
        g = ig.Graph(n=self.vcount, edges=edges, directed=self.directed)
        g.vs["id"] = self.ids
        g.es["weight"] = self.weight.tolist()
        return g

    def to_scipy(self) -> sp.csr_matrix:
        """A ``scipy.sparse`` CSR adjacency matrix (symmetric when undirected)."""
        import scipy.sparse as sp

        n = self.vcount
        m = sp.coo_matrix((self.weight, (self.src, self.dst)), shape=(n, n))
        if not self.directed:
            m = m + m.T
        return m.tocsr()

    def to_networkx(self) -> nx.Graph[Any]:
        """A ``networkx`` graph with store ids as nodes and ``weight`` on edges.

        networkx holds one edge per pair, so parallel edges (``a -> b`` and ``b -> a`` of an
        undirected projection, or repeated relations) become one edge with their weights
        summed, as igraph-based algorithms count them.

        Examples
        --------
        >>> p = Projection.from_edges(["a", "b"], [("a", "b", 2.0), ("b", "a", 1.0)])
        >>> p.to_networkx().edges(data=True)
        EdgeDataView([('a', 'b', {'weight': 3.0})])
        """
        import networkx as nx

        g: nx.Graph[Any] = nx.DiGraph() if self.directed else nx.Graph()
        g.add_nodes_from(self.ids)
        ids = self.ids
        for a, b, w in zip(self.src.tolist(), self.dst.tolist(), self.weight.tolist(), strict=True):
            u, v = ids[a], ids[b]
            if g.has_edge(u, v):
                g[u][v]["weight"] += float(w)
            else:
                g.add_edge(u, v, weight=float(w))
        return g
