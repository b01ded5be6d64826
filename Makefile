# Two commands from a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: test lint typecheck pytest demo demo-cli bench screenshots clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e '.[test,lint]'
	touch $(STAMP)

test: $(STAMP) lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check igor_tui tests bench scripts
	$(BIN)/ruff format --check igor_tui tests bench scripts

typecheck: $(STAMP)
	$(BIN)/mypy

# Two workers: the suite waits on peers (ticks, qemu boots, Cobbler) as much as it computes; tests sharing a
# machine-wide resource carry an xdist_group (tests/conftest.py), so loadgroup keeps each group on one worker.
pytest: $(STAMP)
	$(BIN)/pytest -q -n 2 --dist loadgroup

demo: $(STAMP)
	$(BIN)/igor-tui --demo

demo-cli: $(STAMP)
	$(BIN)/python scripts/demo.py

screenshots: $(STAMP)
	$(BIN)/python scripts/make_screenshots.py

bench: $(STAMP)
	$(BIN)/python bench/bench_cli.py

clean:
	rm -rf $(VENV) .demo .bench .pytest_cache .mypy_cache .ruff_cache
