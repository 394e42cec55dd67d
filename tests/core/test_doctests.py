"""Every docstring example outside the algorithms (tested beside them) and the client
(tested against a store in test_client.py) runs and prints what it claims."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import quanzi

SKIP = ("quanzi.client", "quanzi.algorithms.")


def _modules_with_examples() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(quanzi.__path__, "quanzi."):
        if info.name.startswith(SKIP) or info.name == "quanzi.__main__":
            continue
        tests = doctest.DocTestFinder().find(importlib.import_module(info.name))
        if any(t.examples for t in tests):
            names.append(info.name)
    return names


MODULES = _modules_with_examples()


def test_the_examples_are_found() -> None:
    assert {"quanzi.settings", "quanzi.graph.projection", "quanzi.viz.views"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(
        importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE
    )
    assert result.failed == 0
