"""Lookalike part weights saved in the graph (by a notebook or the client) drive the API."""

from __future__ import annotations

import pytest

from quanzi.algorithms.lookalike import LookalikeWeights
from quanzi.api.services.lookalikes import (
    LOOKALIKE_WEIGHTS_SETTING,
    lookalike_weights,
    save_lookalike_weights,
)
from quanzi.errors import ConfigError
from quanzi.graph.store import GraphStore
from quanzi.model import Node
from tests.api.conftest import Api

pytestmark = pytest.mark.store

BODY = {"seeds": ["c1", "c2"], "k": 5}


def _parts(api: Api) -> set[str]:
    response = api.post("/lookalikes", role="sales", json=BODY)
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert items
    return {name for item in items for name in item["parts"]}


def test_defaults_until_a_setting_is_saved(graph: Api, store: GraphStore) -> None:
    assert lookalike_weights(store) == LookalikeWeights()
    assert {"proximity", "adamic_adar", "embedding"} <= _parts(graph)


def test_saved_weights_are_used_by_the_next_request(graph: Api, store: GraphStore) -> None:
    only_graph_walks = LookalikeWeights(
        proximity=1.0, adamic_adar=0.0, embedding=0.0, attributes=0.0, profile=0.0
    )
    saved = save_lookalike_weights(store, only_graph_walks, actor="test", note="why")
    assert saved["note"] == "why"
    assert lookalike_weights(store) == only_graph_walks
    assert _parts(graph) == {"proximity"}  # parts weighted 0 are not even computed
    stored = store.get_node(Node.SETTING, LOOKALIKE_WEIGHTS_SETTING)
    assert stored is not None
    assert stored["updated_by"] == "test"


def test_a_setting_naming_some_parts_keeps_the_other_defaults(store: GraphStore) -> None:
    store.upsert_nodes(Node.SETTING, [{"id": LOOKALIKE_WEIGHTS_SETTING, "attributes": 0.9}])
    assert lookalike_weights(store) == LookalikeWeights(attributes=0.9)


@pytest.mark.parametrize(
    ("value", "message"), [("high", "is not a number"), (-1.0, "must be >= 0")]
)
def test_a_broken_setting_is_a_clear_error(
    graph: Api, store: GraphStore, value: object, message: str
) -> None:
    store.upsert_nodes(Node.SETTING, [{"id": LOOKALIKE_WEIGHTS_SETTING, "proximity": value}])
    with pytest.raises(ConfigError, match=message) as e:
        lookalike_weights(store)
    assert "save_lookalike_weights" in str(e.value)
    response = graph.post("/lookalikes", role="sales", json=BODY)
    assert response.status_code == 500
    assert LOOKALIKE_WEIGHTS_SETTING in response.json()["detail"]
