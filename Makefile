# Two commands matter: `make run` (the whole platform locally) and `make test` (the whole suite).
# Both bootstrap from nothing but Python 3.11 and the package registries: a tools venv holding uv,
# then `uv sync --frozen` from uv.lock into .venv. A stamp inside .venv, keyed on uv.lock, makes re-runs instant.

PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .odr/tools
UV := $(TOOLS)/bin/uv
VENV := .venv
LOCK_HASH := $(shell $(PYTHON) -c "import hashlib; print(hashlib.sha256(open('uv.lock','rb').read()).hexdigest()[:16])")
SYNCED := $(VENV)/.synced-$(LOCK_HASH)
PYTEST_ARGS ?=

# uv must not fetch its own Python builds (only the package registries are reachable).
export UV_PYTHON_DOWNLOADS := never

.PHONY: run test lint bootstrap

run: bootstrap
	$(VENV)/bin/python -m odr_runner run

test: bootstrap
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: bootstrap
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

bootstrap: $(SYNCED)

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(SYNCED): uv.lock | $(UV)
	$(UV) sync --frozen --compile-bytecode --python $(PYTHON)
	rm -f $(VENV)/.synced-*
	touch $@

# Benchmarks (bench/README.md): not part of `make test`; each scenario starts its own platform on free ports.
BENCH_SCENARIOS := intake propagation stats streams replay
.PHONY: bench $(addprefix bench-,$(BENCH_SCENARIOS))

bench: $(addprefix bench-,$(BENCH_SCENARIOS))

$(addprefix bench-,$(BENCH_SCENARIOS)): bench-%: bootstrap
	$(VENV)/bin/python -m bench.$*
