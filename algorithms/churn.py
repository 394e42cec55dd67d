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

from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Literal, Self, cast

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
    "ChurnModel",
    "ChurnReason",
    "churn_graph_features",
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
        base = self.risk(values)
        effects = np.empty_like(values)
        for j in range(values.shape[1]):
            typical = values.copy()
            typical[:, j] = self.means_[j]
            effects[:, j] = base - self.risk(typical)
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
