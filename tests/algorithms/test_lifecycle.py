"""Lifecycle: rules give the expected tier and stage; history gives conversion rates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quanzi.algorithms.lifecycle import (
    FUNNEL,
    TIERS,
    Condition,
    Ladder,
    Rule,
    assign_funnel_stages,
    assign_tiers,
    conversion_rates,
    label_history,
    preference_distribution,
    record_transitions,
    rfm_scores,
    transition_matrix,
)
from quanzi.errors import InputError


@pytest.fixture
def facts() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "orders": [0, 1, 3, 5, 4, 0],
            "days_since_last_order": [np.nan, 20, 100, 500, 10, np.nan],
            "is_member": [False, False, False, False, True, True],
            "intent_signals": [0, 1, 0, 2, 3, 1],
            "meetings": [0, 0, 1, 1, 2, 1],
            "monetary": [0.0, 50, 400, 900, 1200, 0],
        },
        index=["nobody", "first_buyer", "regular", "lapsed", "vip", "member_only"],
    )


def test_hand_built_facts_give_the_expected_tiers(facts: pd.DataFrame) -> None:
    tiers = assign_tiers(facts)
    assert tiers.to_dict() == {
        "nobody": "potential",
        "first_buyer": "general",
        "regular": "loyal",
        "lapsed": "general",  # three orders, but none in the last year
        "vip": "member",
        "member_only": "member",
    }
    assert tiers.cat.ordered
    assert tiers.max() == "member"


def test_hand_built_facts_give_the_expected_stages(facts: pd.DataFrame) -> None:
    stages = assign_funnel_stages(facts)
    assert stages.tolist() == ["first_contact", "order", "order", "order", "order", "meeting"]


def test_rules_are_configurable() -> None:
    ladder = Ladder.parse(
        ["bronze", "silver", "gold"],
        ["silver: monetary >= 100", "gold: monetary >= 1000 and region == 'north'"],
    )
    facts = pd.DataFrame({"monetary": [10, 500, 2000, 2000], "region": ["n", "x", "north", "s"]})
    assert ladder.assign(facts).tolist() == ["bronze", "silver", "gold", "silver"]


def test_rule_parsing_and_errors() -> None:
    assert Condition.parse("orders >= 3") == Condition("orders", ">=", 3.0)
    assert Rule.parse("member: is_member == TRUE").conditions[0].value is True
    with pytest.raises(InputError):
        Condition.parse("orders about 3")
    with pytest.raises(InputError):
        Rule.parse("no colon here")
    with pytest.raises(InputError, match="not on the ladder"):
        Ladder.parse(["a"], ["b: x > 1"])
    with pytest.raises(InputError, match="not a column"):
        TIERS.assign(pd.DataFrame({"orders": [1]}))


def test_transitions_and_conversion_rates() -> None:
    jan = pd.Series({"a": "first_contact", "b": "first_contact", "c": "first_contact"})
    feb = pd.Series({"a": "intention", "b": "first_contact", "c": "order"})
    mar = pd.Series({"a": "meeting", "b": "first_contact", "c": "order", "d": "first_contact"})
    history = pd.concat(
        [
            record_transitions(pd.Series(dtype=object), jan, at="2025-01-01"),
            record_transitions(jan, feb, at="2025-02-01"),
            record_transitions(feb, mar, at="2025-03-01"),
        ]
    )
    assert len(history) == 3 + 2 + 2
    rates = conversion_rates(history, FUNNEL).set_index("from_label")
    counts = rates[["reached", "converted"]].to_numpy().tolist()
    assert counts == [[4, 2], [2, 2], [2, 1]]  # c skipped intention and meeting
    assert rates.loc["first_contact", "rate"] == pytest.approx(0.5)
    assert rates.loc["first_contact", "median_days"] == pytest.approx(31.0)
    matrix = transition_matrix(history, FUNNEL)
    assert matrix.loc["first_contact", "order"] == 1
    assert matrix.loc["intention", "meeting"] == 1
    assert int(matrix.to_numpy().sum()) == 3  # d is new: no 'from' label


def test_rfm_scores_and_segments(facts: pd.DataFrame) -> None:
    scores = rfm_scores(facts)
    assert set(scores.columns) == {"r", "f", "m", "rfm", "segment"}
    assert scores["r"].between(1, 5).all()
    assert scores.loc["vip", "segment"] == "champions"
    assert scores.loc["nobody", "rfm"] == "111"
    assert scores.loc["nobody", "segment"] == "lost"
    with pytest.raises(InputError, match="monetary"):
        rfm_scores(facts.drop(columns="monetary"))


def test_rfm_quantiles_are_balanced() -> None:
    rng = np.random.default_rng(0)
    facts = pd.DataFrame(
        {
            "days_since_last_order": rng.integers(1, 365, 1000),
            "orders": rng.integers(1, 50, 1000),
            "monetary": rng.gamma(2.0, 100.0, 1000),
        }
    )
    counts = rfm_scores(facts)["m"].value_counts()
    assert counts.min() == counts.max() == 200


def test_preferences_per_segment() -> None:
    prefs = preference_distribution(
        pd.Series({"a": "vip", "b": "vip", "c": "new", "d": "new"}),
        {"a": ["golf"], "b": ["golf", "wine"], "c": ["golf"], "d": []},
        min_customers=1,
    )
    vip = prefs[prefs.segment == "vip"].set_index("value")
    assert vip.loc["golf", "share"] == 1.0
    assert vip.loc["golf", "lift"] == pytest.approx(1.0 / 0.75)
    assert preference_distribution({"a": "x"}, {}).empty


def test_label_history_follows_ups_and_downs() -> None:
    # a: three orders in 2023 (loyal), then nothing: lapses to general after a year.
    times = pd.to_datetime(["2023-01-01", "2023-03-01", "2023-06-01", "2024-06-01", "2024-07-01"])
    facts = pd.DataFrame(
        {
            "customer_id": ["a"] * 5 + ["b"],
            "at": [*times, pd.Timestamp("2023-01-01")],
            "orders": [1, 2, 3, 3, 3, 0],
            "days_since_last_order": [0, 0, 0, 366, 396, None],
            "is_member": False,
        }
    )
    history = label_history(facts, TIERS)
    a = history[history.customer_id == "a"]
    assert a.to_label.tolist() == ["general", "loyal", "general"]
    assert a["at"].dt.strftime("%Y-%m-%d").tolist() == ["2023-01-01", "2023-06-01", "2024-06-01"]
    assert history[history.customer_id == "b"].to_label.tolist() == ["potential"]
    matrix = transition_matrix(history, TIERS)
    assert matrix.loc["loyal", "general"] == 1
    assert matrix.loc["general", "loyal"] == 1
    rates = conversion_rates(history, TIERS).set_index("from_label")
    assert rates.loc["potential", "reached"] == 2
    assert rates.loc["general", "converted"] == 1  # a reached loyal once
    # Input order does not matter.
    shuffled = label_history(facts.sample(frac=1.0, random_state=1), TIERS)
    pd.testing.assert_frame_equal(shuffled, history)
