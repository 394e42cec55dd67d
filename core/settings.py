"""Settings, read from the environment (prefix ``QUANZI_``) or a ``.env`` file.

Examples
--------
>>> from quanzi.settings import Settings
>>> Settings(store="bundled").store
'bundled'
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from quanzi.errors import ConfigError

__all__ = ["PLACEHOLDER_PASSWORDS", "Role", "Settings", "default_data_dir", "load_settings"]

Role = Literal["viewer", "sales", "admin"]

#: Passwords that ship in examples and defaults; refused for any Neo4j that is not on this machine.
PLACEHOLDER_PASSWORDS = frozenset(
    {"", "neo4j", "password", "changeme", "changethis", "secret", "admin", "test", "12345678"}
)
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def default_data_dir() -> Path:
    """Where Quanzi keeps the bundled store and generated files: ``$XDG_DATA_HOME/quanzi``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "quanzi"


class Settings(BaseSettings):
    """All of Quanzi's settings. Each field is read from ``QUANZI_<FIELD>``."""

    model_config = SettingsConfigDict(
        env_prefix="QUANZI_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    store: Literal["bundled", "neo4j"] = Field(
        "bundled", description="`bundled` runs ArcadeDB locally; `neo4j` uses QUANZI_NEO4J_URI."
    )
    data_dir: Path = Field(default_factory=default_data_dir)

    neo4j_uri: str = "bolt://localhost:7687"
    neo4j_user: str = "neo4j"
    neo4j_password: SecretStr = SecretStr("")
    neo4j_database: str = "neo4j"

    bundled_database: str = "quanzi"
    bundled_bolt_port: int = Field(0, ge=0, le=65535, description="0 picks a free port.")
    bundled_http_port: int = Field(0, ge=0, le=65535, description="0 picks a free port.")
    bundled_heap: str = Field("1g", pattern=r"^\d+[mMgG]$")
    bundled_start_timeout_s: float = Field(90.0, gt=0)

    api_host: str = "127.0.0.1"
    api_port: int = Field(8000, ge=1, le=65535)
    #: API keys and their roles, e.g. ``QUANZI_API_KEYS='{"<key>": "admin"}'``. Held hashed
    #: in memory; never logged.
    api_keys: dict[SecretStr, Role] = Field(default_factory=dict)

    write_batch_size: int = Field(5000, ge=1, le=100_000)
    viz_max_nodes: int = Field(
        300, ge=20, le=5000, description="Above this many nodes a graph view samples/aggregates."
    )

    # -- ingest and identity resolution (quanzi.ingest) --
    default_phone_region: str = Field(
        "CN",
        pattern=r"^[A-Z]{2}$",
        description="Region (ISO 3166 alpha-2) of phone numbers written without a country code.",
    )
    link_threshold: float = Field(
        0.99,
        gt=0.0,
        lt=1.0,
        description="Match probability at or above which the linker links two records.",
    )
    link_train_min_records: int = Field(
        2000,
        ge=100,
        description="Smallest batch the linker's model is trained on; smaller ones use the saved "
        "or the built-in model.",
    )
    ingest_invalid_fields: Literal["reject_row", "drop_field"] = Field(
        "reject_row",
        description="What to do with a row whose field cannot be read (a date, a phone): reject "
        "the row, or load it without that field (reported in the ingest report either way).",
    )
    ingest_max_field_chars: int = Field(
        1000,
        ge=10,
        description="Longest value accepted in one input field; longer rows are rejected.",
    )

    # -- analysis (quanzi analyze) --
    churn_horizon_days: float = Field(
        90.0,
        gt=0,
        le=3650,
        description="Churn risk is the probability of churning within this many days; the "
        "model learns from who churned in the last this many days.",
    )
    churn_silence_days: float = Field(
        90.0,
        ge=0,
        le=3650,
        description="A customer silent (no event of any kind) this long counts as churned, "
        "beside those who deleted every employee contact; 0 counts deletions only.",
    )

    @model_validator(mode="after")
    def _refuse_placeholder_password(self) -> Settings:
        if self.store != "neo4j":
            return self
        host = urlparse(self.neo4j_uri).hostname or ""
        password = self.neo4j_password.get_secret_value()
        if host not in _LOCAL_HOSTS and password.strip().lower() in PLACEHOLDER_PASSWORDS:
            raise ValueError(
                f"QUANZI_NEO4J_PASSWORD is empty or a placeholder for the non-local Neo4j at "
                f"{host!r}: set the real password of that database"
            )
        return self


def load_settings(**overrides: object) -> Settings:
    """Build :class:`Settings`; validation failures become one readable :class:`ConfigError`."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as e:
        problems = "; ".join(
            f"QUANZI_{'_'.join(str(p) for p in err['loc']).upper() or 'SETTINGS'}: {err['msg']}"
            for err in e.errors()
        )
        raise ConfigError(f"Invalid settings: {problems}") from None
