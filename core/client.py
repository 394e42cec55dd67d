"""The Python entry point for data scientists: :func:`connect` and its :class:`Client`.

A thin facade over what the command line and the API use: loading files
(:mod:`quanzi.ingest`), projections of the stored graph (:mod:`quanzi.graph`), the pure
algorithms (:mod:`quanzi.algorithms`), the analysis that writes results back and the
customer 360 (:mod:`quanzi.api.services`), and the graph views (:mod:`quanzi.viz`).

Phones, e-mails and other personal identifiers come back masked, as they do for a viewer of
the API, unless a call says ``unmask=True``: notebooks get shared.

Examples
--------
The examples in this module run as doctests against a bundled store whose data directory is
``data_dir`` and which holds a small generated data set, analysed; ``q`` is
``connect("bundled", data_dir=data_dir)``.

>>> import quanzi
>>> with quanzi.connect("bundled", data_dir=data_dir) as client:
...     g = client.igraph()
...     table = client.nodes("Customer")
>>> g.vcount() == len(table)
True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Self
from urllib.parse import urlparse

import pandas as pd

from quanzi.algorithms.lookalike import Lookalike, LookalikeIndex, LookalikeWeights
from quanzi.api.services.access import Principal, mask_identity_id, mask_properties
from quanzi.api.services.graph_cache import CachedGraph, GraphCache
from quanzi.errors import InputError
from quanzi.graph.connect import bundled_store, open_store
from quanzi.graph.projection import Projection
from quanzi.graph.store import GraphStore
from quanzi.model import Node, Rel, check_label, check_rel
from quanzi.settings import Settings, load_settings

if TYPE_CHECKING:
    import igraph as ig
    import networkx as nx

    from quanzi.algorithms.circles import LayerWeights, Partition
    from quanzi.algorithms.influence import InfluenceScores
    from quanzi.api.schemas import Customer360
    from quanzi.api.services.analysis import AnalysisSummary
    from quanzi.ingest.manual import LinkExplanation
    from quanzi.ingest.readers import ColumnMapping
    from quanzi.ingest.report import IngestReport
    from quanzi.ingest.synthetic import GeneratedFiles
    from quanzi.viz.views import GraphView

__all__ = ["Client", "connect"]

#: ``progress(step, done, total)`` callback of long operations; ``total`` may be ``None``.
Progress = Callable[[str, int, int | None], None]

_NEO4J_SCHEMES = frozenset({"bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc"})
_ACTOR = "python-client"


def connect(
    uri: str | None = None,
    *,
    user: str | None = None,
    password: str | None = None,
    database: str | None = None,
    data_dir: Path | str | None = None,
    settings: Settings | None = None,
    start: bool = True,
) -> Client:
    """Connect to the bundled store (started if needed) or to a Neo4j, and return a client.

    Parameters
    ----------
    uri : str, optional
        ``"bundled"`` for the bundled ArcadeDB store; a Bolt URI (``bolt://``,
        ``neo4j://``, ``neo4j+s://`` ...) for a Neo4j; ``None`` to follow the ``QUANZI_*``
        settings (the bundled store unless ``QUANZI_STORE=neo4j``).
    user, password, database : str, optional
        Neo4j credentials and database; default to ``QUANZI_NEO4J_*``.
    data_dir : path, optional
        Quanzi's data directory (the bundled store lives in ``data_dir/store``); defaults to
        ``QUANZI_DATA_DIR``.
    settings : Settings, optional
        Use these settings as they are instead of reading the environment; the other
        arguments then must be left out.
    start : bool, default True
        Start the bundled store if it is not running. A client that started the store stops
        it again on :meth:`Client.close`.

    Returns
    -------
    Client
        Use it as a context manager, or call :meth:`Client.close` when done.

    Raises
    ------
    ConfigError
        A setting is invalid (e.g. a placeholder password for a remote Neo4j).
    StoreUnavailableError, StoreAuthError
        The store cannot be reached, or refused the credentials.

    Examples
    --------
    >>> q = connect("bundled", data_dir=data_dir)
    >>> q.settings.store, q.counts()["Customer"] > 0
    ('bundled', True)
    >>> q.close()
    """
    if settings is not None:
        given = (uri, user, password, database, data_dir)
        if any(v is not None for v in given):
            raise InputError(
                "connect(): pass either settings=... or uri/user/password/database/data_dir, "
                "not both"
            )
    else:
        overrides: dict[str, Any] = {}
        if uri is not None:
            scheme = urlparse(uri).scheme.lower()
            if uri == "bundled":
                overrides["store"] = "bundled"
            elif scheme in _NEO4J_SCHEMES:
                overrides |= {"store": "neo4j", "neo4j_uri": uri}
            else:
                raise InputError(
                    f"connect(): uri {_safe_uri(uri)!r} is neither 'bundled' nor a Bolt URI "
                    f"({', '.join(sorted(_NEO4J_SCHEMES))})"
                )
        for name, value in (("user", user), ("password", password), ("database", database)):
            if value is not None:
                overrides[f"neo4j_{name}"] = value
        if data_dir is not None:
            overrides["data_dir"] = Path(data_dir)
        settings = load_settings(**overrides)
    started = False
    if settings.store == "bundled" and start:
        started = bundled_store(settings).status().state != "running"
    store = open_store(settings, start=start)
    return Client(store, settings, owns_store=started)


def _safe_uri(uri: str) -> str:
    """``uri`` without any user or password in it, for messages."""
    parsed = urlparse(uri)
    if parsed.hostname is None:
        return uri
    netloc = parsed.hostname + (f":{parsed.port}" if parsed.port else "")
    return parsed._replace(netloc=netloc).geturl()


def _frame(rows: list[dict[str, Any]], index: str | None) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(rows)
    if index is None or frame.empty:
        return frame
    return frame.set_index(index).sort_index()


def _plain(value: Any) -> Any:
    """A table cell as a property value: missing numbers become ``None`` (not written)."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


class Client:
    """A connection to Quanzi's graph, for notebooks and scripts. Made by :func:`connect`.

    Parameters
    ----------
    store : GraphStore
        An open store; the client closes it on :meth:`close`.
    settings : Settings
        The settings it was opened with.
    owns_store : bool, default False
        Whether this client started the bundled store (then :meth:`close` stops it).

    Attributes
    ----------
    store : GraphStore
        The store adapter, for anything the client does not wrap.
    settings : Settings
        The settings in force.

    Notes
    -----
    Projections and tables are read from the store at each call. The graph behind
    :meth:`lookalikes` and :meth:`circle_view` is cached like the API's (read once, dropped
    after this client's :meth:`ingest`, :meth:`analyze` and :meth:`write_properties`, and
    after an hour); :meth:`refresh` drops it after changes made elsewhere.

    Examples
    --------
    >>> q.counts()["Circle"] > 0
    True
    """

    def __init__(self, store: GraphStore, settings: Settings, *, owns_store: bool = False) -> None:
        self.store = store
        self.settings = settings
        self._owns_store = owns_store
        self._cache = GraphCache()
        self._closed = False

    # -- lifecycle -----------------------------------------------------------------------
    def __repr__(self) -> str:
        if self.settings.store == "bundled":
            where = f"bundled store, data in {self.settings.data_dir}"
        else:
            where = f"Neo4j at {_safe_uri(self.settings.neo4j_uri)}"
        state = "closed" if self._closed else f"database {self.store.database!r}"
        return f"<quanzi.Client {where}, {state}>"

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self, *, stop_store: bool | None = None) -> None:
        """Close the connection; stop the bundled store if this client started it.

        Parameters
        ----------
        stop_store : bool, optional
            Override: ``True`` stops the bundled store even if it was running before,
            ``False`` leaves it running. Ignored for Neo4j.

        Examples
        --------
        >>> other = connect("bundled", data_dir=data_dir)
        >>> other.close()  # the store was already running: it keeps running
        >>> q.counts()["Customer"] > 0
        True
        """
        if self._closed:
            return
        self._closed = True
        self.store.close()
        stop = self._owns_store if stop_store is None else stop_store
        if stop and self.settings.store == "bundled":
            bundled_store(self.settings).stop()

    def refresh(self) -> None:
        """Drop the cached graph, so the next lookalike search or view reads the store again.

        Examples
        --------
        >>> q.refresh()
        """
        # Dropped, not served stale: in a notebook the next call must see what was just written.
        self._cache.invalidate(drop=True)

    def _graph(self) -> CachedGraph:
        return self._cache.get(self.store)

    def _principal(self, unmask: bool) -> Principal:
        return Principal(_ACTOR, "admin" if unmask else "viewer", "quanzi python client")

    # -- data ----------------------------------------------------------------------------
    def generate(
        self, out_dir: Path | str, *, customers: int = 500, seed: int = 0, **config: Any
    ) -> GeneratedFiles:
        """Write a synthetic data set with its ground truth (nothing is loaded yet).

        Parameters
        ----------
        out_dir : path
            Folder to write into (created if missing).
        customers, seed : int
            Number of true persons; the same seed writes the same files.
        **config
            Other fields of :class:`quanzi.ingest.synthetic.GeneratorConfig` (``mixing``,
            ``ties_per_person``, ...).

        Examples
        --------
        >>> import tempfile
        >>> files = q.generate(tempfile.mkdtemp(), customers=20, seed=1)
        >>> files.counts["truth_people"], files.contacts.name
        (20, 'contacts.csv')
        """
        from quanzi.ingest.synthetic import GeneratorConfig, generate

        try:
            chosen = GeneratorConfig(customers=customers, seed=seed, **config)
        except (TypeError, ValueError) as e:
            raise InputError(f"generate(): {e}") from None
        return generate(out_dir, chosen)

    def ingest(
        self,
        *paths: Path | str,
        mappings: Mapping[Path, ColumnMapping] | None = None,
        progress: Progress | None = None,
    ) -> IngestReport:
        """Load contact, event and reference files (or folders of them) and resolve identities.

        Same as ``quanzi ingest``; see :func:`quanzi.ingest.ingest_files`. Loading the same
        files again changes nothing.

        Examples
        --------
        >>> report = q.ingest(demo_folder)
        >>> report.ok, report.counts["contacts_read"] > 0
        (True, True)
        """
        from quanzi.ingest import ingest_files

        if not paths:
            raise InputError("ingest(): give at least one file or folder")
        try:
            return ingest_files(
                self.store,
                [Path(p) for p in paths],
                self.settings,
                mappings=mappings,
                progress=progress,
            )
        finally:
            self.refresh()

    def ingest_contacts(self, rows: Sequence[Mapping[str, Any]]) -> IngestReport:
        """Load contact records given as dicts (fields as in ``docs/input-formats.md``).

        Examples
        --------
        >>> report = q.ingest_contacts([{"source": "crm", "source_record_id": "doc-1",
        ...                               "full_name": "张伟", "phone": "13800138000"}])
        >>> report.ok, report.counts["contacts_read"]
        (True, 1)
        """
        from quanzi.ingest import ingest_contacts

        try:
            return ingest_contacts(self.store, rows, self.settings, origin="<python>")
        finally:
            self.refresh()

    def counts(self) -> dict[str, int]:
        """Number of nodes per label and of relations per type.

        Examples
        --------
        >>> counts = q.counts()
        >>> counts["Customer"] > 0, counts["INTERACTS_WITH"] > 0
        (True, True)
        """
        return self.store.counts()

    # -- projections and tables ----------------------------------------------------------
    def projection(
        self,
        rels: Sequence[Rel | str] = (Rel.INTERACTS_WITH,),
        *,
        label: Node | str = Node.CUSTOMER,
        weight: str | None = "weight",
        directed: bool = False,
    ) -> Projection:
        """Every ``label`` node and the ``rels`` among them, as compact arrays.

        Convert it with ``.to_igraph()``, ``.to_networkx()`` or ``.to_scipy()``; ``ids[i]``
        is the store id of vertex ``i``. Parallel relations stay separate edges.

        Examples
        --------
        >>> p = q.projection()
        >>> p.vcount == q.counts()["Customer"], p.ecount == q.counts()["INTERACTS_WITH"]
        (True, True)
        """
        return self.store.read_projection(rels, label=label, weight=weight, directed=directed)

    def igraph(
        self, rels: Sequence[Rel | str] = (Rel.INTERACTS_WITH,), *, directed: bool = False
    ) -> ig.Graph:
        """The projection as an ``igraph.Graph`` (vertex attribute ``id``, edge ``weight``).

        Examples
        --------
        >>> g = q.igraph()
        >>> g.is_directed(), "id" in g.vs.attributes(), "weight" in g.es.attributes()
        (False, True, True)
        """
        return self.projection(rels, directed=directed).to_igraph()

    def networkx(
        self, rels: Sequence[Rel | str] = (Rel.INTERACTS_WITH,), *, directed: bool = False
    ) -> nx.Graph[Any]:
        """The projection as a ``networkx`` graph (store ids as nodes, ``weight`` on edges).

        Parallel relations collapse into one edge whose weight is their sum (with
        ``directed=False``, ``a -> b`` and ``b -> a`` are one edge).

        Examples
        --------
        >>> G = q.networkx()
        >>> G.number_of_nodes() == q.counts()["Customer"]
        True
        """
        return self.projection(rels, directed=directed).to_networkx()

    def tie_graph(
        self, *, layer_weights: LayerWeights | None = None, max_affiliation_size: int = 500
    ) -> ig.Graph:
        """The customer graph the analysis finds circles in: direct ties plus shared groups,
        interests and employees, as :func:`quanzi.algorithms.circles.build_tie_graph` makes it.

        One vertex per customer (with ``id``); edges carry ``weight`` and one attribute per
        layer (``tie``, ``group``, ``interest``, ``employee``).

        Examples
        --------
        >>> g = q.tie_graph()
        >>> g.vcount() == q.counts()["Customer"], sorted(g.es.attributes())
        (True, ['employee', 'group', 'interest', 'tie', 'weight'])
        """
        from quanzi.algorithms.circles import LayerWeights, build_tie_graph

        def members(rel: Rel, label: Node) -> dict[str, list[str]]:
            out: dict[str, list[str]] = {}
            for customer, thing in self.store.read_pairs(rel, Node.CUSTOMER, label):
                out.setdefault(thing, []).append(customer)
            return out

        return build_tie_graph(
            self.igraph(),
            groups=members(Rel.MEMBER_OF, Node.GROUP),
            interests=members(Rel.INTERESTED_IN, Node.INTEREST),
            employees=members(Rel.SERVED_BY, Node.EMPLOYEE),
            layer_weights=layer_weights or LayerWeights(),
            customers=self.store.node_ids(Node.CUSTOMER),
            max_affiliation_size=max_affiliation_size,
        )

    def nodes(self, label: Node | str = Node.CUSTOMER, *, unmask: bool = False) -> pd.DataFrame:
        """Every node of one kind as a table: one row per node (index ``id``, sorted), one
        column per property (missing where a node lacks it).

        Personal identifiers (phones, e-mails, WeChat ids, ID numbers, birth dates, street,
        postcode) are masked unless ``unmask=True``.

        Examples
        --------
        >>> customers = q.nodes("Customer")
        >>> customers.index.name, {"name", "circle_id", "influence"} <= set(customers.columns)
        ('id', True)
        >>> phones = q.nodes("Identity").query("kind == 'phone'")
        >>> bool(phones["key"].str.contains("****", regex=False).all())
        True
        """
        rows = self.store.node_table(label)
        if not unmask:
            rows = [mask_properties(r) for r in rows]
        return _frame(rows, "id")

    def edges(
        self,
        rel: Rel | str = Rel.INTERACTS_WITH,
        start: Node | str = Node.CUSTOMER,
        end: Node | str = Node.CUSTOMER,
        *,
        unmask: bool = False,
    ) -> pd.DataFrame:
        """Every ``rel`` from ``start`` to ``end`` nodes as a table: columns ``start``,
        ``end`` (store ids) and one per relation property.

        Identity ids that hold a phone or an e-mail are masked unless ``unmask=True``.

        Examples
        --------
        >>> ties = q.edges()
        >>> list(ties.columns[:2]), len(ties) == q.counts()["INTERACTS_WITH"]
        (['start', 'end'], True)
        >>> bool(q.edges("IN_CIRCLE", "Customer", "Circle")["level"].isin([0, 1]).all())
        True
        """
        r, a, b = check_rel(rel), check_label(start), check_label(end)
        rows = self.store.relation_table(r, a, b)
        if not unmask:
            masked = []
            for row in rows:
                clean = mask_properties({k: v for k, v in row.items() if k not in ("start", "end")})
                for side, label in (("start", a), ("end", b)):
                    clean[side] = (
                        mask_identity_id(row[side]) if label is Node.IDENTITY else row[side]
                    )
                masked.append(clean)
            rows = masked
        frame = _frame(rows, None)
        if frame.empty:
            return pd.DataFrame(columns=["start", "end"])
        first = ["start", "end"]
        frame = frame[first + [c for c in frame.columns if c not in first]]
        return frame.sort_values(first, kind="stable").reset_index(drop=True)

    # -- algorithms ----------------------------------------------------------------------
    def circles(self, g: ig.Graph | None = None, **options: Any) -> Partition:
        """Find circles with Leiden (:func:`quanzi.algorithms.circles.detect_circles`).

        Parameters
        ----------
        g : igraph.Graph, optional
            The graph; :meth:`tie_graph` when omitted.
        **options
            ``weight``, ``objective`` (``"modularity"`` or ``"cpm"``), ``resolution``,
            ``seed``, ``layers``, ``n_iterations``.

        Examples
        --------
        >>> fine = q.circles(resolution=2.0)
        >>> coarse = q.circles(resolution=0.5)
        >>> fine.n_circles > coarse.n_circles
        True
        """
        from quanzi.algorithms.circles import detect_circles

        return detect_circles(self.tie_graph() if g is None else g, **options)

    def circle_hierarchy(self, g: ig.Graph | None = None, **options: Any) -> list[Partition]:
        """Circles and circles inside them
        (:func:`quanzi.algorithms.circles.detect_circle_hierarchy`); ``g`` as in
        :meth:`circles`.

        Examples
        --------
        >>> levels = q.circle_hierarchy(max_circle_size=20, max_levels=2)
        >>> len(levels) in (1, 2), levels[-1].n_circles >= levels[0].n_circles
        (True, True)
        """
        from quanzi.algorithms.circles import detect_circle_hierarchy

        return detect_circle_hierarchy(self.tie_graph() if g is None else g, **options)

    def influence(
        self, g: ig.Graph | None = None, *, referrals: bool = True, **options: Any
    ) -> InfluenceScores:
        """Influence scores (:func:`quanzi.algorithms.influence.influence`).

        Parameters
        ----------
        g : igraph.Graph, optional
            The graph; :meth:`tie_graph` when omitted.
        referrals : bool, default True
            Count referral reach from the stored ``REFERRED`` relations.
        **options
            ``weight``, ``weights`` (:class:`~quanzi.algorithms.influence.InfluenceWeights`),
            ``damping``, ``n_samples``, ``seed``.

        Examples
        --------
        >>> from quanzi.algorithms.influence import top_influencers
        >>> scores = q.influence()
        >>> best = top_influencers(scores, k=3)
        >>> len(best), best[0].score >= best[-1].score
        (3, True)
        """
        import igraph as ig

        from quanzi.algorithms.influence import influence

        chain = None
        if referrals:
            pairs = self.store.read_pairs(Rel.REFERRED, Node.CUSTOMER, Node.CUSTOMER)
            if pairs:
                chain = ig.Graph.TupleList(pairs, directed=True)
                chain.vs["id"] = chain.vs["name"]
        return influence(self.tie_graph() if g is None else g, referrals=chain, **options)

    def lookalike_index(self) -> LookalikeIndex:
        """The lookalike index the API uses: ties, circles, groups, interests and FastRP
        embeddings of the stored graph, built once and cached (see :meth:`refresh`).

        Examples
        --------
        >>> index = q.lookalike_index()
        >>> len(index.ids) == q.counts()["Customer"]
        True
        """
        return self._graph().lookalike_index()

    def lookalikes(
        self,
        seeds: Collection[str],
        *,
        k: int = 50,
        candidates: Collection[str] | None = None,
        weights: LookalikeWeights | None = None,
        **options: Any,
    ) -> list[Lookalike]:
        """Customers who look like ``seeds``, best first, with reasons: the API's search.

        Parameters
        ----------
        seeds : collection of str
            Customer ids.
        k : int, default 50
            How many to return (fewer when fewer have any evidence).
        candidates : collection of str, optional
            Who may be returned; everyone but the seeds by default.
        weights : LookalikeWeights, optional
            Part weights; the saved setting (:meth:`lookalike_weights`) by default.
        **options
            ``walk_lengths``, ``max_reasons``, ``block_model`` (the thorough mode: seconds
            at 100k customers) of :meth:`quanzi.algorithms.lookalike.LookalikeIndex.query`.

        Examples
        --------
        >>> leaders = q.nodes("Circle").sort_values("size").iloc[-1]["leaders"]
        >>> found = q.lookalikes(leaders, k=5)
        >>> len(found), set(leaders).isdisjoint(c.id for c in found), bool(found[0].reasons)
        (5, True, True)
        """
        chosen = weights if weights is not None else self.lookalike_weights()
        return self.lookalike_index().query(
            seeds, candidates=candidates, k=k, weights=chosen, **options
        )

    # -- results and settings written back -----------------------------------------------
    def merge(self, a: str, b: str, *, reason: str = "manual merge") -> str:
        """Merge customers ``a`` and ``b``; the older survives and the other redirects to it.

        Takes the data directory's writer lock (waiting for a running ingest or analysis,
        which decide on the customers a merge changes) as the API's merge does
        (:func:`quanzi.api.services.identity.merge`, without its time limit). Returns the
        survivor's id.

        Examples
        --------
        >>> rows = [{"source": "crm", "source_record_id": s, "full_name": "Lin Mei", "phone": p}
        ...         for s, p in (("M-1", "13900000001"), ("M-2", "13900000002"))]
        >>> _ = q.ingest_contacts(rows)
        >>> a, b = (q.explain("crm:M-1", "crm:M-1").customers[0],
        ...         q.explain("crm:M-2", "crm:M-2").customers[0])
        >>> survivor = q.merge(a, b)
        >>> link = q.explain("crm:M-1", "crm:M-2")
        >>> link.same_customer, link.customers == (survivor, survivor), link.path[0].rule
        (True, True, 'merged customers')
        """
        from quanzi.api.services import identity as service

        try:
            merged = service.merge(
                self.store, self._cache, self.settings.data_dir, a, b, reason=reason, wait_s=None
            )
        finally:
            self.refresh()
        return merged.survivor_id

    def split(self, identity: str) -> str:
        """Split a source record (and its channel keys) off into a customer of its own.

        Takes the writer lock like :meth:`merge`
        (:func:`quanzi.api.services.identity.split`). Returns the new customer's id.

        Examples
        --------
        Undo the merge in :meth:`merge`'s example:

        >>> survivor = q.explain("crm:M-1", "crm:M-2").customers[0]
        >>> new = q.split("crm:M-2")
        >>> link = q.explain("crm:M-1", "crm:M-2")
        >>> link.same_customer, link.customers == (survivor, new)
        (False, True)
        """
        from quanzi.api.services import identity as service

        try:
            split = service.split(
                self.store, self._cache, self.settings.data_dir, identity, wait_s=None
            )
        finally:
            self.refresh()
        return split.new_customer_id

    def explain(self, a: str, b: str) -> LinkExplanation:
        """Why two identities belong to one customer (or that they do not): the chain of links
        with each link's rule, match weight and agreeing fields; see
        :func:`quanzi.ingest.manual.explain_link`.

        Examples
        --------
        >>> rows = [{"source": s, "source_record_id": "E-1", "full_name": "Zhou Lan",
        ...          "phone": "+86 139 0000 0009"} for s in ("crm", "shop")]
        >>> _ = q.ingest_contacts(rows)
        >>> link = q.explain("crm:E-1", "shop:E-1")
        >>> link.same_customer, link.path[0].rule
        (True, 'same phone and name')
        """
        from quanzi.ingest.manual import explain_link

        return explain_link(self.store, a, b)

    def analyze(self, *, seed: int = 0, progress: Progress | None = None) -> AnalysisSummary:
        """Run the analysis and write its results back, as ``quanzi analyze`` does.

        Writes circles (``Circle`` nodes, ``IN_CIRCLE``, ``circle_id``), influence and its
        parts, and loyalty tiers onto the customers; see
        :mod:`quanzi.api.services.analysis`. Safe to re-run: circle ids and names are kept.

        Examples
        --------
        >>> summary = q.analyze()
        >>> summary.customers == q.counts()["Customer"], summary.circles[0] > 0
        (True, True)
        """
        from quanzi.api.services.analysis import run_analysis

        try:
            return run_analysis(self.store, self.settings, seed=seed, progress=progress)
        finally:
            self.refresh()

    def write_properties(
        self, label: Node | str, table: pd.DataFrame | pd.Series | Mapping[str, Mapping[str, Any]]
    ) -> int:
        """Write your own results onto existing nodes: one property per column.

        Parameters
        ----------
        label : str
            Node kind, e.g. ``"Customer"``.
        table : DataFrame, Series or mapping
            Indexed by node id: a DataFrame's columns, a named Series, or ``{id: {property:
            value}}``. Missing values (NaN, None) are skipped, never erase a property.

        Returns
        -------
        int
            Nodes written.

        Raises
        ------
        InputError
            An id is not a node of ``label``, a column is not a property name (or is ``id``),
            or a value cannot be stored. Nothing is written then.

        Examples
        --------
        >>> scores = q.influence()
        >>> column = pd.Series(scores.percentile["pagerank"], index=scores.ids, name="pr_pct")
        >>> q.write_properties("Customer", column) == len(column)
        True
        >>> bool(q.nodes("Customer")["pr_pct"].between(0, 1).all())
        True
        >>> q.write_properties("Customer", {"no-such-id": {"pr_pct": 0.5}})
        Traceback (most recent call last):
        ...
        quanzi.errors.InputError: write_properties(): 1 id(s) are not Customer nodes, e.g. ...
        """
        node = check_label(label)
        if isinstance(table, pd.Series):
            if table.name is None:
                raise InputError("write_properties(): name the Series (it is the property)")
            table = table.to_frame()
        if isinstance(table, pd.DataFrame):
            if "id" in table.columns:
                raise InputError(
                    "write_properties(): 'id' cannot be written; put the ids in the index"
                )
            records = {
                str(i): {str(k): _plain(v) for k, v in row.items()}
                for i, row in zip(table.index, table.to_dict("records"), strict=True)
            }
        else:
            records = {
                str(i): {str(k): _plain(v) for k, v in props.items()} for i, props in table.items()
            }
        for node_id, props in records.items():
            if "id" in props:
                raise InputError(f"write_properties(): node {node_id!r}: 'id' cannot be written")
        rows = [{**props, "id": node_id} for node_id, props in records.items()]
        known = set(self.store.node_ids(node))
        missing = sorted(i for i in records if i not in known)
        if missing:
            raise InputError(
                f"write_properties(): {len(missing)} id(s) are not {node} nodes, e.g. "
                f"{missing[:5]}; write only onto nodes that exist"
            )
        try:
            written = self.store.set_node_properties(node, rows)
            # Other processes keep reports and graphs computed from these properties.
            self.store.note_graph_change(f"{node} properties")
            return written
        finally:
            self.refresh()

    def lookalike_weights(self) -> LookalikeWeights:
        """The lookalike part weights the API and :meth:`lookalikes` use: the saved setting,
        else the defaults.

        Examples
        --------
        >>> q.lookalike_weights().proximity > 0
        True
        """
        from quanzi.api.services.lookalikes import lookalike_weights

        return lookalike_weights(self.store)

    def save_lookalike_weights(self, weights: LookalikeWeights, *, note: str = "") -> None:
        """Save lookalike part weights as the setting every later search uses (API included).

        Stored in the graph (the ``Setting`` node ``lookalike_weights``), so every process
        using this store sees it at once. ``note`` records why, e.g. the evaluation behind it.

        Examples
        --------
        >>> from dataclasses import replace
        >>> before = q.lookalike_weights()
        >>> q.save_lookalike_weights(replace(before, attributes=0.5), note="doctest")
        >>> q.lookalike_weights().attributes
        0.5
        >>> q.save_lookalike_weights(before)
        """
        from quanzi.api.services.lookalikes import save_lookalike_weights

        save_lookalike_weights(self.store, weights, actor=_ACTOR, note=note)

    def customer(
        self, customer_id: str, *, unmask: bool = False, timeline_limit: int = 100
    ) -> Customer360:
        """Everything known about one customer: the API's customer 360.

        Identities, phones and e-mails are masked unless ``unmask=True``.

        Examples
        --------
        >>> top = q.nodes("Customer")["influence"].idxmax()
        >>> c = q.customer(top)
        >>> c.customer.id == top, c.customer.masked, len(c.circles) > 0
        (True, True, True)
        """
        from quanzi.api.services.customers import customer_360

        return customer_360(
            self.store, self._principal(unmask), customer_id, timeline_limit=timeline_limit
        )

    def circle_members(self, circle_id: str) -> list[str]:
        """Ids of the customers in a stored circle (after :meth:`analyze`), sorted.

        Examples
        --------
        >>> circle = q.nodes("Circle").query("level == 0").iloc[0]
        >>> len(q.circle_members(circle.name)) == int(circle["size"])
        True
        """
        from quanzi.errors import NotFoundError

        if self.store.get_node(Node.CIRCLE, circle_id) is None:
            raise NotFoundError(f"No circle with id {circle_id!r}; see client.nodes('Circle')")
        pairs = self.store.read_pairs(Rel.IN_CIRCLE, Node.CUSTOMER, Node.CIRCLE)
        return sorted(customer for customer, circle in pairs if circle == circle_id)

    def circle_view(
        self,
        circle_id: str,
        *,
        colour_by: Literal["tier", "sub_circle"] = "tier",
        max_nodes: int = 150,
        unmask: bool = False,
        height: str = "560px",
    ) -> GraphView:
        """An interactive view of a stored circle: members sized by influence, coloured by
        tier (or sub-circle), leaders labelled; shows inline in a notebook.

        The page carries its own JavaScript, so it works offline. At most ``max_nodes``
        members are drawn (the most influential).

        Examples
        --------
        >>> biggest = q.nodes("Circle").query("level == 0")["size"].idxmax()
        >>> view = q.circle_view(biggest)
        >>> view.nodes > 0, "<script src=" not in view.html, "vis-network" in view.html
        (True, True, True)
        """
        from quanzi.api.services.circles import circle_members
        from quanzi.viz.views import circle_view

        principal = self._principal(unmask)
        page = circle_members(
            self.store, self.settings, principal, circle_id, limit=max(max_nodes, 1)
        )
        members = [m.model_dump() for m in page.items]
        props = self.store.get_node(Node.CIRCLE, circle_id) or {}
        if colour_by == "sub_circle":
            prefix = f"{circle_id}."
            sub_of = {
                customer: circle
                for customer, circle in self.store.read_pairs(
                    Rel.IN_CIRCLE, Node.CUSTOMER, Node.CIRCLE
                )
                if circle.startswith(prefix)
            }
            for m in members:
                m["sub_circle"] = sub_of.get(m["id"])
        graph = self._graph()
        ties = _ties_among(graph, [str(m["id"]) for m in members])
        title = str(props.get("name") or props.get("auto_name") or f"Circle {circle_id}")
        return circle_view(
            members,
            ties,
            title=title,
            subtitle=f"{props.get('size', len(members))} members",
            leaders=[str(x) for x in props.get("leaders") or []],
            colour_by=colour_by,
            max_nodes=max_nodes,
            height=height,
        )

    def ground_truth(self, folder: Path | str) -> pd.DataFrame:
        """The planted truth of a generated data set, per resolved customer.

        Each customer gets the true person most of its source records belong to
        (``truth_records.csv``) and that person's planted circle, churn label and household
        (``truth_people.csv``). For evaluating circles, lookalikes and churn on generated
        data.

        Returns
        -------
        pandas.DataFrame
            Index ``customer_id``; columns ``person_id``, ``circle_id``, ``circle_kind``,
            ``churned`` (bool), ``household_id``, ``records`` (source records of the
            customer).

        Examples
        --------
        >>> truth = q.ground_truth(demo_folder)
        >>> in_graph = truth.index.isin(q.nodes("Customer").index)
        >>> bool(in_graph.all()), truth["circle_id"].nunique() > 1
        (True, True)
        """
        base = Path(folder)
        paths = [base / "truth_records.csv", base / "truth_people.csv"]
        for path in paths:
            if not path.is_file():
                raise InputError(
                    f"ground_truth(): {path} is missing; pass the folder `quanzi generate` "
                    "wrote (it holds truth_records.csv and truth_people.csv)"
                )
        records = pd.read_csv(paths[0], dtype=str, keep_default_na=False)
        people = pd.read_csv(paths[1], dtype=str, keep_default_na=False)
        records["identity"] = "record:" + records["source"] + ":" + records["source_record_id"]
        links = pd.DataFrame(
            self.store.read_pairs(Rel.HAS_IDENTITY, Node.CUSTOMER, Node.IDENTITY),
            columns=["customer_id", "identity"],
        )
        joined = links.merge(records[["identity", "person_id"]], on="identity")
        votes = joined.groupby(["customer_id", "person_id"]).size().rename("records")
        best = (
            votes.reset_index()
            .sort_values(["customer_id", "records", "person_id"], ascending=[True, False, True])
            .drop_duplicates("customer_id")
        )
        truth = best.merge(people, on="person_id", how="left").set_index("customer_id")
        truth["churned"] = truth["churned"].isin(["1", "true", "True"])
        columns = ["person_id", "circle_id", "circle_kind", "churned", "household_id", "records"]
        return truth[columns].sort_index()


def _ties_among(graph: CachedGraph, ids: Iterable[str]) -> list[dict[str, Any]]:
    """Interaction ties among ``ids`` in the cached graph, as the views take them."""
    vertices = sorted({graph.index[i] for i in ids if i in graph.index})
    if not vertices:
        return []
    sub = graph.graph.subgraph(vertices)
    names = sub.vs["id"]
    weights = sub.es["weight"] if "weight" in sub.es.attributes() else [1.0] * sub.ecount()
    return [
        {"start": names[a], "end": names[b], "kind": Rel.INTERACTS_WITH.value, "weight": w}
        for (a, b), w in zip(sub.get_edgelist(), weights, strict=True)
    ]
