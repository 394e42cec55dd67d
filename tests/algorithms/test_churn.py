"""Churn: graph features on a hand-built graph; the model finds a planted signal."""

from __future__ import annotations

import igraph as ig
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

from quanzi.algorithms.churn import (
    GRAPH_FEATURES,
    RFM_FEATURES,
    ChurnModel,
    ChurnReason,
    CustomerTimeline,
    churn_graph_features,
    churn_snapshot,
    churned_at,
    forecast_churn,
    reason_text,
)
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


# -- churn over time ------------------------------------------------------------------------


def _links(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["customer_id", "added_at", "deleted_at"])


def test_churned_at_needs_every_contact_deleted_or_a_silence() -> None:
    links = _links(
        [
            ("all_gone", "2024-01-01", "2024-03-01"),
            ("all_gone", "2024-01-01", "2024-04-01"),
            ("one_left", "2024-01-01", "2024-03-01"),
            ("one_left", "2024-02-01", ""),
            ("later", "2024-01-01", "2024-09-01"),
            ("quiet", "2024-01-01", ""),
        ]
    )
    timeline = CustomerTimeline.build(
        dict.fromkeys(["all_gone", "one_left", "later", "quiet", "no_contact"], "2024-01-01"),
        employee_links=links,
        last_seen={"quiet": "2024-02-01", "one_left": "2024-06-01"},
    )
    at = churned_at(timeline, "2024-06-01")
    assert str(at["all_gone"].date()) == "2024-04-01"  # the last of the deletions
    assert at.drop("all_gone").isna().all()
    silent = churned_at(timeline, "2024-06-01", silence_days=90)
    assert str(silent["quiet"].date()) == "2024-05-01"  # 90 days after the last sign of life
    assert pd.isna(silent["one_left"])  # seen 2024-06-01
    assert pd.isna(silent["no_contact"])  # nothing known, never silent
    assert str(silent["all_gone"].date()) == "2024-04-01"


def _world(n_circles: int = 6, size: int = 30, seed: int = 0) -> tuple[ig.Graph, CustomerTimeline]:
    """Circles of friends; in the "leaving" circles churn spreads from early leavers.

    Everyone is active until they leave (monthly orders); leaving = deleting the employee.
    Half the circles are leaving: 30 % of their members leave before 2024-09-01, 60 % of
    the rest in the next 120 days; elsewhere 4 % leave at random times.
    """
    rng = np.random.default_rng(seed)
    ids = [f"k{c}-{i}" for c in range(n_circles) for i in range(size)]
    edges = []
    for c in range(n_circles):
        base = c * size
        for i in range(size):
            for j in rng.choice(size, 4, replace=False):
                if j != i:
                    edges.append((base + i, base + int(j)))
    g = ig.Graph(len(ids), edges).simplify()
    g.vs["id"] = ids
    g.es["weight"] = 1.0
    start = pd.Timestamp("2024-01-01", tz="UTC")
    gone: dict[str, pd.Timestamp] = {}
    for c in range(n_circles):
        for i in range(size):
            cid = f"k{c}-{i}"
            if c % 2 == 0:
                if rng.random() < 0.3:
                    gone[cid] = start + pd.Timedelta(days=int(rng.integers(120, 240)))
                elif rng.random() < 0.6:
                    gone[cid] = start + pd.Timedelta(days=int(rng.integers(250, 360)))
            elif rng.random() < 0.04:
                gone[cid] = start + pd.Timedelta(days=int(rng.integers(60, 360)))
    end = start + pd.Timedelta(days=365)
    orders = [
        (cid, day, 10.0)
        for cid in ids
        for day in pd.date_range(start, gone.get(cid, end), freq=f"{rng.integers(20, 60)}D")
    ]
    timeline = CustomerTimeline.build(
        dict.fromkeys(ids, start),
        orders=pd.DataFrame(orders, columns=["customer_id", "at", "amount"]),
        employee_links=_links([(cid, start, gone.get(cid, "")) for cid in ids]),
        last_seen={cid: gone.get(cid, end) for cid in ids},
    )
    return g, timeline


def test_snapshot_reads_nothing_after_its_time() -> None:
    g, timeline = _world()
    at = pd.Timestamp("2024-07-01", tz="UTC")
    before = churn_snapshot(g, timeline, at, weight=None, silence_days=90)
    future = pd.DataFrame(
        {"customer_id": list(g.vs["id"]), "at": at + pd.Timedelta(days=3), "amount": 99.0}
    )
    later = CustomerTimeline.build(
        timeline.first_seen,
        orders=pd.concat([timeline.orders, future]),
        employee_links=pd.concat(
            [timeline.employee_links, _links([("k0-0", "2024-07-02", "2024-07-03")])]
        ),
        tags=pd.DataFrame({"customer_id": ["k1-1"], "tag": ["vip"], "at": ["2024-08-01"]}),
        last_seen=timeline.last_seen,
    )
    after = churn_snapshot(g, later, at, weight=None, silence_days=90)
    pd.testing.assert_frame_equal(before, after.drop(columns="tag:vip"))
    assert after["tag:vip"].sum() == 0


def test_forecast_learns_that_churn_spreads_through_circles() -> None:
    g, timeline = _world()
    circles = np.repeat(np.arange(6), 30)
    forecast = forecast_churn(
        g, timeline, at="2024-10-01", horizon_days=120, circles=circles, silence_days=None
    )
    assert str(forecast.training["cutoff"].date()) == "2024-06-03"
    assert forecast.training["churned"] >= 10
    assert "degree" not in forecast.features.columns  # time-blind, left out by default
    risk = pd.Series(forecast.risk, index=forecast.ids)
    leaving = risk[[i for i in risk.index if int(i[1]) % 2 == 0]]
    staying = risk[[i for i in risk.index if int(i[1]) % 2 == 1]]
    assert leaving.mean() > 2 * staying.mean()
    assert set(forecast.churned.index).isdisjoint(forecast.ids)
    top = forecast.reasons[int(np.argmax(forecast.risk))]
    assert top[0].feature in {"circle_churn_rate", "churned_neighbour_share"}
    rfm = forecast_churn(g, timeline, at="2024-10-01", horizon_days=120, features=RFM_FEATURES)
    assert list(rfm.features.columns) == [c for c in RFM_FEATURES if c in rfm.features]


def test_forecast_says_when_there_is_too_little_churn_to_learn_from() -> None:
    g, timeline = _world()
    with pytest.raises(InputError, match=r"0 of 180 customers churned .* at least 10"):
        forecast_churn(g, timeline, at="2024-03-01", horizon_days=30, silence_days=None)
    with pytest.raises(InputError, match="unknown churn feature"):
        forecast_churn(g, timeline, at="2024-10-01", horizon_days=120, features=["charisma"])
    with pytest.raises(InputError, match="lacks the column"):
        CustomerTimeline.build({"a": "2024-01-01"}, orders=pd.DataFrame({"customer_id": ["a"]}))


@pytest.mark.parametrize(
    "feature",
    [*GRAPH_FEATURES, *RFM_FEATURES, "tenure_days", "activity_recent", "group_leaves", "x"],
)
def test_every_reason_reads_as_text(feature: str) -> None:
    for value in (-1.0, -0.4, 0.0, 0.4, 1.0):
        text = reason_text(ChurnReason(feature, value, 0.1, 0.05))
        assert text
        assert "{" not in text
    assert reason_text(ChurnReason("engagement_decay", 0.6, 0.0, 0.1)) == (
        "activity fell 75% in the last 90 days"
    )
