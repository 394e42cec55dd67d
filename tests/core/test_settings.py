"""Settings validation."""

from __future__ import annotations

import pytest

from quanzi.errors import ConfigError
from quanzi.settings import MAX_AUTO_WORKERS, Settings, load_settings, usable_cpus


def test_defaults_are_bundled() -> None:
    s = Settings()
    assert s.store == "bundled"
    assert s.api_host == "127.0.0.1"


def test_reads_prefixed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUANZI_STORE", "neo4j")
    monkeypatch.setenv("QUANZI_NEO4J_URI", "neo4j+s://abc.databases.neo4j.io")
    monkeypatch.setenv("QUANZI_NEO4J_PASSWORD", "a-real-long-password")
    monkeypatch.setenv("QUANZI_API_KEYS", '{"k-123": "viewer"}')
    s = load_settings()
    assert s.store == "neo4j"
    assert s.neo4j_password.get_secret_value() == "a-real-long-password"
    assert "a-real-long-password" not in repr(s)
    assert list(s.api_keys.values()) == ["viewer"]


@pytest.mark.parametrize("password", ["", "neo4j", "password", " changeme "])
def test_placeholder_password_refused_for_remote_neo4j(password: str) -> None:
    with pytest.raises(ConfigError, match=r"QUANZI_NEO4J_PASSWORD.*placeholder"):
        load_settings(
            store="neo4j", neo4j_uri="bolt://db.example.com:7687", neo4j_password=password
        )


def test_placeholder_password_allowed_for_local_neo4j() -> None:
    s = load_settings(store="neo4j", neo4j_uri="bolt://localhost:7687", neo4j_password="neo4j")
    assert s.neo4j_uri.startswith("bolt://localhost")


def test_bad_values_name_the_setting() -> None:
    with pytest.raises(ConfigError, match="QUANZI_API_PORT"):
        load_settings(api_port=70000)
    with pytest.raises(ConfigError, match="QUANZI_STORE"):
        load_settings(store="mysql")


def test_bundled_page_cache_must_leave_room_in_the_heap() -> None:
    assert (
        load_settings(bundled_heap="2g", bundled_page_cache_mb=1024).bundled_page_cache_mb == 1024
    )
    with pytest.raises(ConfigError, match=r"QUANZI_BUNDLED_PAGE_CACHE_MB=900.*1024 MB heap"):
        load_settings(bundled_heap="1g", bundled_page_cache_mb=900)
    with pytest.raises(ConfigError, match=r"QUANZI_BUNDLED_PAGE_CACHE_MB"):
        load_settings(bundled_page_cache_mb=8)


def test_served_workers_default_to_one_per_core_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QUANZI_API_WORKERS", raising=False)
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(16)), raising=False)
    assert Settings().api_workers == 0
    assert Settings().served_workers == MAX_AUTO_WORKERS
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert Settings().served_workers == 2
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {3}, raising=False)
    assert Settings().served_workers == 1
    monkeypatch.setenv("QUANZI_API_WORKERS", "3")
    assert Settings().served_workers == 3
    with pytest.raises(ConfigError, match="QUANZI_API_WORKERS"):
        load_settings(api_workers=-1)


def test_usable_cpus_follow_the_affinity_not_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    # A container limited to one core of a large machine: os.cpu_count() says 64.
    monkeypatch.setattr("os.cpu_count", lambda: 64)
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {5}, raising=False)
    assert usable_cpus() == 1
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
    assert usable_cpus() == 3


def test_every_setting_is_documented_with_its_default() -> None:
    # docs/configuration.md is the list users read: a new setting, or a changed default,
    # must show there.
    from pathlib import Path

    page = Path(__file__).parents[2] / "docs" / "configuration.md"
    defaults_by_name: dict[str, str] = {}
    for line in page.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and "QUANZI_" in cells[0]:
            for name in cells[0].replace("`", "").split(","):
                defaults_by_name[name.strip()] = cells[1]
    for field, info in Settings.model_fields.items():
        name = f"QUANZI_{field.upper()}"
        assert name in defaults_by_name, f"{name} is missing from docs/configuration.md"
        default = info.default
        if isinstance(default, bool):
            shown = str(default).lower()
        elif isinstance(default, float):
            shown = f"{default:g}"
        elif isinstance(default, int | str) and default != "":
            shown = str(default)
        else:
            continue  # None, or made by a factory: described in words
        assert f"`{shown}`" in defaults_by_name[name], (name, shown, defaults_by_name[name])
