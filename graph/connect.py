"""Open the configured store: the bundled ArcadeDB (started on demand) or a Neo4j."""

from __future__ import annotations

from neo4j import GraphDatabase

from quanzi.graph.bundled import BundledStore
from quanzi.graph.schema import ensure_schema
from quanzi.graph.store import GraphStore
from quanzi.settings import Settings

__all__ = ["bundled_store", "open_store"]


def bundled_store(settings: Settings) -> BundledStore:
    """The bundled store manager for these settings."""
    return BundledStore(
        settings.data_dir,
        database=settings.bundled_database,
        bolt_port=settings.bundled_bolt_port,
        http_port=settings.bundled_http_port,
        heap=settings.bundled_heap,
        start_timeout_s=settings.bundled_start_timeout_s,
    )


def open_store(settings: Settings, *, start: bool = True, schema: bool = True) -> GraphStore:
    """Connect to the configured store and make sure the schema exists.

    With the bundled store, ``start=True`` starts it if it is not running.
    Errors (unreachable, wrong password) surface as :class:`~quanzi.errors.StoreError`.
    """
    if settings.store == "bundled":
        manager = bundled_store(settings)
        status = manager.start() if start else manager.status()
        driver = GraphDatabase.driver(status.uri, auth=(manager.user, manager.password()))
        database = settings.bundled_database
    else:
        driver = GraphDatabase.driver(
            settings.neo4j_uri,
            auth=(settings.neo4j_user, settings.neo4j_password.get_secret_value()),
            connection_timeout=10,
        )
        database = settings.neo4j_database
    store = GraphStore(driver, database=database, batch_size=settings.write_batch_size)
    try:
        store.verify()
        store.ping()
        if schema:
            ensure_schema(store)
    except BaseException:
        store.close()
        raise
    return store
