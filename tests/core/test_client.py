"""The Python client (``quanzi.connect``) against the real bundled store, and its doctests."""

from __future__ import annotations

import doctest
import inspect
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

import quanzi
import quanzi.client
from quanzi.api.services.analysis import run_analysis
from quanzi.client import Client, connect
from quanzi.errors import InputError, NotFoundError, StoreUnavailableError
from quanzi.graph.store import GraphStore
from quanzi.ingest import ingest_files
from quanzi.ingest.synthetic import GeneratorConfig, generate
from quanzi.model import Node
from quanzi.settings import Settings

pytestmark = pytest.mark.store


@pytest.fixture(scope="module")
def demo(
    session_store: GraphStore, store_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A small generated data set, loaded and analysed once for the module's tests."""
    session_store.delete_everything()
    folder = tmp_path_factory.mktemp("client-demo")
    generate(folder, GeneratorConfig(customers=150, seed=3))
    report = ingest_files(session_store, [folder], store_settings)
    assert report.ok
    run_analysis(session_store, store_settings)
    return folder


@pytest.fixture(scope="module")
def client(demo: Path, store_settings: Settings) -> Iterator[Client]:
    q = connect("bundled", data_dir=store_settings.data_dir)
    yield q
    q.close()


def test_docstring_examples(client: Client, demo: Path, store_settings: Settings) -> None:
    result = doctest.testmod(
        quanzi.client,
        extraglobs={"q": client, "data_dir": store_settings.data_dir, "demo_folder": demo},
        optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS,
    )
    assert result.attempted > 40
    assert result.failed == 0


def test_every_public_method_has_an_example() -> None:
    assert ">>>" in (connect.__doc__ or "")
    for name, member in inspect.getmembers(Client, inspect.isfunction):
        if not name.startswith("_"):
            assert ">>>" in (member.__doc__ or ""), f"Client.{name} has no example"


def test_connect_is_exported_lazily() -> None:
    assert quanzi.connect is connect
    assert quanzi.Client is Client
    with pytest.raises(AttributeError):
        _ = quanzi.no_such_name  # type: ignore[attr-defined]


def test_connect_refuses_unclear_arguments(store_settings: Settings) -> None:
    with pytest.raises(InputError, match="neither 'bundled' nor a Bolt URI"):
        connect("http://user:secret@example.com:7474")
    with pytest.raises(InputError) as e:
        connect("http://user:secret@example.com:7474")
    assert "secret" not in str(e.value)
    with pytest.raises(InputError, match="either settings"):
        connect("bundled", settings=store_settings)


def test_connect_without_start_to_a_stopped_store(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailableError, match="quanzi store start"):
        connect("bundled", data_dir=tmp_path / "never-started", start=False)


def test_closing_leaves_a_store_it_did_not_start_running(
    client: Client, store_settings: Settings
) -> None:
    other = connect(settings=store_settings)
    assert "bundled store" in repr(other)
    other.close()
    other.close()  # twice is harmless
    assert "closed" in repr(other)
    assert client.counts()["Customer"] > 0


def test_tables_mask_identifiers_unless_asked(client: Client) -> None:
    masked = client.nodes("Identity").query("kind == 'phone'")
    clear = client.nodes("Identity", unmask=True).query("kind == 'phone'")
    assert len(masked) == len(clear) > 0
    assert masked["key"].str.contains("****", regex=False).all()
    assert clear["key"].str.match(r"^\+\d{8,}$").all()
    assert not masked.index.str.contains(r"\d{8}").any()  # ids like phone:+86... masked too
    links = client.edges("HAS_IDENTITY", "Customer", "Identity")
    phone_links = links[links["end"].str.startswith("phone:")]
    assert phone_links["end"].str.contains("****", regex=False).all()


def test_projections_agree(client: Client) -> None:
    p = client.projection()
    g, nxg = p.to_igraph(), p.to_networkx()
    edges = client.edges()
    assert g.vcount() == nxg.number_of_nodes() == len(client.nodes())
    assert g.ecount() == len(edges)
    # networkx holds one edge per pair: parallel weights are summed, none lost.
    assert sum(w for _, _, w in nxg.edges(data="weight")) == pytest.approx(sum(g.es["weight"]))
    assert edges["weight"].sum() == pytest.approx(sum(g.es["weight"]))


def test_write_properties_is_all_or_nothing(client: Client) -> None:
    ids = client.nodes().index[:3].tolist()
    bad = pd.DataFrame({"nb_score": [0.1, 0.2, {"not": "storable"}]}, index=ids)
    with pytest.raises(InputError, match="nb_score"):
        client.write_properties("Customer", bad)
    assert "nb_score" not in client.nodes().columns
    with pytest.raises(InputError, match="'id' cannot be written"):
        client.write_properties("Customer", pd.DataFrame({"id": ["x"]}, index=ids[:1]))
    with pytest.raises(InputError, match="name the Series"):
        client.write_properties("Customer", pd.Series([1.0], index=ids[:1]))

    changes = client.store.graph_changes()[0]  # no failed write above counted a change
    good = pd.DataFrame({"nb_score": [0.1, float("nan"), 0.3]}, index=ids)
    assert client.write_properties("Customer", good) == 3
    # Counted, so that other processes' kept reports and graphs see the new properties.
    assert client.store.graph_changes()[0] == changes + 1
    written = client.nodes()["nb_score"]
    assert written[ids[0]] == 0.1
    assert pd.isna(written[ids[1]])  # NaN is skipped, not stored
    assert written.notna().sum() == 2


def test_circle_members_and_views(client: Client) -> None:
    circles = client.nodes("Circle")
    top = circles.query("level == 0")["size"].idxmax()
    members = client.circle_members(top)
    assert len(members) == circles.loc[top, "size"]
    assert set(circles.loc[top, "leaders"]) <= set(members)
    view = client.circle_view(top, max_nodes=10)
    assert view.nodes <= 12  # at most max_nodes members, plus summary nodes
    assert view.total_nodes == 10
    assert "<iframe srcdoc=" in view._repr_html_()
    with pytest.raises(NotFoundError, match="no-such-circle"):
        client.circle_members("no-such-circle")


def test_customer_360_is_masked_unless_asked(client: Client, demo: Path) -> None:
    identities = client.nodes("Identity", unmask=True)
    phone_holder = client.edges("HAS_IDENTITY", "Customer", "Identity", unmask=True)
    holder = phone_holder[phone_holder["end"].isin(identities.query("kind == 'phone'").index)]
    customer_id, phone_id = holder.iloc[0]["start"], holder.iloc[0]["end"]
    phone = identities.loc[phone_id, "key"]
    masked = client.customer(customer_id)
    clear = client.customer(customer_id, unmask=True)
    assert masked.customer.masked
    assert not clear.customer.masked
    assert phone in clear.customer.phones
    assert phone not in masked.model_dump_json()


def test_ground_truth_maps_customers_to_planted_people(client: Client, demo: Path) -> None:
    truth = client.ground_truth(demo)
    people = pd.read_csv(demo / "truth_people.csv", dtype=str)
    assert truth.index.is_unique
    assert set(truth["person_id"]) <= set(people["person_id"])
    # Each customer gets the person most of its source records belong to (ties: lowest id).
    records = pd.read_csv(demo / "truth_records.csv", dtype=str)
    person_of = dict(
        zip(
            "record:" + records["source"] + ":" + records["source_record_id"],
            records["person_id"],
            strict=True,
        )
    )
    links = client.edges("HAS_IDENTITY", "Customer", "Identity")
    votes: dict[str, Counter[str]] = {}
    for start, end in zip(links["start"], links["end"], strict=True):
        if end in person_of:
            votes.setdefault(start, Counter())[person_of[end]] += 1
    assert set(votes) == set(truth.index)
    for customer, counts in votes.items():
        top = max(counts.values())
        assert truth.loc[customer, "person_id"] == min(p for p, n in counts.items() if n == top)
        assert truth.loc[customer, "records"] == top
    assert set(truth["person_id"]) == set(people["person_id"])  # every person was loaded
    assert truth["churned"].dtype == bool
    with pytest.raises(InputError, match=r"truth_records\.csv"):
        client.ground_truth(demo / "missing")


def test_generate_rejects_bad_config(client: Client, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="customers must be at least 10"):
        client.generate(tmp_path, customers=5)
    with pytest.raises(InputError, match="no_such_knob"):
        client.generate(tmp_path, no_such_knob=1)


def test_unknown_labels_are_refused(client: Client) -> None:
    with pytest.raises(ValueError, match="unknown node label"):
        client.nodes("Person")
    assert Node.SETTING.value == "Setting"
