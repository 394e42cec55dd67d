"""Churn: graph features on a hand-built graph; the model finds a planted signal."""

from __future__ import annotations

import igraph as ig
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

from quanzi.algorithms.churn import GRAPH_FEATURES, ChurnModel, churn_graph_features
from quanzi.errors import InputError


def planted(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Churn driven by churned contacts and recency; 'noise' carries no signal."""
    rng = np.random.default_rng(seed)
    table = pd.DataFrame(
        {
            "churned_neighbour_share": rng.random(n),
            "days_since_last_order": rng.exponential(60, n),
            "noise": rng.normal(size=n),
        }
    )
    logit = 5 * table["churned_neighbour_share"] + table["days_since_last_order"] / 40 - 3.5
    labels = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int).to_numpy()
    return table, labels


def test_graph_features_on_a_small_graph() -> None:
    # a - b - c, a - d; b churned; circles {a, b, c} and {d}
    g = ig.Graph([(0, 1), (1, 2), (0, 3)], vertex_attrs={"id": ["a", "b", "c", "d"]})
    g.es["weight"] = [3.0, 1.0, 1.0]
    features = churn_graph_features(
        g,
        churned=[False, True, False, False],
        circles=[0, 0, 0, 1],
        employee_deletions=[0, 2, 0, 1],
        engagement_recent=[0, 1, 5, 0],
        engagement_previous=[4, 1, 0, 0],
    )
    assert list(features.columns) == list(GRAPH_FEATURES)
    assert features.index.tolist() == ["a", "b", "c", "d"]
    assert features.loc["a", "churned_neighbour_share"] == pytest.approx(0.75)
    assert features.loc["c", "churned_neighbours"] == 1
    assert features.loc["a", "circle_churn_rate"] == pytest.approx(0.5)  # b of {b, c}
    assert features.loc["b", "circle_churn_rate"] == 0.0  # its own churn does not count
    assert features.loc["d", "circle_churn_rate"] == 0.0  # alone in its circle
    assert features["engagement_decay"].tolist() == [1.0, 0.0, -1.0, 0.0]
    assert features.loc["a", "degree"] == 2
    assert features.loc["a", "strength"] == 4.0


def test_graph_features_check_lengths() -> None:
    g = ig.Graph(2)
    with pytest.raises(InputError, match="one value per vertex"):
        churn_graph_features(g, churned=[True])


@pytest.mark.parametrize("model", ["logistic", "boosting"])
def test_model_finds_the_planted_signal(model: str) -> None:
    train_x, train_y = planted(1500, seed=1)
    test_x, test_y = planted(800, seed=2)
    fitted = ChurnModel(model=model, n_threads=1).fit(train_x, train_y)  # type: ignore[arg-type]
    risk = fitted.risk(test_x)
    assert roc_auc_score(test_y, risk) > 0.8
    assert np.all((risk >= 0) & (risk <= 1))
    # calibrated: the mean predicted risk is close to the observed churn rate
    assert abs(risk.mean() - test_y.mean()) < 0.05


def test_reasons_name_the_features_that_raise_risk() -> None:
    x, y = planted(1500, seed=3)
    model = ChurnModel().fit(x, y)
    risky = pd.DataFrame(
        {"churned_neighbour_share": [0.95], "days_since_last_order": [40.0], "noise": [0.0]}
    )
    (reasons,) = model.reasons(risky)
    assert reasons[0].feature == "churned_neighbour_share"
    assert reasons[0].effect > 0
    assert reasons[0].typical == pytest.approx(x["churned_neighbour_share"].mean())
    assert all(r.effect > 0 for r in reasons)


def test_model_follows_estimator_conventions() -> None:
    x, y = planted(300, seed=4)
    model = ChurnModel(cv=2)
    assert clone(model).get_params()["cv"] == 2
    assert not hasattr(model, "calibrated_")
    model.fit(x, y)
    assert model.feature_names_ == list(x.columns)
    assert model.predict(x).shape == (300,)
    # columns are matched by name
    assert np.allclose(model.risk(x[x.columns[::-1]]), model.risk(x))


def test_model_refuses_bad_input() -> None:
    x, y = planted(100, seed=5)
    with pytest.raises(InputError, match="both"):
        ChurnModel().fit(x, np.zeros(100))
    model = ChurnModel().fit(x, y)
    with pytest.raises(InputError, match="lacks"):
        model.risk(x.drop(columns="noise"))
    with pytest.raises(InputError, match="NaN"):
        model.risk(x.assign(noise=np.nan))
    with pytest.raises(InputError, match="model"):
        ChurnModel(model="forest").fit(x, y)  # type: ignore[arg-type]
