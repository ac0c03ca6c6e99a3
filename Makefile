# onescreen — the two commands that matter: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo serve test test-fast lint format bench snapshot system-deps clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

## demo: venv + install, embedded Redis, demo data, simulator; prints the URL
demo: $(STAMP)
	@scripts/ensure-system-deps.sh runtime
	$(BIN)/onescreen demo

serve: $(STAMP)
	$(BIN)/onescreen serve

## test: the whole suite (real Redis, real headless Chromium)
test: $(STAMP)
	@scripts/ensure-system-deps.sh test
	$(BIN)/pytest

test-fast: $(STAMP)
	$(BIN)/pytest -m "not browser and not slow"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## bench: the benchmarks from the checkout (not in the wheel); e.g. make bench BENCH_ARGS='--quick --only pointgrid'
bench: $(STAMP)
	@scripts/ensure-system-deps.sh test
	$(BIN)/python -m bench $(BENCH_ARGS)

snapshot: $(STAMP)
	$(BIN)/onescreen snapshot --out brief.png

clean:
	rm -rf $(VENV) .onescreen .pytest_cache .mypy_cache .ruff_cache
