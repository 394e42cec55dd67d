# The two commands of the README. Both set up everything on a fresh machine first.
#   make demo   install, start the bundled store, load demo data, analyse, serve on :8000
#   make test   install, lint, type-check and run the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup demo test lint typecheck pytest bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt scripts/setup-system.sh
	bash scripts/setup-system.sh chromium fonts-noto-cjk
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]" --config-settings editable_mode=strict
	touch $@

demo: setup
	$(BIN)/quanzi demo

test: setup lint typecheck pytest

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck:
	$(BIN)/mypy -p quanzi

pytest:
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python benchmarks/store_load.py

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache
