"""The bundled store: an ArcadeDB server run from the ``arcadedb-embedded`` wheel.

Quanzi runs ArcadeDB as a **separate Java process** (the wheel's own Java runtime and jars),
not inside the Python process through JPype. A separate process isolates crashes, lets several
API workers and CLI commands share one store, and stops cleanly with a signal; the Python side
talks to it through Bolt with the official ``neo4j`` driver exactly as it would to Neo4j.

Everything ArcadeDB-specific about *running* the store lives in this module; everything
ArcadeDB-specific about *querying* it lives in :mod:`quanzi.graph.dialect`.

Files under ``<data_dir>/store``:

``credentials``   the generated root password (mode 0600)
``server.json``   pid and ports of the running server (deleted on a clean stop)
``server.log``    the server's output
``databases/``    the data
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from quanzi.errors import ConfigError, StoreError, StoreUnavailableError

__all__ = ["PAGE_CACHE_SHARE", "BundledStatus", "BundledStore", "arcadedb_home", "heap_mb"]

_SERVER_CLASS = "com.arcadedb.server.ArcadeDBServer"

#: Share of the heap given to the store's page cache when none is set: measured at 100k
#: customers (database 573 MB) with a 1 GB heap, 600 MB of cache halved the store's CPU per
#: customer 360 against ArcadeDB's default quarter, and ingest and analysis ran as before.
PAGE_CACHE_SHARE = 0.6


def heap_mb(heap: str) -> int:
    """A Java heap size such as ``"1g"`` or ``"768m"`` in MB.

    >>> heap_mb("1g"), heap_mb("768M")
    (1024, 768)
    """
    return int(heap[:-1]) * (1024 if heap[-1] in "gG" else 1)


_USER = "root"

State = Literal["running", "stopped", "stale"]


def arcadedb_home() -> Path:
    """The folder of the installed ``arcadedb_embedded`` package (holds ``jre/`` and ``jars/``)."""
    try:
        import arcadedb_embedded
    except ImportError as e:  # pragma: no cover - it is a hard dependency
        raise ConfigError(
            "The bundled store needs the 'arcadedb-embedded' package: pip install arcadedb-embedded"
        ) from e
    return Path(arcadedb_embedded.__file__).parent


@dataclass(frozen=True)
class BundledStatus:
    """What :meth:`BundledStore.status` found.

    Attributes
    ----------
    state : {"running", "stopped", "stale"}
        ``stale`` means a previous server left its state behind and is gone (a crash).
    pid, bolt_port, http_port : int or None
        Set while running.
    root : str
        The store's folder.
    """

    state: State
    root: str
    pid: int | None = None
    bolt_port: int | None = None
    http_port: int | None = None

    @property
    def uri(self) -> str:
        """The Bolt URI of the running server."""
        if self.bolt_port is None:
            raise StoreUnavailableError(
                "The bundled store is not running: run `quanzi store start`"
            )
        return f"bolt://127.0.0.1:{self.bolt_port}"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_taken(port: int) -> bool:
    """Whether something listens on ``port``. Connections of a crashed server that linger in
    TIME_WAIT do not count: the server binds with SO_REUSEADDR (Java's default) too."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _reusable(port: int) -> int:
    """``port`` if it is set and free on 127.0.0.1, else 0."""
    return port if port and not _port_taken(port) else 0


def _cmdline(pid: int) -> str:
    try:
        return (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return ""


class BundledStore:
    """Start, stop and inspect the bundled ArcadeDB server over one data directory.

    Parameters
    ----------
    data_dir : Path
        Quanzi's data directory; the store lives in ``data_dir / "store"``.
    database : str
        Name of the database the server creates and serves over Bolt.
    bolt_port, http_port : int
        Ports on 127.0.0.1; 0 picks free ones.
    heap : str
        Java heap limit, e.g. ``"1g"``.
    page_cache_mb : int, optional
        ArcadeDB's page cache (``arcadedb.maxPageRAM``, in MB, inside the heap); by default
        :data:`PAGE_CACHE_SHARE` of the heap (ArcadeDB's own default, a quarter, made random
        customer 360s reload pages at 100k customers; see docs/api-latency.md).

    Examples
    --------
    >>> import tempfile
    >>> store = BundledStore(Path(tempfile.mkdtemp()))
    >>> store.status().state
    'stopped'
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        database: str = "quanzi",
        bolt_port: int = 0,
        http_port: int = 0,
        heap: str = "1g",
        page_cache_mb: int | None = None,
        start_timeout_s: float = 90.0,
    ) -> None:
        self.root = Path(data_dir).expanduser().resolve() / "store"
        self.database = database
        self.bolt_port = bolt_port
        self.http_port = http_port
        self.heap = heap
        self.page_cache_mb = page_cache_mb
        self.start_timeout_s = start_timeout_s

    # -- files ---------------------------------------------------------------------------
    @property
    def _state_file(self) -> Path:
        return self.root / "server.json"

    @property
    def _password_file(self) -> Path:
        return self.root / "credentials"

    @property
    def log_file(self) -> Path:
        """The server's log."""
        return self.root / "server.log"

    @property
    def user(self) -> str:
        """The database user Quanzi connects as."""
        return _USER

    def password(self) -> str:
        """The root password, generated on first use and kept in a 0600 file."""
        self._ensure_root()
        if not self._password_file.exists():
            # Written whole to a private file, then linked into place: processes starting
            # together (service workers) agree on the first one linked and never read a
            # half-written file.
            fd, draft = tempfile.mkstemp(dir=self.root, prefix=".credentials-")  # mode 0600
            try:
                with os.fdopen(fd, "w") as f:
                    f.write(secrets.token_urlsafe(24))
                with contextlib.suppress(FileExistsError):
                    os.link(draft, self._password_file)
            finally:
                os.unlink(draft)
        os.chmod(self._password_file, 0o600)
        return self._password_file.read_text().strip()

    def _ensure_root(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            # A probe of its own: processes starting together each check at once.
            with tempfile.TemporaryFile(dir=self.root):
                pass
        except OSError as e:
            raise ConfigError(
                f"The data directory {self.root.parent} is not writable ({e.strerror}): "
                "set QUANZI_DATA_DIR to a folder you can write to"
            ) from None

    @contextlib.contextmanager
    def _start_lock(self) -> Iterator[None]:
        """Serialise start/stop between processes sharing this data directory."""
        self._ensure_root()
        with open(self.root / ".lock", "w") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    # -- status --------------------------------------------------------------------------
    def _is_our_server(self, pid: int) -> bool:
        cmd = _cmdline(pid)
        return _SERVER_CLASS in cmd and f"-Darcadedb.server.rootPath={self.root} " in cmd + " "

    def _orphans(self) -> list[int]:
        """Servers over this data directory that no state file knows about."""
        pids = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and self._is_our_server(int(entry.name)):
                pids.append(int(entry.name))
        return pids

    def status(self) -> BundledStatus:
        """Report whether a server is running over this data directory."""
        root = str(self.root)
        if self._state_file.exists():
            try:
                info = json.loads(self._state_file.read_text())
                pid = int(info["pid"])
            except (ValueError, KeyError, OSError):
                return BundledStatus("stale", root)
            if self._is_our_server(pid):
                return BundledStatus(
                    "running", root, pid, int(info["bolt_port"]), int(info["http_port"])
                )
            return BundledStatus("stale", root)
        if self.root.exists() and self._orphans():
            return BundledStatus("stale", root)
        return BundledStatus("stopped", root)

    # -- start / stop --------------------------------------------------------------------
    def start(self, *, on_wait: Callable[[float], None] | None = None) -> BundledStatus:
        """Start the server unless one already runs over this data; wait until it answers.

        A stale state from a crashed server is cleared first. ``on_wait(seconds)`` is called
        while waiting for readiness.
        """
        with self._start_lock():
            current = self.status()
            if current.state == "running":
                return current
            previous: tuple[int, int] | None = None
            if current.state == "stale":
                previous = self._clear_stale()
            return self._launch(on_wait, previous)

    def _clear_stale(self) -> tuple[int, int] | None:
        """Stop orphans and forget the crashed server; return its (bolt, http) ports if known."""
        ports = None
        try:
            info = json.loads(self._state_file.read_text())
            ports = (int(info["bolt_port"]), int(info["http_port"]))
        except (ValueError, KeyError, TypeError, OSError):
            pass
        for pid in self._orphans():
            self._terminate(pid)
        self._state_file.unlink(missing_ok=True)
        return ports

    def _launch(
        self, on_wait: Callable[[float], None] | None, previous: tuple[int, int] | None = None
    ) -> BundledStatus:
        for name, port in (("BOLT", self.bolt_port), ("HTTP", self.http_port)):
            if port and _port_taken(port):
                raise ConfigError(
                    f"Port {port} on 127.0.0.1 is taken: set QUANZI_BUNDLED_{name}_PORT to a free "
                    "port, or to 0 to pick one"
                )
        # After a crash, the ports of the crashed server if they are still free: clients that
        # stayed up (an API service, a notebook) reconnect by themselves.
        old_bolt, old_http = previous or (0, 0)
        bolt_port = self.bolt_port or _reusable(old_bolt) or _free_port()
        http_port = self.http_port or _reusable(old_http) or _free_port()
        while http_port == bolt_port:
            http_port = _free_port()
        password = self.password()
        (self.root / "config").mkdir(exist_ok=True)
        # The MCP plugin is auto-discovered from the jars; Quanzi does not use it.
        (self.root / "config" / "mcp-config.json").write_text(json.dumps({"enabled": False}))
        home = arcadedb_home()
        props = {
            "server.rootPath": self.root,
            "server.databaseDirectory": self.root / "databases",
            # A file, not the value: a command line is readable by every local user.
            "server.rootPasswordPath": self._password_file,
            "server.mode": "production",
            "server.httpIncomingHost": "127.0.0.1",
            "server.httpIncomingPort": http_port,
            "server.plugins": "Bolt:com.arcadedb.bolt.BoltProtocolPlugin",
            "server.defaultDatabases": f"{self.database}[{_USER}]",
            "bolt.host": "127.0.0.1",
            "bolt.port": bolt_port,
            "bolt.defaultDatabase": self.database,
            "studio.enabled": "false",
        }
        props["maxPageRAM"] = (
            self.page_cache_mb
            if self.page_cache_mb is not None
            else int(heap_mb(self.heap) * PAGE_CACHE_SHARE)
        )
        cmd = [
            str(home / "jre" / "bin" / "java"),
            f"-Xmx{self.heap}",
            "-cp",
            str(home / "jars" / "*"),
            *(f"-Darcadedb.{k}={v}" for k, v in props.items()),
            _SERVER_CLASS,
        ]
        with open(self.log_file, "ab") as log:
            proc = subprocess.Popen(  # noqa: S603 - fixed command, no shell
                cmd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.root,  # the server writes ./log relative to its working directory
                start_new_session=True,  # outlives the command that started it
            )
        status = BundledStatus("running", str(self.root), proc.pid, bolt_port, http_port)
        self._state_file.write_text(json.dumps(asdict(status) | {"started_at": time.time()}))
        try:
            self._wait_ready(proc, status, password, on_wait)
        except BaseException:
            self._terminate(proc.pid)
            self._state_file.unlink(missing_ok=True)
            raise
        return status

    def _wait_ready(
        self,
        proc: subprocess.Popen[bytes],
        status: BundledStatus,
        password: str,
        on_wait: Callable[[float], None] | None,
    ) -> None:
        """Readiness is a query that succeeds: the port opens before the database exists."""
        from neo4j import GraphDatabase
        from neo4j.exceptions import DriverError, Neo4jError

        started = time.monotonic()
        last_error = ""
        while time.monotonic() - started < self.start_timeout_s:
            if proc.poll() is not None:
                raise StoreError(
                    f"The bundled store exited during start-up (code {proc.returncode}). "
                    f"Last lines of {self.log_file}:\n{self.log_tail()}"
                )
            try:
                with (
                    GraphDatabase.driver(status.uri, auth=(_USER, password)) as driver,
                    driver.session(database=self.database) as session,
                ):
                    session.run("RETURN 1 AS ok").consume()
                return
            except (DriverError, Neo4jError, OSError) as e:
                last_error = str(e)
            if on_wait is not None:
                on_wait(time.monotonic() - started)
            time.sleep(0.25)
        raise StoreUnavailableError(
            f"The bundled store did not answer within {self.start_timeout_s:.0f} s "
            f"({last_error}). See {self.log_file}; raise QUANZI_BUNDLED_START_TIMEOUT_S "
            "on a slow machine."
        )

    def stop(self, *, timeout_s: float = 30.0) -> bool:
        """Stop the server cleanly (SIGTERM, then SIGKILL after ``timeout_s``).

        Returns ``True`` if a server was stopped.
        """
        with self._start_lock():
            current = self.status()
            pids = [current.pid] if current.pid else []
            pids += [p for p in self._orphans() if p not in pids]
            for pid in pids:
                self._terminate(pid, timeout_s=timeout_s)
            self._state_file.unlink(missing_ok=True)
            return bool(pids)

    def _terminate(self, pid: int, *, timeout_s: float = 30.0) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self._is_our_server(pid):
                break
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            time.sleep(0.1)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of the server log (it never contains the password)."""
        if not self.log_file.exists():
            return ""
        return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
