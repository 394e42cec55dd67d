"""The Examples sections of the algorithm docstrings run and print what they claim."""

from __future__ import annotations

import doctest
import importlib
import inspect

import pytest

MODULES = ["circles", "influence", "lookalike", "churn", "lifecycle", "evaluation"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(f"quanzi.algorithms.{name}")
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0


@pytest.mark.parametrize("name", MODULES)
def test_public_names_are_documented(name: str) -> None:
    module = importlib.import_module(f"quanzi.algorithms.{name}")
    for public in module.__all__:
        obj = getattr(module, public)
        if callable(obj):
            assert obj.__doc__, f"{name}.{public} has no docstring"


@pytest.mark.parametrize("name", MODULES)
def test_public_names_have_a_runnable_example(name: str) -> None:
    """Every public function has an example; every public class one of its own or in a
    public method."""
    module = importlib.import_module(f"quanzi.algorithms.{name}")
    for public in module.__all__:
        obj = getattr(module, public)
        if inspect.isclass(obj):
            docs = [obj.__doc__ or ""] + [
                getattr(member, "__doc__", None) or ""
                for key, member in vars(obj).items()
                if not key.startswith("_")
            ]
        elif callable(obj):
            docs = [obj.__doc__ or ""]
        else:
            continue
        assert any(">>>" in doc for doc in docs), f"{name}.{public} has no example"
