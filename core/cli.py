"""The ``quanzi`` command line.

Every command has ``--help``. Errors that Quanzi raises on purpose print one message and exit
with status 1; nothing prints a traceback for a bad setting or an unreachable store.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from quanzi.errors import ConflictError, QuanziError
from quanzi.settings import MAX_AUTO_WORKERS, Role, Settings, load_settings

if TYPE_CHECKING:
    from quanzi.graph.store import GraphStore

__all__ = ["app", "main"]

app = typer.Typer(
    name="quanzi",
    help="Quanzi (圈子): graph-native Social CRM intelligence.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
store_app = typer.Typer(
    help="Start, stop and inspect the bundled graph store.", no_args_is_help=True
)
app.add_typer(store_app, name="store")

console = Console(stderr=True)
out = Console()

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Data directory (default: QUANZI_DATA_DIR, else $XDG_DATA_HOME/quanzi or "
        "~/.local/share/quanzi).",
    ),
]


def _settings(data_dir: Path | None = None, **overrides: Any) -> Settings:
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    return load_settings(**overrides)


@contextlib.contextmanager
def progress_bars() -> Iterator[Callable[[str, int, int | None], None]]:
    """A ``progress(step, done, total)`` callback drawing one rich bar per step."""
    bars = Progress(
        SpinnerColumn(),
        TextColumn("{task.description:<28}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )
    tasks: dict[str, TaskID] = {}

    def report(step: str, done: int, total: int | None) -> None:
        if step not in tasks:
            tasks[step] = bars.add_task(step, total=total)
        bars.update(tasks[step], completed=done, total=total)

    with bars:
        yield report


# -- store ------------------------------------------------------------------------------------
@store_app.command("start")
def store_start(data_dir: DataDir = None) -> None:
    """Start the bundled store (ArcadeDB) unless it already runs over this data directory."""
    from quanzi.graph.connect import bundled_store

    manager = bundled_store(_settings(data_dir))
    with console.status("Starting the bundled store..."):
        status = manager.start()
    out.print(f"Bundled store running (pid {status.pid}) at {status.uri}; data in {status.root}")


@store_app.command("stop")
def store_stop(data_dir: DataDir = None) -> None:
    """Stop the bundled store cleanly."""
    from quanzi.graph.connect import bundled_store

    stopped = bundled_store(_settings(data_dir)).stop()
    out.print("Bundled store stopped." if stopped else "The bundled store was not running.")


@store_app.command("status")
def store_status(
    data_dir: DataDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Say whether the bundled store is running, with its pid, port and data folder."""
    from dataclasses import asdict

    from quanzi.graph.connect import bundled_store

    status = bundled_store(_settings(data_dir)).status()
    if as_json:
        out.print_json(json.dumps(asdict(status)))
        return
    detail = f" (pid {status.pid}, bolt://127.0.0.1:{status.bolt_port})" if status.pid else ""
    hint = (
        " - a previous server crashed; `quanzi store start` clears it"
        if status.state == "stale"
        else ""
    )
    out.print(f"Bundled store: {status.state}{detail}{hint}; data in {status.root}")


# -- data -------------------------------------------------------------------------------------
@app.command()
def generate(
    out_dir: Annotated[Path, typer.Argument(help="Folder to write the files into.")],
    customers: Annotated[int, typer.Option(help="Number of true persons.", min=10)] = 1000,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same files).")] = 0,
) -> None:
    """Generate a synthetic multi-channel SCRM data set with its ground truth."""
    from quanzi.ingest.synthetic import GeneratorConfig
    from quanzi.ingest.synthetic import generate as run_generator

    with progress_bars() as report:
        files = run_generator(
            out_dir, GeneratorConfig(customers=customers, seed=seed), progress=report
        )
    for name, n in files.counts.items():
        out.print(f"{name:>16}: {n:>10,} rows")
    out.print(f"Written to {out_dir}")


@app.command()
def ingest(
    paths: Annotated[
        list[Path], typer.Argument(help="Contact and event files, or a folder of them.")
    ],
    data_dir: DataDir = None,
    rejects: Annotated[
        Path | None,
        typer.Option(
            help="Where to write the rejected rows (CSV: file, row, field, reason); default: "
            "ingest/rejects-<UTC time>.csv under the data directory, when there are any."
        ),
    ] = None,
    mapping: Annotated[
        list[str] | None,
        typer.Option(
            help="FILE=MAPPING: read FILE (an export in another layout) through a TOML or JSON "
            "column mapping (docs/ingest.md); repeat for several files."
        ),
    ] = None,
) -> None:
    """Load contact records and events, resolve identities, and write them to the graph."""
    settings = _settings(data_dir)
    from quanzi.graph.connect import open_store
    from quanzi.ingest import ingest_files
    from quanzi.ingest.readers import load_mapping

    mappings = {}
    for item in mapping or ():
        file, sep, rules = item.partition("=")
        if not sep or not file or not rules:
            raise QuanziError(f"--mapping takes FILE=MAPPING, not {item!r}")
        mappings[Path(file)] = load_mapping(Path(rules))
    store = open_store(settings)
    try:
        with progress_bars() as report:
            result = ingest_files(store, paths, settings, mappings=mappings, progress=report)
    finally:
        store.close()
    out.print(result.summary())
    for name in result.skipped_files:
        out.print(f"skipped {name}")
    if result.rejects:
        target = rejects or settings.data_dir / "ingest" / f"rejects-{_utc_stamp()}.csv"
        target.parent.mkdir(parents=True, exist_ok=True)
        result.write_rejects(target)
        target.chmod(0o600)  # the rows' values are personal data
        from quanzi.api.logs import mask_text

        for r in result.rejects[:_REJECTS_SHOWN]:
            out.print(f"  {r.file}:{r.row} {r.field}: {mask_text(r.reason)}", markup=False)
        more = len(result.rejects) - _REJECTS_SHOWN
        out.print(
            (f"  ... and {more:,} more; " if more > 0 else "  ")
            + f"all {len(result.rejects):,} rejected rows are in {target}",
            markup=False,
        )


#: Rejected rows the CLI prints (all of them go to the rejects file).
_REJECTS_SHOWN = 5


def _utc_stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


@app.command()
def analyze(data_dir: DataDir = None) -> None:
    """Run the graph analyses (circles, influence, ...) and write the results to the graph."""
    settings = _settings(data_dir)
    from quanzi.api.services.analysis import run_analysis
    from quanzi.graph.connect import open_store

    store = open_store(settings)
    try:
        with progress_bars() as report:
            summary = run_analysis(store, settings, progress=report)
        for line in summary.lines():
            out.print(line)
    finally:
        store.close()


# -- service ----------------------------------------------------------------------------------
@app.command()
def serve(
    data_dir: DataDir = None,
    host: Annotated[
        str | None, typer.Option(help="Bind address (default QUANZI_API_HOST).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default QUANZI_API_PORT).")] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            help="Server processes (default QUANZI_API_WORKERS; 0 or unset: one per CPU "
            f"core, at most {MAX_AUTO_WORKERS}); each holds its own lookalike graph in memory.",
            min=0,
            max=64,
        ),
    ] = None,
) -> None:
    """Serve the HTTP API and the web pages."""
    settings = _settings(data_dir, **({} if workers is None else {"api_workers": workers}))
    host, port = host or settings.api_host, port or settings.api_port
    _serve(settings, host, port, settings.served_workers)


def _serve(settings: Settings, host: str, port: int, workers: int = 1) -> None:
    import socket

    import uvicorn

    from quanzi.api.app import create_app

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            raise QuanziError(
                f"Port {port} on {host} is taken: stop what uses it, "
                "or pass --port / set QUANZI_API_PORT"
            ) from None
    out.print(f"Quanzi is serving on http://{host}:{port}  (API docs: http://{host}:{port}/docs)")
    # uvicorn believes X-Forwarded-For from 127.0.0.1 by default: any local client could
    # then pick the address its rate limit is counted on. Only named proxies are believed.
    proxies = settings.api_trusted_proxies.strip()
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": "warning",
        "proxy_headers": bool(proxies),
        "forwarded_allow_ips": proxies or None,
    }
    if workers == 1:
        uvicorn.run(create_app(settings), **options)
        return
    # Worker processes build their own app from the environment: hand them the data
    # directory this command was given (the other settings come from the same environment
    # and .env file).
    os.environ["QUANZI_DATA_DIR"] = str(settings.data_dir)
    out.print(f"{workers} worker processes")
    uvicorn.run("quanzi.api.app:create_app", factory=True, workers=workers, **options)


@app.command(
    help="Start the bundled store, generate and load demo data, analyse it and serve the API."
    "\n\nThe demo keeps its own store (demo/ under the default data directory) unless "
    "--data-dir or QUANZI_DATA_DIR names one, so its made-up customers never meet the "
    "customers you load; it refuses a store that already holds customers it did not load."
)
def demo(
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="Data directory (default: QUANZI_DATA_DIR, else demo/ under "
            "$XDG_DATA_HOME/quanzi or ~/.local/share/quanzi, apart from your own data).",
        ),
    ] = None,
    customers: Annotated[int, typer.Option(help="Size of the generated data set.", min=10)] = 2000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
    port: Annotated[int | None, typer.Option(help="Port (default QUANZI_API_PORT).")] = None,
    serve_after: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve when loaded.")
    ] = True,
) -> None:
    """Start the bundled store, generate and load demo data, analyse it and serve the API."""
    settings = _demo_settings(data_dir)
    from quanzi.api.services.analysis import run_analysis
    from quanzi.graph.connect import bundled_store, open_store
    from quanzi.ingest import ingest_files
    from quanzi.ingest.synthetic import GeneratorConfig
    from quanzi.ingest.synthetic import generate as run_generator

    with console.status("Starting the bundled store..."):
        status = bundled_store(settings).start()
    out.print(f"Bundled store running (pid {status.pid}); data in {status.root}")
    demo_dir = settings.data_dir / "demo-data"
    store = open_store(settings)
    try:
        _refuse_to_mix_demo_data(store, settings.data_dir, demo_dir)
        with progress_bars() as report:
            run_generator(
                demo_dir, GeneratorConfig(customers=customers, seed=seed), progress=report
            )
            result = ingest_files(store, [demo_dir], settings, progress=report)
            summary = run_analysis(store, settings, progress=report)
        out.print(result.summary())
        for line in summary.lines():
            out.print(line)
    finally:
        store.close()
    again = f"--data-dir {settings.data_dir}"
    out.print(
        f"Demo store in {settings.data_dir}: serve it again with `quanzi serve {again}`, "
        f"stop it with `quanzi store stop {again}`.",
        soft_wrap=True,  # commands to copy: no line breaks inside them
    )
    if serve_after:
        admin = _create_key(settings, "demo admin", "admin")
        viewer = _create_key(settings, "demo viewer", "viewer")
        url = f"http://{settings.api_host}:{port or settings.api_port}"
        out.print(f"Demo keys (shown once): admin [bold]{admin}[/]  viewer [bold]{viewer}[/]")
        out.print(f"Sign in to the pages at {url}/ui/login, or send the X-API-Key header.")
        _serve(settings, settings.api_host, port or settings.api_port)


def _demo_settings(data_dir: Path | None) -> Settings:
    """The demo's settings: the bundled store, in ``--data-dir``, else ``QUANZI_DATA_DIR``,
    else ``demo`` under the default data directory (not the default directory itself, where
    ``quanzi ingest`` loads your own customers)."""
    settings = _settings(data_dir, store="bundled")
    if "data_dir" in settings.model_fields_set:
        return settings
    return _settings(settings.data_dir / "demo", store="bundled")


def _refuse_to_mix_demo_data(store: GraphStore, data_dir: Path, demo_dir: Path) -> None:
    """The demo's made-up customers never go into a store that holds customers it did not
    load: identity resolution could link them to real people, and nothing tells them apart
    afterwards. A store where the demo ran before (its ``demo-data`` folder is there) or an
    empty one is fine."""
    from quanzi.model import Node

    if demo_dir.exists():
        return
    customers = store.counts().get(Node.CUSTOMER.value, 0)
    if customers:
        raise ConflictError(
            f"the store in {data_dir} already holds {customers:,} customer(s) that `quanzi demo` "
            "did not load, and the demo would add made-up customers to them (its identity "
            "resolution could even link them to real ones). Run the demo in a directory of "
            "its own: quanzi demo --data-dir ~/quanzi-demo"
        )


def _create_key(settings: Settings, name: str, role: Role, employee: str | None = None) -> str:
    from quanzi.api.services.files import api_folder
    from quanzi.api.services.keys import KeyRing

    ring = KeyRing(settings.api_keys, api_folder(settings.data_dir))
    key, _ = ring.create(name, role, employee_id=employee, created_by="cli")
    return key


@app.command("create-key")
def create_key(
    name: Annotated[str, typer.Argument(help="Who or what the key is for.")],
    role: Annotated[str, typer.Option(help="viewer, sales or admin.")] = "viewer",
    employee: Annotated[
        str | None, typer.Option(help="Employee id a sales key sees unmasked customers of.")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Create an API key (stored hashed; the key is printed once)."""
    if role not in ("viewer", "sales", "admin"):
        raise QuanziError(f"--role must be viewer, sales or admin, not {role!r}")
    settings = _settings(data_dir)
    out.print(_create_key(settings, name, role, employee))  # type: ignore[arg-type]


def main() -> None:
    """Entry point: run the CLI, printing Quanzi's errors as one line instead of a traceback."""
    # The driver warns on every retry of a failed transaction; the error that ends the retries
    # is printed below as one line, so its warnings would only bury it.
    logging.getLogger("neo4j").setLevel(logging.ERROR)
    try:
        app()
    except QuanziError as e:
        console.print(Text.assemble(("Error: ", "bold red"), str(e)), soft_wrap=True)
        sys.exit(1)
