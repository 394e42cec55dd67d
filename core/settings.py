"""Settings, read from the environment (prefix ``QUANZI_``) or a ``.env`` file.

Examples
--------
>>> from quanzi.settings import Settings
>>> Settings(store="bundled").store
'bundled'
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

from limits import parse_many
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from quanzi.errors import ConfigError
from quanzi.graph.bundled import heap_mb

__all__ = [
    "DEFAULT_RATE_LIMITS",
    "MAX_AUTO_WORKERS",
    "PLACEHOLDER_PASSWORDS",
    "RATE_LIMIT_SCOPES",
    "Role",
    "Settings",
    "default_data_dir",
    "load_settings",
    "usable_cpus",
]

Role = Literal["viewer", "sales", "admin"]

#: Passwords that ship in examples and defaults; refused for any Neo4j that is not on this machine.
PLACEHOLDER_PASSWORDS = frozenset(
    {"", "neo4j", "password", "changeme", "changethis", "secret", "admin", "test", "12345678"}
)
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})

#: Request rate limits of the HTTP API unless ``QUANZI_API_RATE_LIMITS`` says otherwise: per
#: key by its role, per client address for callers without a valid key (``anonymous``) and
#: for the monitoring endpoints (``public``).
DEFAULT_RATE_LIMITS: dict[str, str] = {
    "viewer": "30/second;1000/minute",
    "sales": "30/second;1000/minute",
    "admin": "60/second;3000/minute",
    "anonymous": "10/second;100/minute",
    "public": "20/second",
}
#: What a rate limit can be set for, besides one key by its id.
RATE_LIMIT_SCOPES = frozenset(DEFAULT_RATE_LIMITS)
_KEY_ID = re.compile(r"env-[0-9a-f]{8}|key_[0-9a-f]{12}")
#: Most server processes ``QUANZI_API_WORKERS=0`` (the default) starts: each holds its own
#: lookalike graph (235 MiB at 100k customers).
MAX_AUTO_WORKERS = 4


def default_data_dir() -> Path:
    """Where Quanzi keeps the bundled store and generated files: ``$XDG_DATA_HOME/quanzi``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "quanzi"


def usable_cpus() -> int:
    """CPU cores this process may run on: its affinity set where the system has one (a
    container or ``taskset`` limit), else every core. What the served workers, the busy
    endpoints' slots and the ingest's normalising processes are counted from."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


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
    gds: Literal["auto", "off"] = Field(
        "auto",
        description="`auto`: when the store is a Neo4j with the Graph Data Science plugin "
        "(and the `graphdatascience` client is installed: `pip install quanzi[gds]`), "
        "`quanzi analyze` computes the top-level circles, PageRank, brokerage and core "
        "depth on the server; `off`: always in process.",
    )

    bundled_database: str = "quanzi"
    bundled_bolt_port: int = Field(0, ge=0, le=65535, description="0 picks a free port.")
    bundled_http_port: int = Field(0, ge=0, le=65535, description="0 picks a free port.")
    bundled_heap: str = Field("1g", pattern=r"^\d+[mMgG]$")
    bundled_page_cache_mb: int | None = Field(
        None,
        ge=16,
        description="The bundled store's page cache in MB, inside the heap; unset: 60% of it.",
    )
    bundled_start_timeout_s: float = Field(90.0, gt=0)

    api_host: str = "127.0.0.1"
    api_port: int = Field(8000, ge=1, le=65535)
    api_workers: int = Field(
        0,
        ge=0,
        le=64,
        description="Server processes for `quanzi serve`; 0: one per CPU core, at most "
        f"{MAX_AUTO_WORKERS}. Each holds its own lookalike graph (memory x N) and runs its "
        "own background jobs.",
    )
    #: API keys and their roles, e.g. ``QUANZI_API_KEYS='{"<key>": "admin"}'``. Held hashed
    #: in memory; never logged.
    api_keys: dict[SecretStr, Role] = Field(default_factory=dict)
    #: Employees that keys from ``api_keys`` act for, by the key's id (``env-`` and the first
    #: 8 hex digits of its SHA-256), e.g. ``{"env-1a2b3c4d": "E001"}``: a sales key bound to an
    #: employee sees that employee's customers unmasked.
    api_key_employees: dict[str, str] = Field(default_factory=dict)
    api_balance_connections: bool = Field(
        True,
        description="Server processes holding more kept-alive connections than their share "
        "ask that many clients to reconnect (api/balance.py).",
    )
    api_max_body_bytes: int = Field(
        16 * 2**20,
        ge=1024,
        description="Largest request body (JSON or form) other than a file upload, in bytes; "
        "a larger one is refused with 413 while it is read.",
    )
    api_max_upload_bytes: int = Field(
        512 * 2**20,
        ge=1024,
        description="Largest file upload request (all files together), in bytes; a larger one "
        "is refused with 413 while it is read, before anything is queued.",
    )
    api_rate_limits: dict[str, str] = Field(
        default_factory=dict,
        description="Rate limits by role (viewer, sales, admin), by key id, for `anonymous` "
        "callers (per client address) and for `public` endpoints (/health, /metrics; per "
        "address), as `limits` strings such as `20/second;600/minute`, or `unlimited`. "
        "Merged over DEFAULT_RATE_LIMITS.",
    )
    api_audit_file_bytes: int = Field(
        64 * 2**20,
        ge=4096,
        description="Size at which the audit trail (`<data_dir>/api/audit.jsonl`) is closed and "
        "renamed `audit.jsonl.<UTC time>`, a new one started; searches read the newest file "
        "first. Closed files are kept: archive or delete them as your retention rules say.",
    )
    api_audit_keep_files: int = Field(
        0,
        ge=0,
        description="Closed audit files to keep (`audit.jsonl.<UTC time>`); when one more is "
        "closed the oldest beyond this many are deleted. 0 keeps every one.",
    )
    api_audit_keep_days: float = Field(
        0,
        ge=0,
        description="Days of audit trail to keep: closed files (`audit.jsonl.<UTC time>`) "
        "closed longer ago are deleted, and the open file is closed once its first entry is "
        "that old, so an entry goes between this many and twice this many days after it was "
        "written (checked at each worker's first request, then hourly). 0 keeps every one.",
    )
    api_trusted_proxies: str = Field(
        "",
        max_length=2000,
        description="Reverse proxies whose X-Forwarded-For / X-Forwarded-Proto headers "
        "`quanzi serve` believes (comma-separated addresses or networks, `*` for any). Empty: "
        "none, so the address a connection comes from is the client's (rate limits, audit).",
    )
    api_rate_limit_storage: str = Field(
        "memory://",
        description="Where request counts are kept (`limits` storage URI). `memory://` counts "
        "per worker process; use e.g. `redis://host:6379` to share counts between workers.",
    )

    #: Key of the hashes that keep erased persons out of later ingests. Unset: generated once
    #: and kept in ``<data_dir>/erasure.key`` (0600). Set it, the same everywhere, when
    #: several machines ingest into one store.
    erasure_secret: SecretStr | None = None

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
    ingest_processes: int = Field(
        0,
        ge=0,
        le=256,
        description="Processes that normalise contact records in parallel (0: one per CPU core; "
        "1: none, all in the ingesting process). Used for batches of at least "
        "ingest_parallel_min_records records on systems that can fork.",
    )
    ingest_parallel_min_records: int = Field(
        50_000,
        ge=1,
        description="Smallest batch whose contact records are normalised in parallel processes "
        "(starting them costs about a second).",
    )

    @field_validator("api_rate_limits")
    @classmethod
    def _check_rate_limits(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if name not in RATE_LIMIT_SCOPES and not _KEY_ID.fullmatch(name):
                raise ValueError(
                    f"{name!r} is neither one of {sorted(RATE_LIMIT_SCOPES)} nor a key id "
                    "(env-xxxxxxxx or key_xxxxxxxxxxxx)"
                )
            if text.strip().lower() != "unlimited":
                try:
                    parse_many(text)
                except ValueError:
                    raise ValueError(
                        f"{name}: {text!r} is not a rate such as '20/second;600/minute' "
                        "or 'unlimited'"
                    ) from None
        return value

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

    @property
    def served_workers(self) -> int:
        """Server processes ``quanzi serve`` starts: ``api_workers``, or for 0 one per CPU
        core this process may use, at most :data:`MAX_AUTO_WORKERS`."""
        if self.api_workers:
            return self.api_workers
        return min(usable_cpus(), MAX_AUTO_WORKERS)

    @model_validator(mode="after")
    def _page_cache_fits_the_heap(self) -> Settings:
        if self.bundled_page_cache_mb is None:
            return self
        heap = heap_mb(self.bundled_heap)
        if self.bundled_page_cache_mb > heap * 0.75:
            raise ValueError(
                f"QUANZI_BUNDLED_PAGE_CACHE_MB={self.bundled_page_cache_mb} leaves too little of "
                f"the {heap} MB heap for queries: keep it at most three quarters of "
                "QUANZI_BUNDLED_HEAP, or raise the heap"
            )
        return self

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
