"""Lookalike part weights saved in the graph (by a notebook or the client) drive the API."""

from __future__ import annotations

import time

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
    assert graph.get("/lookalikes/weights").status_code == 500
    # Saving valid weights over HTTP repairs it.
    assert graph.put("/lookalikes/weights", json={"note": "repair"}).status_code == 200
    assert lookalike_weights(store) == LookalikeWeights()
    assert graph.post("/lookalikes", role="sales", json=BODY).status_code == 200


def test_weights_over_http_read_saved_and_used(graph: Api) -> None:
    shown = graph.get("/lookalikes/weights", role="viewer")
    assert shown.status_code == 200, shown.text
    assert shown.json() == {
        "proximity": 0.4,
        "adamic_adar": 0.2,
        "embedding": 0.2,
        "attributes": 0.2,
        "profile": 0.1,
        "saved": False,
        "updated_at": None,
        "updated_by": None,
        "note": None,
    }
    body = {"proximity": 1.0, "adamic_adar": 0, "embedding": 0, "attributes": 0, "note": "walks"}
    assert graph.put("/lookalikes/weights", role="sales", json=body).status_code == 403
    saved = graph.put("/lookalikes/weights", json=body)
    assert saved.status_code == 200, saved.text
    after = graph.get("/lookalikes/weights", role="sales").json()
    assert after == saved.json()
    assert after["saved"]
    assert after["note"] == "walks"
    assert after["updated_by"]
    assert after["profile"] == 0.1  # left out: its default
    assert _parts(graph) == {"proximity"}
    audit = graph.get("/audit?limit=20").json()["items"]
    assert any(e.get("action") == "lookalike_weights_saved" for e in audit)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"proximity": -0.1}, "proximity"),
        ({"embedding": "much"}, "embedding"),
        ({"proximity": 0, "adamic_adar": 0, "embedding": 0, "attributes": 0, "profile": 0}, ""),
        # A misspelt part is refused, not dropped (it would reset `proximity` to its default).
        ({"proximty": 0.5}, "body.proximty"),
    ],
)
def test_bad_weights_are_422_and_change_nothing(
    graph: Api, store: GraphStore, body: dict[str, object], field: str
) -> None:
    response = graph.put("/lookalikes/weights", json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert field in response.text
    if not field:
        assert "at least one part" in response.json()["detail"]
    assert lookalike_weights(store) == LookalikeWeights()
    assert store.get_node(Node.SETTING, LOOKALIKE_WEIGHTS_SETTING) is None


def test_weights_saved_by_another_process_show_within_the_check_interval(
    graph: Api, store: GraphStore
) -> None:
    cache = graph.client.app.state.graph_cache  # type: ignore[attr-defined]
    assert {"proximity", "adamic_adar"} <= _parts(graph)  # the defaults, now kept
    # another process (a notebook) saves weights: this worker still uses what it holds ...
    only_walks = LookalikeWeights(
        proximity=1.0, adamic_adar=0.0, embedding=0.0, attributes=0.0, profile=0.0
    )
    save_lookalike_weights(store, only_walks, actor="notebook")
    assert "adamic_adar" in _parts(graph)
    # ... until what it holds is check_s old
    cache.check_s = 0.05
    time.sleep(0.1)
    assert _parts(graph) == {"proximity"}
    # a save through this worker takes effect at its next search
    cache.check_s = 60.0
    response = graph.put("/lookalikes/weights", json={"adamic_adar": 1.0, "proximity": 0.0})
    assert response.status_code == 200, response.text
    assert "proximity" not in _parts(graph)
