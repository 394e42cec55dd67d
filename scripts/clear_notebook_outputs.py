"""Clear the outputs of notebooks before committing them (all of notebooks/ by default).

The test suite executes the notebooks and fails on any committed output, so figures always
come from a fresh run, never from a stale file.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat


def clear(path: Path) -> bool:
    """Clear one notebook's outputs and execution counts; return whether it changed."""
    nb = nbformat.read(path, as_version=4)
    changed = False
    for cell in nb.cells:
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None):
            cell.outputs, cell.execution_count = [], None
            changed = True
    if changed:
        nbformat.write(nb, path)
    return changed


def main() -> None:
    paths = [Path(p) for p in sys.argv[1:]] or sorted(Path("notebooks").glob("*.ipynb"))
    for path in paths:
        print(f"{path}: {'cleared' if clear(path) else 'clean'}")


if __name__ == "__main__":
    main()
