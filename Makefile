# Two commands from a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: test deps lint typecheck pytest demo demo-cli bench screenshots clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e '.[test,lint]'
	touch $(STAMP)

test: deps $(STAMP) lint typecheck pytest

# The Debian packages the suite needs: installed when root with apt, else one line says what skips.
deps:
	scripts/test-deps

lint: $(STAMP)
	$(BIN)/ruff check igor_tui tests bench scripts
	$(BIN)/ruff format --check igor_tui tests bench scripts
	$(BIN)/lint-imports  # the layer contracts in pyproject.toml

typecheck: $(STAMP)
	$(BIN)/mypy

# Two workers: the suite waits on peers (ticks, qemu boots, Cobbler) as much as it computes; tests sharing a
# machine-wide resource carry an xdist_group (tests/conftest.py), so loadgroup keeps each group on one worker.
pytest: $(STAMP)
	$(BIN)/pytest -q -n 3 --dist loadgroup

demo: $(STAMP)
	$(BIN)/igor-tui --demo

demo-cli: $(STAMP)
	$(BIN)/python scripts/demo.py

screenshots: $(STAMP)
	scripts/test-deps screenshots
	$(BIN)/python scripts/make_screenshots.py

bench: $(STAMP)
	$(BIN)/python bench/bench_cli.py

clean:
	rm -rf $(VENV) .demo .bench .pytest_cache .mypy_cache .ruff_cache .import_linter_cache .grimp_cache
