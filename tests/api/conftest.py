"""Fixtures for the HTTP API tests: an app on the session's real bundled store, API keys of
every role, and a small hand-built graph (as ingest and the analysis would leave it)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from quanzi.api.app import create_app
from quanzi.graph.store import GraphStore
from quanzi.model import Node, Rel
from quanzi.settings import RATE_LIMIT_SCOPES, Settings

ADMIN_KEY = "test-admin-key-0123456789"
VIEWER_KEY = "test-viewer-key-0123456789"
SALES_ENV_KEY = "test-sales-key-0123456789"

C1_PHONE = "+8613800138000"
C1_EMAIL = "zhang.wei@example.com"


@dataclass
class Api:
    """A test client with the headers of each role."""

    client: TestClient
    settings: Settings
    sales_key: str

    @property
    def admin(self) -> dict[str, str]:
        return {"X-API-Key": ADMIN_KEY}

    @property
    def viewer(self) -> dict[str, str]:
        return {"X-API-Key": VIEWER_KEY}

    @property
    def sales(self) -> dict[str, str]:
        """A sales key bound to employee E1."""
        return {"X-API-Key": self.sales_key}

    def get(self, url: str, role: str = "admin", **kw: Any) -> Any:
        return self.client.get(url, headers=getattr(self, role), **kw)

    def post(self, url: str, role: str = "admin", **kw: Any) -> Any:
        return self.client.post(url, headers=getattr(self, role), **kw)

    def put(self, url: str, role: str = "admin", **kw: Any) -> Any:
        return self.client.put(url, headers=getattr(self, role), **kw)

    def pages(self, url: str, role: str = "admin") -> list[list[str]]:
        """The ids of every page of a cursor-paged list, following ``next_cursor`` to the end."""
        pages: list[list[str]] = []
        cursor = None
        while True:
            body = self.get(url + (f"&cursor={cursor}" if cursor else ""), role).json()
            pages.append([item["id"] for item in body["items"]])
            if (cursor := body["next_cursor"]) is None:
                return pages


#: Rate limits lifted: tests send requests back to back from one address; the limits have
#: tests of their own (test_limits.py).
NO_RATE_LIMITS = dict.fromkeys(RATE_LIMIT_SCOPES, "unlimited")


def _settings(store_settings: Settings, data_dir: Path, **update: Any) -> Settings:
    return store_settings.model_copy(
        update={
            "data_dir": data_dir,
            "api_keys": {
                SecretStr(ADMIN_KEY): "admin",
                SecretStr(VIEWER_KEY): "viewer",
                SecretStr(SALES_ENV_KEY): "sales",
            },
            "api_rate_limits": NO_RATE_LIMITS,
        }
        | update
    )


@contextmanager
def _client(store: GraphStore, settings: Settings) -> Iterator[Api]:
    app = create_app(settings, store=store)
    sales_key, _ = app.state.keys.create("sales E1", "sales", employee_id="E1", created_by="test")
    with TestClient(app) as client:
        yield Api(client, settings, sales_key)


@pytest.fixture
def api_settings(store_settings: Settings, tmp_path: Path) -> Settings:
    """The session store's settings with API keys and a fresh data directory for API files."""
    return _settings(store_settings, tmp_path / "api-data")


@pytest.fixture
def api(store: GraphStore, api_settings: Settings) -> Iterator[Api]:
    """A client of an app on the emptied session store (no data loaded)."""
    with _client(store, api_settings) as client:
        yield client


CUSTOMERS: list[dict[str, Any]] = [
    {
        "id": "c1",
        "name": "张伟",
        "name_latin": "zhang wei",
        "gender": "m",
        "birth_date": "1988-04-02",
        "city": "上海",
        "channels": ["crm", "wechat"],
        "tier": "loyal",
        "recorded_tier": "gold",
        "churn_risk": 0.82,
        "churn_risk_reasons": ["deleted no employee", "engagement fell 60% in 90 days"],
        "influence": 0.9,
        "pagerank": 0.05,
        "circle_id": "K1",
        "first_seen": "2023-01-05T00:00:00Z",
        "last_active_at": "2024-12-01T00:00:00Z",
        "total_spent": 5000.0,
        "order_count": 2,
        "funnel_stage": "order",
        "funnel_history": [
            "2023-01-05T00:00:00Z first_contact",
            "2023-02-01T00:00:00Z intention",
            "2023-03-01T00:00:00Z meeting",
            "2023-04-01T00:00:00Z order",
        ],
        "tier_history": ["2023-05-01T00:00:00Z silver", "2023-09-01T00:00:00Z gold"],
        "merged_ids": ["c0"],
    },
    {
        "id": "c2",
        "name": "李娜",
        "name_latin": "li na",
        "channels": ["email"],
        "tier": "general",
        "churn_risk": 0.2,
        "influence": 0.5,
        "pagerank": 0.04,
        "circle_id": "K1",
        "first_seen": "2023-06-01T00:00:00Z",
        "last_active_at": "2024-10-01T00:00:00Z",
        "total_spent": 300.0,
        "funnel_stage": "intention",
        "funnel_history": ["2023-06-01T00:00:00Z first_contact", "2024-02-01T00:00:00Z intention"],
    },
    {
        "id": "c3",
        "name": "王磊",
        "name_latin": "wang lei",
        "channels": ["phone"],
        "tier": "potential",
        "churn_risk": 0.65,
        "churn_risk_reasons": '["deleted employee E1"]',
        "influence": 0.3,
        "pagerank": 0.03,
        "circle_id": "K1",
        "first_seen": "2024-01-10T00:00:00Z",
        "last_active_at": "2024-11-01T00:00:00Z",
        "funnel_stage": "first_contact",
        "funnel_history": ["2024-01-10T00:00:00Z first_contact"],
    },
    {
        "id": "c4",
        "name": "陈静",
        "name_latin": "chen jing",
        "channels": ["store"],
        "tier": "loyal",
        "churn_risk": 0.1,
        "influence": 0.7,
        "pagerank": 0.06,
        "circle_id": "K2",
        "first_seen": "2023-03-03T00:00:00Z",
        "last_active_at": "2024-12-20T00:00:00Z",
        "total_spent": 2500.0,
    },
    {
        "id": "c5",
        "name": "刘洋",
        "name_latin": "liu yang",
        "channels": ["wechat"],
        "tier": "potential",
        "churn_risk": 0.9,
        "influence": 0.1,
        "pagerank": 0.01,
        "circle_id": "K2",
        "first_seen": "2024-05-05T00:00:00Z",
    },
    {
        "id": "c6",
        "name": "赵敏",
        "name_latin": "zhao min",
        "channels": ["email"],
        "first_seen": "2024-07-07T00:00:00Z",
    },
    {"id": "c0", "name": "张伟", "merged_into": "c1", "merged_at": "2024-01-01T00:00:00Z"},
]

IDENTITIES: list[dict[str, Any]] = [
    {"id": f"phone:{C1_PHONE}", "kind": "phone", "channel": "phone", "key": C1_PHONE},
    {"id": f"email:{C1_EMAIL}", "kind": "email", "channel": "email", "key": C1_EMAIL},
    {
        "id": "record:crm:1",
        "kind": "record",
        "channel": "crm",
        "key": "1",
        "name": "张伟",
        "phone": C1_PHONE,
        "email": C1_EMAIL,
        "street": "朝阳区建国路88号",
        "created_at": "2023-01-05T00:00:00Z",
    },
    {"id": "phone:+8613900139000", "kind": "phone", "channel": "phone", "key": "+8613900139000"},
    {
        "id": "email:li.na@example.com",
        "kind": "email",
        "channel": "email",
        "key": "li.na@example.com",
    },
    {
        "id": "email:zhao.min@example.com",
        "kind": "email",
        "channel": "email",
        "key": "zhao.min@example.com",
    },
    {"id": "phone:+85291234567", "kind": "phone", "channel": "phone", "key": "+85291234567"},
]

RELATIONS: list[tuple[Rel, Node, Node, list[dict[str, Any]]]] = [
    (
        Rel.HAS_IDENTITY,
        Node.CUSTOMER,
        Node.IDENTITY,
        [
            {
                "start": "c1",
                "end": f"phone:{C1_PHONE}",
                "rule": "observed",
                "records": ["record:crm:1"],
            },
            {
                "start": "c1",
                "end": f"email:{C1_EMAIL}",
                "rule": "observed",
                "records": ["record:crm:1"],
            },
            {"start": "c1", "end": "record:crm:1", "rule": "first record"},
            {"start": "c3", "end": "phone:+8613900139000", "rule": "observed"},
            {"start": "c2", "end": "email:li.na@example.com", "rule": "observed"},
            {"start": "c6", "end": "email:zhao.min@example.com", "rule": "observed"},
            {"start": "c4", "end": "phone:+85291234567", "rule": "observed"},
        ],
    ),
    (
        Rel.SERVED_BY,
        Node.CUSTOMER,
        Node.EMPLOYEE,
        [
            {"start": "c1", "end": "E1", "added_at": "2023-01-10T00:00:00Z", "active": True},
            {"start": "c2", "end": "E1", "added_at": "2023-06-02T00:00:00Z", "active": True},
            {
                "start": "c3",
                "end": "E1",
                "added_at": "2024-01-11T00:00:00Z",
                "deleted_at": "2024-11-01T00:00:00Z",
                "active": False,
            },
            {"start": "c4", "end": "E2", "added_at": "2023-03-04T00:00:00Z", "active": True},
            {"start": "c5", "end": "E2", "added_at": "2024-05-06T00:00:00Z", "active": True},
        ],
    ),
    (
        Rel.MEMBER_OF,
        Node.CUSTOMER,
        Node.GROUP,
        [
            {"start": "c1", "end": "G1", "joined_at": "2023-02-01T00:00:00Z", "active": True},
            {"start": "c2", "end": "G1", "joined_at": "2023-07-01T00:00:00Z", "active": True},
            {"start": "c4", "end": "G2", "joined_at": "2023-04-01T00:00:00Z", "active": True},
        ],
    ),
    (
        Rel.TAGGED,
        Node.CUSTOMER,
        Node.TAG,
        [
            {"start": "c1", "end": "VIP", "by": "E1", "at": "2024-01-01T00:00:00Z"},
            {"start": "c3", "end": "at-risk", "by": "E1", "at": "2024-10-01T00:00:00Z"},
        ],
    ),
    (
        Rel.INTERESTED_IN,
        Node.CUSTOMER,
        Node.INTEREST,
        [
            {"start": "c1", "end": "hiking", "weight": 0.9, "at": "2023-03-01T00:00:00Z"},
            {"start": "c2", "end": "hiking", "weight": 0.5},
            {"start": "c6", "end": "hiking", "weight": 0.8},
            {"start": "c4", "end": "wine", "weight": 0.7},
        ],
    ),
    (
        Rel.INTERACTS_WITH,
        Node.CUSTOMER,
        Node.CUSTOMER,
        [
            {
                "start": "c1",
                "end": "c2",
                "weight": 5.0,
                "count": 5,
                "last_at": "2024-11-01T00:00:00Z",
                "event_keys": [11, 12, 13, 14, 15],  # as an events load writes them
            },
            {
                "start": "c1",
                "end": "c3",
                "weight": 3.0,
                "count": 3,
                "last_at": "2024-10-01T00:00:00Z",
            },
            {"start": "c2", "end": "c3", "weight": 2.0, "count": 2},
            {"start": "c3", "end": "c6", "weight": 1.0, "count": 1},
            {"start": "c2", "end": "c6", "weight": 1.0, "count": 1},
            {"start": "c4", "end": "c5", "weight": 4.0, "count": 4},
            {"start": "c5", "end": "c6", "weight": 1.0, "count": 1},
        ],
    ),
    (
        Rel.IN_CIRCLE,
        Node.CUSTOMER,
        Node.CIRCLE,
        [
            {"start": "c1", "end": "K1"},
            {"start": "c2", "end": "K1"},
            {"start": "c3", "end": "K1"},
            {"start": "c4", "end": "K2"},
            {"start": "c5", "end": "K2"},
        ],
    ),
    (
        Rel.REFERRED,
        Node.CUSTOMER,
        Node.CUSTOMER,
        [
            {
                "start": "c1",
                "end": "c2",
                "campaign_id": "C1",
                "invite_code": "ABCDEFGH",
                "at": "2024-03-01T00:00:00Z",
            },
            {
                "start": "c2",
                "end": "c3",
                "campaign_id": "C1",
                "invite_code": "JKLMNPQR",
                "at": "2024-03-05T00:00:00Z",
            },
        ],
    ),
    (
        Rel.IN_CAMPAIGN,
        Node.CUSTOMER,
        Node.CAMPAIGN,
        [
            {"start": "c1", "end": "C1", "role": "inviter"},
            {"start": "c2", "end": "C1", "role": "invitee", "at": "2024-03-01T00:00:00Z"},
            {"start": "c3", "end": "C1", "role": "invitee", "at": "2024-03-05T00:00:00Z"},
        ],
    ),
    (
        Rel.PLACED,
        Node.CUSTOMER,
        Node.ORDER,
        [{"start": "c1", "end": "O1"}, {"start": "c1", "end": "O2"}],
    ),
]


def build_graph(store: GraphStore) -> None:
    """Write the test graph: 6 customers (and one merged into c1), 2 circles, 2 employees."""
    store.upsert_nodes(Node.CUSTOMER, CUSTOMERS)
    store.upsert_nodes(Node.IDENTITY, IDENTITIES)
    store.upsert_nodes(
        Node.EMPLOYEE,
        [
            {"id": "E1", "name": "王芳", "team": "Sales-East"},
            {"id": "E2", "name": "周强", "team": "Key-Accounts"},
        ],
    )
    store.upsert_nodes(
        Node.GROUP,
        [
            {"id": "G1", "name": "VIP客户1群", "kind": "wechat_group"},
            {"id": "G2", "name": "品酒会", "kind": "interest_club"},
        ],
    )
    store.upsert_nodes(
        Node.INTEREST, [{"id": "hiking", "name": "hiking"}, {"id": "wine", "name": "wine"}]
    )
    store.upsert_nodes(
        Node.TAG, [{"id": "VIP", "name": "VIP"}, {"id": "at-risk", "name": "at-risk"}]
    )
    store.upsert_nodes(
        Node.CIRCLE,
        [
            {
                "id": "K1",
                "size": 3,
                "kind": "friend",
                "level": 0,
                "leaders": ["c1"],
                "modularity": 0.4,
            },
            {"id": "K2", "size": 2, "kind": "colleague", "level": 0},
        ],
    )
    store.upsert_nodes(
        Node.CAMPAIGN,
        [
            {
                "id": "C1",
                "name": "新春邀请有礼 2024",
                "start": "2024-01-01T00:00:00Z",
                "end": "2024-12-31T23:59:59Z",
            }
        ],
    )
    store.upsert_nodes(
        Node.ORDER,
        [
            {
                "id": "O1",
                "customer_id": "c1",
                "amount": 1200.0,
                "placed_at": "2024-02-01T00:00:00Z",
                "product": "Wine Club Box",
            },
            {
                "id": "O2",
                "customer_id": "c1",
                "amount": 3800.0,
                "placed_at": "2024-06-01T00:00:00Z",
                "product": "Tea Set",
            },
        ],
    )
    for rel, start, end, rows in RELATIONS:
        store.upsert_relations(rel, start, end, rows)


@pytest.fixture
def graph(api: Api, store: GraphStore) -> Api:
    """The API client with the test graph loaded."""
    build_graph(store)
    return api


@pytest.fixture(scope="module")
def shared(
    session_store: GraphStore, store_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Api]:
    """The test graph and a client, built once per module for tests that only read.

    Tests using it must leave the graph as they found it (or change only what no other test
    of the module reads).
    """
    session_store.delete_everything()
    build_graph(session_store)
    settings = _settings(store_settings, tmp_path_factory.mktemp("api-data"))
    with _client(session_store, settings) as client:
        yield client
