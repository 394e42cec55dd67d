# ruff: noqa: N803, N806 - scikit-learn's convention names the feature matrix X
"""Churn risk: a calibrated scikit-learn model on graph and RFM features, with reasons.

People leave with their friends: a customer whose contacts or circle are leaving, who
deleted their salesperson, or whose engagement is fading is at risk.
:func:`churn_graph_features` turns the graph and a few per-customer arrays into those
features; :class:`ChurnModel` learns calibrated churn probabilities from them plus any
recency / frequency / monetary columns, and :meth:`ChurnModel.reasons` says, per customer,
which features push the risk up.

Reasons are occlusion effects: each feature in turn is set to the population mean and the
drop in predicted risk is that feature's contribution. This works the same for the linear
and the boosted model and reads as "risk is 0.21 higher than if this were typical".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any, Literal, Self, cast

import igraph as ig
import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from quanzi.algorithms._matrix import adjacency, vertex_ids
from quanzi.errors import InputError

__all__ = [
    "GRAPH_FEATURES",
    "RFM_FEATURES",
    "TIE_FEATURES",
    "TIME_BLIND_FEATURES",
    "ChurnForecast",
    "ChurnModel",
    "ChurnReason",
    "CustomerTimeline",
    "churn_graph_features",
    "churn_snapshot",
    "churned_at",
    "forecast_churn",
    "reason_text",
]

FloatArray = npt.NDArray[np.float64]

#: Columns produced by :func:`churn_graph_features`, in order.
GRAPH_FEATURES = (
    "churned_neighbour_share",
    "churned_neighbours",
    "circle_churn_rate",
    "employee_deletions",
    "engagement_decay",
    "degree",
    "strength",
)
#: The features that come from ties between customers (the rest of :data:`GRAPH_FEATURES`
#: are per-customer signals).
TIE_FEATURES = (
    "churned_neighbour_share",
    "churned_neighbours",
    "circle_churn_rate",
    "degree",
    "strength",
)
#: Recency (days since the last order, or since first contact when there is none),
#: frequency (orders) and monetary value, as :func:`churn_snapshot` computes them.
RFM_FEATURES = ("recency_days", "frequency", "monetary")
#: Per-customer activity features of :func:`churn_snapshot` beside RFM and the graph.
ACTIVITY_FEATURES = ("tenure_days", "activity_recent", "group_leaves")
#: Prefix of the tag columns of :func:`churn_snapshot` (``"tag:complaint"``).
TAG_PREFIX = "tag:"
#: Columns :func:`forecast_churn` leaves out unless asked for. Tie counts and strengths are
#: stored summed over all time, so a past snapshot sees ties formed after it: a customer who
#: went quiet after the snapshot has fewer, weaker ties, which the model learns as a signal
#: that is not there when scoring (measured on the generator's data: strength separates the
#: training labels with ROC AUC 0.76 but the later churn with 0.58, and adding it lowered
#: the forecast's AUC from 0.746 to 0.670). ``churned_neighbours`` counts the same ties.
TIME_BLIND_FEATURES = ("degree", "strength", "churned_neighbours")


def _per_vertex(values: npt.ArrayLike | None, n: int, name: str) -> FloatArray:
    if values is None:
        return np.zeros(n, dtype=np.float64)
    array = np.asarray(values, dtype=np.float64)
    if array.shape != (n,):
        raise InputError(f"{name} must have one value per vertex ({n}), got shape {array.shape}")
    return np.nan_to_num(array)


def churn_graph_features(
    g: ig.Graph,
    *,
    churned: npt.ArrayLike,
    weight: str | None = "weight",
    circles: npt.ArrayLike | None = None,
    employee_deletions: npt.ArrayLike | None = None,
    engagement_recent: npt.ArrayLike | None = None,
    engagement_previous: npt.ArrayLike | None = None,
) -> pd.DataFrame:
    """Build the graph features of churn risk, one row per vertex.

    Parameters
    ----------
    g : igraph.Graph
        Undirected tie graph, vertices carrying ``"id"``.
    churned : array_like of bool
        Who had already churned when the features are observed.
    weight : str or None, default "weight"
        Tie strength, for the weighted share.
    circles : array_like of int, optional
        Circle number of each vertex (``Partition.membership``).
    employee_deletions : array_like, optional
        How often each customer deleted, or was deleted by, their employee contact.
    engagement_recent, engagement_previous : array_like, optional
        Interactions in the latest window and the one before it.

    Returns
    -------
    pandas.DataFrame
        Indexed by customer id, columns :data:`GRAPH_FEATURES`:

        - ``churned_neighbour_share``: share of the tie strength that goes to churned
          contacts;
        - ``churned_neighbours``: number of churned contacts;
        - ``circle_churn_rate``: churn rate of the rest of the customer's circle (the
          customer itself left out, so the feature does not leak its own label);
        - ``employee_deletions``: as given;
        - ``engagement_decay``: ``(previous - recent) / (previous + recent)``, from -1
          (engagement grew from nothing) to 1 (stopped entirely);
        - ``degree``, ``strength``: number and total strength of ties.

    Examples
    --------
    >>> import igraph as ig
    >>> g = ig.Graph([(0, 1), (0, 2)], vertex_attrs={"id": ["a", "b", "c"]})
    >>> f = churn_graph_features(g, churned=[False, True, False], weight=None)
    >>> f.loc["a", "churned_neighbour_share"], f.loc["b", "churned_neighbours"]
    (np.float64(0.5), np.float64(0.0))
    """
    n = g.vcount()
    gone = _per_vertex(churned, n, "churned") > 0
    matrix = adjacency(g, weight, directed=False)
    matrix.setdiag(0)
    strength = np.asarray(matrix.sum(axis=1)).ravel()
    pattern = matrix.copy()
    pattern.data = (pattern.data > 0).astype(np.float64)
    churned_strength = matrix @ gone.astype(np.float64)
    features: dict[str, FloatArray] = {
        "churned_neighbour_share": np.divide(
            churned_strength, strength, out=np.zeros(n), where=strength > 0
        ),
        "churned_neighbours": pattern @ gone.astype(np.float64),
    }
    if circles is None:
        features["circle_churn_rate"] = np.zeros(n)
    else:
        membership = np.asarray(circles, dtype=np.int64)
        if membership.shape != (n,):
            raise InputError(f"circles must have one circle number per vertex ({n})")
        size = np.bincount(membership)[membership].astype(np.float64)
        gone_in_circle = np.bincount(membership, weights=gone.astype(np.float64))[membership]
        others = size - 1
        features["circle_churn_rate"] = np.divide(
            gone_in_circle - gone, others, out=np.zeros(n), where=others > 0
        )
    features["employee_deletions"] = _per_vertex(employee_deletions, n, "employee_deletions")
    recent = _per_vertex(engagement_recent, n, "engagement_recent")
    previous = _per_vertex(engagement_previous, n, "engagement_previous")
    activity = previous + recent
    features["engagement_decay"] = np.divide(
        previous - recent, activity, out=np.zeros(n), where=activity > 0
    )
    features["degree"] = np.asarray(pattern.sum(axis=1)).ravel()
    features["strength"] = strength
    return pd.DataFrame(features, index=pd.Index(vertex_ids(g), name="customer_id"))


@dataclass(frozen=True)
class ChurnReason:
    """One feature that pushes a customer's churn risk up.

    Attributes
    ----------
    feature : str
        Feature name.
    value : float
        The customer's value.
    typical : float
        The population mean it is compared with.
    effect : float
        Predicted risk minus the risk with this feature set to ``typical`` (> 0).

    Examples
    --------
    >>> r = ChurnReason("churned_neighbour_share", value=0.6, typical=0.1, effect=0.25)
    >>> f"{r.feature} {r.value:.0%} (typical {r.typical:.0%}) adds {r.effect:.0%} risk"
    'churned_neighbour_share 60% (typical 10%) adds 25% risk'
    """

    feature: str
    value: float
    typical: float
    effect: float


#: Cells (rows x features x copies) :meth:`ChurnModel.reasons` sends to the model at once.
_OCCLUSION_CELLS = 4_000_000


class ChurnModel(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Calibrated churn classifier with per-customer reasons.

    Parameters
    ----------
    model : {"logistic", "boosting"}, default "logistic"
        Standardised logistic regression, or histogram gradient boosting (for larger
        tables and interactions between features).
    calibration : {"sigmoid", "isotonic"}, default "sigmoid"
        How probabilities are calibrated (``CalibratedClassifierCV``); isotonic needs more
        data.
    cv : int, default 3
        Folds used for calibration.
    random_state : int, default 0
        Seed of the boosted model.
    n_threads : int, optional
        Cap on the native threads (OpenMP, BLAS) used while fitting and predicting. The
        boosted model otherwise starts one thread per core, which on a busy server or
        beside other workers can make it many times slower; 1 is fastest below ~50k rows.

    Attributes
    ----------
    feature_names_ : list of str
        Columns seen in ``fit``, in order.
    means_ : ndarray
        Population mean of each feature, the reference for reasons.
    classes_ : ndarray
        ``[0, 1]`` (or the labels given).
    calibrated_ : CalibratedClassifierCV
        The fitted, calibrated model.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"churned_neighbour_share": rng.random(300), "noise": rng.random(300)})
    >>> y = (rng.random(300) < X["churned_neighbour_share"]).astype(int)
    >>> model = ChurnModel().fit(X, y)
    >>> risk = model.risk(X)
    >>> bool(risk[X["churned_neighbour_share"] > 0.9].mean() > risk.mean())
    True
    >>> model.reasons(X.iloc[[int(X["churned_neighbour_share"].argmax())]])[0][0].feature
    'churned_neighbour_share'
    """

    def __init__(
        self,
        model: Literal["logistic", "boosting"] = "logistic",
        calibration: Literal["sigmoid", "isotonic"] = "sigmoid",
        cv: int = 3,
        random_state: int = 0,
        n_threads: int | None = None,
    ) -> None:
        self.model = model
        self.calibration = calibration
        self.cv = cv
        self.random_state = random_state
        self.n_threads = n_threads

    def _threads(self) -> AbstractContextManager[object]:
        if self.n_threads is None:
            return nullcontext()
        return cast(AbstractContextManager[object], threadpool_limits(limits=self.n_threads))

    def _base(self) -> object:
        if self.model == "logistic":
            return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
        if self.model == "boosting":
            return HistGradientBoostingClassifier(random_state=self.random_state)
        raise InputError(f"model must be 'logistic' or 'boosting', not {self.model!r}")

    def _matrix(self, X: pd.DataFrame | npt.ArrayLike, *, fitting: bool = False) -> FloatArray:
        if isinstance(X, pd.DataFrame):
            names = [str(c) for c in X.columns]
            if fitting:
                self.feature_names_ = names
            elif names != self.feature_names_:
                missing = sorted(set(self.feature_names_) - set(names))
                if missing:
                    raise InputError(f"feature table lacks columns {missing}")
                X = X[self.feature_names_]
            values = X.to_numpy(dtype=np.float64)
        else:
            values = np.asarray(X, dtype=np.float64)
            if fitting:
                self.feature_names_ = [f"x{j}" for j in range(values.shape[1])]
        if values.ndim != 2 or values.shape[1] != len(self.feature_names_):
            raise InputError(f"expected a table with {len(self.feature_names_)} feature columns")
        if not np.isfinite(values).all():
            raise InputError("the feature table holds NaN or infinite values; fill them first")
        return values

    def fit(self, X: pd.DataFrame | npt.ArrayLike, y: npt.ArrayLike) -> Self:
        """Fit the calibrated model on a feature table and churn labels (1 = churned)."""
        values = self._matrix(X, fitting=True)
        labels = np.asarray(y)
        if labels.shape != (values.shape[0],):
            raise InputError("y must have one label per row of X")
        if len(np.unique(labels)) != 2:
            raise InputError("y must hold both churned and retained customers")
        self.means_ = values.mean(axis=0)
        with self._threads():
            self.calibrated_ = CalibratedClassifierCV(
                self._base(), method=self.calibration, cv=self.cv
            ).fit(values, labels)
        self.classes_ = self.calibrated_.classes_
        return self

    def predict_proba(self, X: pd.DataFrame | npt.ArrayLike) -> FloatArray:
        """Return calibrated probabilities, one column per class in ``classes_``."""
        values = self._matrix(X)
        with self._threads():
            return np.asarray(self.calibrated_.predict_proba(values), dtype=np.float64)

    def predict(self, X: pd.DataFrame | npt.ArrayLike) -> npt.NDArray[np.generic]:
        """Return the more likely class of each row."""
        return np.asarray(self.classes_[self.predict_proba(X).argmax(axis=1)])

    def risk(self, X: pd.DataFrame | npt.ArrayLike) -> FloatArray:
        """Return each customer's calibrated churn probability (the positive class)."""
        return self.predict_proba(X)[:, -1]

    def reasons(self, X: pd.DataFrame | npt.ArrayLike, *, top: int = 3) -> list[list[ChurnReason]]:
        """Return, per row, up to ``top`` features that raise the risk most, largest first.

        A feature's effect is the risk minus the risk with that feature set to the
        population mean; only features with a positive effect are reasons.
        """
        values = self._matrix(X)
        n, d = values.shape
        effects = np.empty_like(values)
        # Every occluded copy of a block of rows goes through the model in one call: measured
        # ~3x faster than one call per feature (each call pays sklearn's checks and a
        # thread-pool scan).
        step = max(1, _OCCLUSION_CELLS // max(d * (d + 1), 1))
        for start in range(0, n, step):
            block = values[start : start + step]
            copies = np.repeat(block[None], d + 1, axis=0)
            for j in range(d):
                copies[j + 1, :, j] = self.means_[j]
            risks = self.risk(copies.reshape(-1, d)).reshape(d + 1, len(block))
            effects[start : start + step] = (risks[0] - risks[1:]).T
        result: list[list[ChurnReason]] = []
        for i in range(values.shape[0]):
            order = np.argsort(-effects[i], kind="stable")[:top]
            result.append(
                [
                    ChurnReason(
                        feature=self.feature_names_[j],
                        value=float(values[i, j]),
                        typical=float(self.means_[j]),
                        effect=float(effects[i, j]),
                    )
                    for j in order.tolist()
                    if effects[i, j] > 0
                ]
            )
        return result


# -- churn over time: snapshots of dated facts, and a forecast learned from the past --------

_DAY = pd.Timedelta(days=1)
_TABLES: dict[str, tuple[str, ...]] = {
    "orders": ("customer_id", "at", "amount"),
    "activity": ("customer_id", "at"),
    "employee_links": ("customer_id", "added_at", "deleted_at"),
    "group_links": ("customer_id", "joined_at", "left_at"),
    "tags": ("customer_id", "tag", "at"),
}
_TIMES = {"at", "added_at", "deleted_at", "joined_at", "left_at"}


def _utc(values: Any) -> pd.Series:
    """Timestamps as UTC; empty text and unreadable values become NaT."""
    series = pd.Series(values, dtype=object).replace("", None)
    return pd.Series(pd.to_datetime(series, utc=True, errors="coerce", format="ISO8601")).astype(
        "datetime64[ns, UTC]"
    )


@dataclass(frozen=True)
class CustomerTimeline:
    """Dated facts about customers, from which churn snapshots are taken at any time.

    Build it with :meth:`build`, which checks the tables and reads the timestamps.

    Attributes
    ----------
    first_seen : pandas.Series
        Customer id -> first contact (UTC timestamp; NaT when unknown, read as "always").
        Every customer of the timeline is here.
    orders : pandas.DataFrame
        ``customer_id``, ``at``, ``amount``.
    activity : pandas.DataFrame
        ``customer_id``, ``at``: every dated action of a customer (orders included).
    employee_links : pandas.DataFrame
        ``customer_id``, ``added_at``, ``deleted_at``: the customer's employee contacts. A
        customer whose every contact is deleted has churned (see :func:`churned_at`).
    group_links : pandas.DataFrame
        ``customer_id``, ``joined_at``, ``left_at``.
    tags : pandas.DataFrame
        ``customer_id``, ``tag``, ``at``.
    last_seen : pandas.Series
        Customer id -> the latest sign of life of any kind (interactions included), for
        churn by silence. Only its latest value is known, so it serves to tell who has gone
        silent, never as a feature of a past snapshot.
    """

    first_seen: pd.Series
    orders: pd.DataFrame
    activity: pd.DataFrame
    employee_links: pd.DataFrame
    group_links: pd.DataFrame
    tags: pd.DataFrame = field(repr=False)
    last_seen: pd.Series = field(repr=False, default_factory=lambda: pd.Series(dtype=object))

    @classmethod
    def build(
        cls,
        first_seen: Mapping[str, Any] | pd.Series,
        *,
        orders: pd.DataFrame | None = None,
        activity: pd.DataFrame | None = None,
        employee_links: pd.DataFrame | None = None,
        group_links: pd.DataFrame | None = None,
        tags: pd.DataFrame | None = None,
        last_seen: Mapping[str, Any] | pd.Series | None = None,
    ) -> CustomerTimeline:
        """Check the tables, read their timestamps (ISO 8601 text or datetimes) as UTC,
        drop rows of customers not in ``first_seen`` and add order times to the activity.
        ``last_seen`` defaults to each customer's latest activity.

        Raises :class:`InputError` naming the table and the missing column.

        Examples
        --------
        >>> import pandas as pd
        >>> t = CustomerTimeline.build(
        ...     {"a": "2024-01-01", "b": "2024-02-01"},
        ...     orders=pd.DataFrame({"customer_id": ["a"], "at": ["2024-03-01"], "amount": [10.0]}))
        >>> len(t.activity), str(t.first_seen["b"].date())
        (1, '2024-02-01')
        """
        seen = pd.Series(first_seen, dtype=object)
        ids = seen.index.astype(str)
        given = {
            "orders": orders,
            "activity": activity,
            "employee_links": employee_links,
            "group_links": group_links,
            "tags": tags,
        }
        tables: dict[str, pd.DataFrame] = {}
        for name, columns in _TABLES.items():
            frame = given[name]
            if frame is None:
                frame = pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
            missing = [c for c in columns if c not in frame.columns]
            if missing:
                raise InputError(f"the {name} table lacks the column(s) {missing}")
            out = pd.DataFrame({c: frame[c].to_numpy() for c in columns})
            out["customer_id"] = out["customer_id"].astype(str)
            for c in columns:
                if c in _TIMES:
                    out[c] = _utc(out[c]).array
            if name == "orders":
                out["amount"] = pd.to_numeric(out["amount"], errors="coerce").fillna(0.0)
            tables[name] = out[out["customer_id"].isin(ids)].reset_index(drop=True)
        tables["activity"] = pd.concat(
            [tables["activity"], tables["orders"][["customer_id", "at"]]], ignore_index=True
        ).dropna(subset=["at"])
        latest = tables["activity"].groupby("customer_id")["at"].max().reindex(ids)
        if last_seen is not None:
            given_last = pd.Series(last_seen, dtype=object).reindex(ids)
            stated = pd.Series(_utc(given_last.to_numpy()).array, index=ids)
            latest = pd.concat([latest, stated], axis=1).max(axis=1)
        return cls(
            first_seen=pd.Series(_utc(seen.to_numpy()).array, index=ids, name="first_seen"),
            last_seen=pd.Series(
                latest.astype("datetime64[ns, UTC]").array, index=ids, name="last_seen"
            ),
            **tables,
        )

    @property
    def latest(self) -> pd.Timestamp:
        """The latest time anything happened (the natural "now" of an archive)."""
        times = [
            self.activity["at"].max(),
            self.employee_links["deleted_at"].max(),
            self.employee_links["added_at"].max(),
            self.group_links["left_at"].max(),
            self.tags["at"].max(),
            self.first_seen.max(),
            self.last_seen.max(),
        ]
        known = [t for t in times if pd.notna(t)]
        if not known:
            raise InputError("the timeline holds no dated fact; there is no 'now' to score at")
        return pd.Timestamp(max(known))


def churned_at(
    timeline: CustomerTimeline, at: Any, *, silence_days: float | None = None
) -> pd.Series:
    """When each customer churned, as seen at time ``at`` (NaT: has not churned).

    A customer has churned once every employee contact they had added by ``at`` was deleted
    by ``at`` (the churn time is the last of those deletions), or, with ``silence_days``,
    once they have been silent that long: their last sign of life
    (``timeline.last_seen``) lies ``silence_days`` or more before ``at`` (the churn time is
    the end of that silence). Since only the *latest* sign of life is known, silence is
    seen only when it lasts until now: someone silent in the past who came back counts as
    not churned then.

    Examples
    --------
    >>> import pandas as pd
    >>> links = pd.DataFrame({"customer_id": ["a", "a", "b"],
    ...                       "added_at": ["2024-01-01"] * 3,
    ...                       "deleted_at": ["2024-03-01", "", "2024-02-01"]})
    >>> t = CustomerTimeline.build({"a": "2024-01-01", "b": "2024-01-01"}, employee_links=links)
    >>> churned_at(t, "2024-06-01").dt.strftime("%Y-%m-%d").fillna("-").tolist()
    ['-', '2024-02-01']
    """
    when = pd.Timestamp(at)
    when = when.tz_localize("UTC") if when.tzinfo is None else when
    links = timeline.employee_links
    added = links["added_at"].isna() | (links["added_at"] <= when)
    links = links[added]
    gone = links["deleted_at"].notna() & (links["deleted_at"] <= when)
    frame = pd.DataFrame(
        {"customer_id": links["customer_id"], "gone": gone, "deleted_at": links["deleted_at"]}
    )
    per = frame.groupby("customer_id").agg(all_gone=("gone", "all"), last=("deleted_at", "max"))
    result = pd.Series(pd.NaT, index=timeline.first_seen.index, dtype="datetime64[ns, UTC]")
    churned = per.index[per["all_gone"].to_numpy()]
    result.loc[churned] = per.loc[churned, "last"].astype("datetime64[ns, UTC]").array
    if silence_days is not None:
        quiet_until = timeline.last_seen.reindex(result.index) + silence_days * _DAY
        lapsed = (quiet_until <= when).to_numpy(dtype=bool)
        earlier = result.isna().to_numpy() | (quiet_until < result).to_numpy(dtype=bool)
        pick = lapsed & earlier
        result.iloc[np.flatnonzero(pick)] = quiet_until.astype("datetime64[ns, UTC]").array[pick]
    return result.rename("churned_at")


def _count_by(customers: pd.Series, index: pd.Index) -> FloatArray:
    counts = customers.value_counts()
    return np.asarray(counts.reindex(index, fill_value=0).to_numpy(), dtype=np.float64)


def churn_snapshot(
    g: ig.Graph,
    timeline: CustomerTimeline,
    at: Any,
    *,
    window_days: float = 90.0,
    circles: npt.ArrayLike | None = None,
    weight: str | None = "weight",
    tags: Sequence[str] | None = None,
    silence_days: float | None = None,
) -> pd.DataFrame:
    """Churn features of every vertex as they stood at time ``at``: nothing later is read.

    Parameters
    ----------
    g : igraph.Graph
        The tie graph (vertices carry ``"id"``); its ties are taken as they are.
    timeline : CustomerTimeline
        Dated facts; customers of the graph missing from it get empty histories.
    at : datetime-like
        When the snapshot is taken.
    window_days : float, default 90
        Length of the activity windows: ``activity_recent`` counts actions in the last
        window, ``engagement_decay`` compares it with the window before.
    circles : array_like of int, optional
        Circle number of each vertex, for ``circle_churn_rate``.
    weight : str or None, default "weight"
        Tie strength attribute.
    tags : sequence of str, optional
        Tags to turn into 0/1 columns ``"tag:<name>"`` (held at ``at``); default every tag
        of the timeline.
    silence_days : float, optional
        Also count customers silent this long as churned (see :func:`churned_at`).

    Returns
    -------
    pandas.DataFrame
        Indexed by customer id: :data:`GRAPH_FEATURES` (with churn as of ``at``, employee
        deletions up to ``at`` and activity decay), :data:`RFM_FEATURES`,
        :data:`ACTIVITY_FEATURES` and the tag columns.

    Examples
    --------
    >>> import igraph as ig, pandas as pd
    >>> g = ig.Graph([(0, 1)], vertex_attrs={"id": ["a", "b"]})
    >>> links = pd.DataFrame({"customer_id": ["a", "b"], "added_at": ["2024-01-01"] * 2,
    ...                       "deleted_at": ["", "2024-05-01"]})
    >>> orders = pd.DataFrame({"customer_id": ["a", "a"], "at": ["2024-02-01", "2024-08-01"],
    ...                        "amount": [5.0, 7.0]})
    >>> t = CustomerTimeline.build({"a": "2024-01-01", "b": "2024-01-01"},
    ...                            orders=orders, employee_links=links)
    >>> s = churn_snapshot(g, t, "2024-06-01", weight=None)
    >>> s.loc["a", ["churned_neighbour_share", "frequency", "recency_days"]].tolist()
    [1.0, 1.0, 121.0]
    """
    when = pd.Timestamp(at)
    when = when.tz_localize("UTC") if when.tzinfo is None else when
    window = window_days * _DAY
    index = pd.Index(vertex_ids(g), name="customer_id")
    gone = churned_at(timeline, when, silence_days=silence_days).reindex(index).notna()

    def upto(frame: pd.DataFrame, column: str) -> pd.DataFrame:
        return frame[frame[column].notna() & (frame[column] <= when)]

    acts = upto(timeline.activity, "at")
    recent = _count_by(acts["customer_id"][acts["at"] > when - window], index)
    older = acts[(acts["at"] > when - 2 * window) & (acts["at"] <= when - window)]
    previous = _count_by(older["customer_id"], index)
    links = upto(timeline.employee_links, "deleted_at")
    features = churn_graph_features(
        g,
        churned=gone.to_numpy(),
        weight=weight,
        circles=circles,
        employee_deletions=_count_by(links["customer_id"], index),
        engagement_recent=recent,
        engagement_previous=previous,
    )
    first = timeline.first_seen.reindex(index)
    orders = upto(timeline.orders, "at")
    per = orders.groupby("customer_id").agg(
        last=("at", "max"), n=("at", "size"), spent=("amount", "sum")
    )
    per = per.reindex(index)
    since = per["last"].fillna(first)
    features["recency_days"] = ((when - since).dt.total_seconds() / 86400.0).fillna(0.0).clip(0)
    features["frequency"] = per["n"].fillna(0.0).to_numpy(dtype=np.float64)
    features["monetary"] = per["spent"].fillna(0.0).to_numpy(dtype=np.float64)
    features["tenure_days"] = ((when - first).dt.total_seconds() / 86400.0).fillna(0.0).clip(0)
    features["activity_recent"] = recent
    left = upto(timeline.group_links, "left_at")
    features["group_leaves"] = _count_by(left["customer_id"], index)
    held = upto(timeline.tags, "at")
    names = sorted(set(timeline.tags["tag"].astype(str))) if tags is None else list(tags)
    for name in names:
        holders = set(held["customer_id"][held["tag"] == name])
        features[f"{TAG_PREFIX}{name}"] = index.isin(holders).astype(np.float64)
    return features


@dataclass(frozen=True)
class ChurnForecast:
    """Churn risk of the customers who have not churned, learned from the recent past.

    Attributes
    ----------
    at : pandas.Timestamp
        When the scored snapshot was taken ("now").
    ids : list of str
        Customers scored: first seen by ``at`` and not churned at ``at``.
    risk : ndarray
        Calibrated probability of each of them churning within ``horizon_days``.
    reasons : list of list of ChurnReason
        Per scored customer, the features that raise the risk most.
    churned : pandas.Series
        Customers already churned at ``at`` -> when (their last employee deletion).
    features : pandas.DataFrame
        The scored snapshot (rows ``ids``, the model's columns).
    model : ChurnModel
        The fitted model.
    horizon_days : float
        The horizon learned: churn within this many days of a snapshot.
    training : dict
        ``cutoff`` (the training snapshot's time), ``customers`` and ``churned`` (rows and
        positives it learned from).

    Examples
    --------
    Forty customers on a ring; every second one deletes the employee's contact, spread over
    eight months. The model learns from the 120 days before 1 October and scores who is left:

    >>> import igraph as ig, pandas as pd
    >>> ids = [f"c{i}" for i in range(40)]
    >>> g = ig.Graph.Ring(40, circular=True)
    >>> g.vs["id"] = ids
    >>> deleted = [f"2024-{3 + i % 8:02d}-15" if i % 2 else None for i in range(40)]
    >>> links = pd.DataFrame({"customer_id": ids, "added_at": "2024-01-01", "deleted_at": deleted})
    >>> timeline = CustomerTimeline.build(dict.fromkeys(ids, "2024-01-01"), employee_links=links)
    >>> fc = forecast_churn(g, timeline, at="2024-10-01", horizon_days=120, weight=None,
    ...                     silence_days=None, min_churned=5)
    >>> len(fc.ids), len(fc.churned), fc.training["churned"]
    (25, 15, 10)
    >>> bool(((fc.risk >= 0) & (fc.risk <= 1)).all())
    True
    """

    at: pd.Timestamp
    ids: list[str]
    risk: FloatArray
    reasons: list[list[ChurnReason]]
    churned: pd.Series
    features: pd.DataFrame
    model: ChurnModel
    horizon_days: float
    training: dict[str, Any]


def _select(columns: Sequence[str], wanted: Sequence[str] | None) -> list[str]:
    if wanted is None:
        return [c for c in columns if c not in TIME_BLIND_FEATURES]
    chosen: list[str] = []
    for name in wanted:
        if name.endswith("*"):
            chosen += [c for c in columns if c.startswith(name[:-1]) and c not in chosen]
        elif name in columns:
            if name not in chosen:
                chosen.append(name)
        else:
            raise InputError(f"unknown churn feature {name!r}; known: {list(columns)}")
    return chosen


def forecast_churn(
    g: ig.Graph,
    timeline: CustomerTimeline,
    *,
    at: Any = None,
    horizon_days: float = 90.0,
    window_days: float = 90.0,
    circles: npt.ArrayLike | None = None,
    weight: str | None = "weight",
    features: Sequence[str] | None = None,
    model: Literal["logistic", "boosting"] = "logistic",
    silence_days: float | None = 90.0,
    min_churned: int = 10,
    top_reasons: int = 3,
    seed: int = 0,
    n_threads: int | None = 1,
) -> ChurnForecast:
    """Learn who churns from the last ``horizon_days`` and score everyone still here.

    The training snapshot is taken at ``at - horizon_days`` from facts up to then only; its
    label is whether the customer churned (:func:`churned_at`) by ``at``. The fitted model
    then scores the snapshot at ``at``, so the risk reads "probability of churning within
    the next ``horizon_days``". No label is ever computed from the same facts as its
    features.

    Parameters
    ----------
    g, timeline, window_days, circles, weight
        As for :func:`churn_snapshot`.
    at : datetime-like, optional
        "Now"; default the latest fact of the timeline.
    horizon_days : float, default 90
        How far ahead the risk looks (and how far back the model learns).
    features : sequence of str, optional
        Columns of :func:`churn_snapshot` to use (``"tag:*"`` takes every tag column);
        default all but :data:`TIME_BLIND_FEATURES`. ``RFM_FEATURES`` alone gives the
        classic RFM model.
    model : {"logistic", "boosting"}, default "logistic"
        See :class:`ChurnModel`.
    silence_days : float or None, default 90
        Customers silent this long count as churned, beside those who deleted every
        employee contact (see :func:`churned_at`); ``None`` counts deletions only.
    min_churned : int, default 10
        Least number of churned and of retained customers needed to learn from.
    top_reasons : int, default 3
        Reasons kept per customer.
    seed, n_threads
        Passed to :class:`ChurnModel`.

    Raises
    ------
    InputError
        Too few customers churned (or stayed) in the training window to learn from.

    Examples
    --------
    Half of forty customers delete the employee's contact, spread over eight months:

    >>> import igraph as ig, pandas as pd
    >>> ids = [f"c{i}" for i in range(40)]
    >>> g = ig.Graph.Ring(40, circular=True)
    >>> g.vs["id"] = ids
    >>> deleted = [f"2024-{3 + i % 8:02d}-15" if i % 2 else None for i in range(40)]
    >>> links = pd.DataFrame({"customer_id": ids, "added_at": "2024-01-01", "deleted_at": deleted})
    >>> timeline = CustomerTimeline.build(dict.fromkeys(ids, "2024-01-01"), employee_links=links)
    >>> fc = forecast_churn(g, timeline, at="2024-10-01", horizon_days=120, weight=None,
    ...                     silence_days=None, min_churned=5)
    >>> set(fc.churned.index) < set(ids[1::2]), set(ids[::2]) <= set(fc.ids)
    (True, True)
    """
    now = timeline.latest if at is None else pd.Timestamp(at)
    now = now.tz_localize("UTC") if now.tzinfo is None else now
    cutoff = now - horizon_days * _DAY
    first = timeline.first_seen.reindex(list(vertex_ids(g)))

    def population(when: pd.Timestamp) -> npt.NDArray[np.bool_]:
        here = (first.isna() | (first <= when)).to_numpy()
        gone = churned_at(timeline, when, silence_days=silence_days).reindex(first.index)
        return np.asarray(here & gone.isna().to_numpy())

    train_rows = population(cutoff)
    later = churned_at(timeline, now, silence_days=silence_days).reindex(first.index)
    labels = later.notna().to_numpy()[train_rows]
    positives = int(labels.sum())
    if positives < min_churned or len(labels) - positives < min_churned:
        raise InputError(
            f"{positives} of {len(labels)} customers churned (lost every employee contact"
            f"{'' if silence_days is None else f' or fell silent for {silence_days:.0f} days'}) "
            f"between {cutoff.date()} and {now.date()}; the churn model needs at least "
            f"{min_churned} churned and {min_churned} retained customers to learn from "
            "(a longer horizon_days, or more history, gives it more)"
        )
    options: dict[str, Any] = {
        "window_days": window_days,
        "circles": circles,
        "weight": weight,
        "silence_days": silence_days,
    }
    snapshot = churn_snapshot(g, timeline, cutoff, **options)
    columns = _select(list(snapshot.columns), features)
    train = snapshot.loc[train_rows, columns]
    columns = [c for c in columns if train[c].nunique() > 1]
    if not columns:
        raise InputError(
            "none of the chosen churn features varies among the customers to learn from; "
            "choose other features or give the timeline more facts"
        )
    fitted = ChurnModel(model=model, random_state=seed, n_threads=n_threads).fit(
        train[columns], labels.astype(np.int64)
    )
    tag_names = [c[len(TAG_PREFIX) :] for c in columns if c.startswith(TAG_PREFIX)]
    current = churn_snapshot(g, timeline, now, tags=tag_names, **options)
    scored = population(now)
    table = current.loc[scored, columns]
    gone = later
    return ChurnForecast(
        at=now,
        ids=[str(v) for v in table.index],
        risk=fitted.risk(table),
        reasons=fitted.reasons(table, top=top_reasons),
        churned=gone[gone.notna()],
        features=table,
        model=fitted,
        horizon_days=horizon_days,
        training={"cutoff": cutoff, "customers": len(labels), "churned": positives},
    )


def _share(x: float) -> str:
    return f"{x:.0%}"


_REASONS: dict[str, Any] = {
    "churned_neighbour_share": lambda v, t, w: (
        f"{_share(v)} of their tie strength is with customers who left (typical {_share(t)})"
    ),
    "churned_neighbours": lambda v, t, w: f"{v:.0f} of their contacts have left",
    "circle_churn_rate": lambda v, t, w: (
        f"{_share(v)} of their circle has left (typical {_share(t)})"
    ),
    "employee_deletions": lambda v, t, w: f"deleted {v:.0f} employee contact(s)",
    "engagement_decay": lambda v, t, w: (
        f"no activity in the last {w:.0f} days after some before"
        if v >= 1
        else f"activity fell {_share(2 * v / (1 + v))} in the last {w:.0f} days"
        if v > 0
        else f"activity rose in the last {w:.0f} days"
    ),
    "degree": lambda v, t, w: f"only {v:.0f} contacts (typical {t:.0f})",
    "strength": lambda v, t, w: f"weak ties: strength {v:.1f} (typical {t:.1f})",
    "recency_days": lambda v, t, w: f"no order for {v:.0f} days (typical {t:.0f})",
    "frequency": lambda v, t, w: f"{v:.0f} orders (typical {t:.1f})",
    "monetary": lambda v, t, w: f"spent {v:,.0f} (typical {t:,.0f})",
    "tenure_days": lambda v, t, w: f"customer for {v:.0f} days (typical {t:.0f})",
    "activity_recent": lambda v, t, w: (
        f"{v:.0f} actions in the last {w:.0f} days (typical {t:.1f})"
    ),
    "group_leaves": lambda v, t, w: f"left {v:.0f} group(s)",
}


def reason_text(reason: ChurnReason, *, window_days: float = 90.0) -> str:
    """One churn reason in a salesperson's words.

    Examples
    --------
    >>> reason_text(ChurnReason("circle_churn_rate", 0.25, 0.04, 0.1))
    '25% of their circle has left (typical 4%)'
    >>> reason_text(ChurnReason("tag:complaint", 1.0, 0.05, 0.2))
    "tagged 'complaint'"
    """
    if reason.feature.startswith(TAG_PREFIX):
        name = reason.feature[len(TAG_PREFIX) :]
        return f"tagged '{name}'" if reason.value >= 0.5 else f"not tagged '{name}'"
    text = _REASONS.get(reason.feature)
    if text is None:
        return f"{reason.feature} is {reason.value:.3g} (typical {reason.typical:.3g})"
    return str(text(reason.value, reason.typical, window_days))
