# Entry points: `make serve`, `make demo` and `make test`. Each builds .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: serve demo test lint typecheck unit bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

serve: $(STAMP)
	$(BIN)/fabcore serve

demo: $(STAMP)
	$(BIN)/fabcore demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

# pytest exits 5 when it collects nothing; that must fail, and it does here
# because only exit 0 passes.
test: $(STAMP) lint typecheck
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python bench/bench_mesh.py
	$(BIN)/python bench/bench_storage.py
	$(BIN)/python bench/bench_sql_floor.py
	$(BIN)/python bench/bench_scale.py
	$(BIN)/python bench/bench_mail.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
