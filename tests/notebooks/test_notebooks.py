"""The notebooks in notebooks/ run top to bottom against the real bundled store.

Each notebook is executed in a fresh Jupyter kernel (nbclient); a cell that raises fails the
test. The kernel gets the session store's data directory through ``QUANZI_NOTEBOOK_DATA_DIR``,
so no notebook starts a store of its own here. The notebooks load the same generated data
set (same size, seed and mixing), so the second and third find it loaded already - loading
is idempotent - and the store is emptied once, before the first.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

from quanzi.graph.store import GraphStore
from quanzi.settings import Settings

pytestmark = pytest.mark.store

FOLDER = Path(__file__).resolve().parents[2] / "notebooks"
NOTEBOOKS = sorted(FOLDER.glob("*.ipynb"))
Runner = Callable[[Path], Any]
#: Seconds one cell may take on the loaded 2-core test machine before the run fails.
CELL_TIMEOUT_S = 300


def _outputs(nb: Any, kind: str) -> list[Any]:
    return [
        o.data[kind]
        for cell in nb.cells
        if cell.cell_type == "code"
        for o in cell.outputs
        if "data" in o and kind in o.data
    ]


def test_the_three_notebooks_are_there() -> None:
    assert [p.name for p in NOTEBOOKS] == [
        "01-quickstart.ipynb",
        "02-circles-and-influence.ipynb",
        "03-lookalike-evaluation.ipynb",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], (
                f"{path.name} cell {i} holds outputs: run scripts/clear_notebook_outputs.py"
            )
            assert cell.execution_count is None, f"{path.name} cell {i} has an execution count"


@pytest.fixture(scope="module")
def notebook_data_dir(session_store: GraphStore, store_settings: Settings) -> Path:
    """The session store, emptied once for the notebooks."""
    session_store.delete_everything()
    return store_settings.data_dir


@pytest.fixture(scope="module")
def run(notebook_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runner]:
    """``run(path)``: the notebook executed in a fresh kernel, once per module run."""
    done: dict[Path, Any] = {}
    failed: dict[Path, BaseException] = {}
    folder = tmp_path_factory.mktemp("notebooks")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("QUANZI_NOTEBOOK_DATA_DIR", str(notebook_data_dir))

        def execute(path: Path) -> Any:
            if path in failed:
                raise failed[path]
            if path not in done:
                nb = nbformat.read(path, as_version=4)
                # IPC transport: the kernel's sockets are files in its folder, not TCP ports.
                manager = KernelManager(
                    kernel_name="python3", transport="ipc", ip=str(folder / "kernel")
                )
                client = NotebookClient(
                    nb,
                    km=manager,
                    timeout=CELL_TIMEOUT_S,
                    resources={"metadata": {"path": str(folder)}},
                )
                try:
                    client.execute(cwd=str(folder))
                except BaseException as e:
                    failed[path] = e
                    raise
                finally:
                    nbformat.write(nb, folder / path.name)  # kept for a look when a run fails
                done[path] = nb
            return done[path]

        yield execute


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(run: Runner, path: Path) -> None:
    executed = run(path)
    code = [c for c in executed.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code)
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]


def test_quickstart_draws_a_circle_inline_and_offline(run: Runner) -> None:
    executed = run(FOLDER / "01-quickstart.ipynb")
    frames = [h for h in _outputs(executed, "text/html") if h.startswith("<iframe srcdoc=")]
    assert len(frames) == 1
    assert "vis-network" in frames[0]
    # Every script and style is inlined in the document: nothing refers to another host.
    assert "src=&quot;" not in frames[0]
    assert "href=&quot;http" not in frames[0]


@pytest.mark.parametrize(
    ("name", "figures"), [("02-circles-and-influence", 3), ("03-lookalike-evaluation", 2)]
)
def test_notebook_draws_its_figures(run: Runner, name: str, figures: int) -> None:
    pictures = _outputs(run(FOLDER / f"{name}.ipynb"), "image/png")
    assert len(pictures) == figures
    for png in pictures:
        assert base64.b64decode(png).startswith(b"\x89PNG")
