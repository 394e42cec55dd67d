"""Open the configured store: the bundled ArcadeDB (started on demand) or a Neo4j."""

from __future__ import annotations

from neo4j import GraphDatabase

from quanzi.graph.bulk import ArcadeHttpChannel, BulkJournal
from quanzi.graph.bundled import BundledStatus, BundledStore
from quanzi.graph.schema import ensure_schema
from quanzi.graph.store import GraphStore
from quanzi.settings import Settings

__all__ = ["BUNDLED_RETRY_S", "bundled_store", "connect_bundled", "open_store"]

#: How long the driver keeps retrying a failed transaction on the bundled store (its default
#: is 30 s, measured here as 35 s before `quanzi ingest` reported a killed store). The server
#: is a local process: when it refuses connections it is down, and a caller should hear so in
#: seconds (CLI exit 1, API 503). Two seconds still give two retries (after about 1 s and 3 s)
#: to a transient conflict between concurrent transactions, or to a connection that went
#: stale across a restart.
BUNDLED_RETRY_S = 2.0


def bundled_store(settings: Settings) -> BundledStore:
    """The bundled store manager for these settings."""
    return BundledStore(
        settings.data_dir,
        database=settings.bundled_database,
        bolt_port=settings.bundled_bolt_port,
        http_port=settings.bundled_http_port,
        heap=settings.bundled_heap,
        page_cache_mb=settings.bundled_page_cache_mb,
        start_timeout_s=settings.bundled_start_timeout_s,
    )


def connect_bundled(
    manager: BundledStore, status: BundledStatus, *, batch_size: int = 5000
) -> GraphStore:
    """A store on a running bundled server: Bolt for everything, plus its bulk channel."""
    password = manager.password()
    driver = GraphDatabase.driver(
        status.uri, auth=(manager.user, password), max_transaction_retry_time=BUNDLED_RETRY_S
    )
    bulk = ArcadeHttpChannel(
        f"http://127.0.0.1:{status.http_port}",
        manager.database,
        manager.user,
        password,
        journal=BulkJournal(manager.root / "bulk-journal"),
    )
    return GraphStore(driver, database=manager.database, batch_size=batch_size, bulk=bulk)


def open_store(settings: Settings, *, start: bool = True, schema: bool = True) -> GraphStore:
    """Connect to the configured store and make sure the schema exists.

    With the bundled store, ``start=True`` starts it if it is not running, and bulk writes
    that a killed writer left unfinished are rolled back (see :mod:`quanzi.graph.bulk`).
    Errors (unreachable, wrong password) surface as :class:`~quanzi.errors.StoreError`.
    """
    if settings.store == "bundled":
        manager = bundled_store(settings)
        status = manager.start() if start else manager.status()
        store = connect_bundled(manager, status, batch_size=settings.write_batch_size)
    else:
        driver = GraphDatabase.driver(
            settings.neo4j_uri,
            auth=(settings.neo4j_user, settings.neo4j_password.get_secret_value()),
            connection_timeout=10,
        )
        store = GraphStore(
            driver, database=settings.neo4j_database, batch_size=settings.write_batch_size
        )
    try:
        store.verify()
        store.ping()
        if store.bulk is not None:
            store.bulk.recover()
        if schema:
            ensure_schema(store)
    except BaseException:
        store.close()
        raise
    return store
