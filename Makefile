# The two commands a newcomer needs: `make demo` and `make test`. Both install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
NPM_STAMP := node_modules/.installed
IAC_STAMP := .venv-iac/.installed

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install browser demo test check unit bench bench-quick clean

install: $(PY_STAMP) $(NPM_STAMP) $(IAC_STAMP) browser

# Debian's Chromium renders `pcpub report` pages in a test (headless, loopback only).
APT := DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get
browser:
	@command -v chromium >/dev/null 2>&1 || $(APT) install -y -q chromium \
		|| ($(APT) update -q && $(APT) install -y -q chromium)

$(PY_STAMP): pyproject.toml requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[local,dev]'
	touch $@

# checkov lives in a venv of its own: its pins would fight the app's.
$(IAC_STAMP):
	$(PYTHON) -m venv .venv-iac
	.venv-iac/bin/python -m pip install --quiet --disable-pip-version-check 'checkov>=3.2,<4'
	touch $@

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

demo: install
	scripts/loopback-only $(BIN)/pcpub demo

check: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Two workers: each test file's stacks (Azurite, simulator, hosts) are its own, and most of
# their time is waiting on Partner Center's simulated clock, so two files share the machine.
test: check
	scripts/loopback-only $(BIN)/pytest -n 2 --dist loadfile

unit: install
	$(BIN)/pytest tests/unit

bench: install
	scripts/loopback-only $(BIN)/python -m bench

bench-quick: install
	scripts/loopback-only $(BIN)/python -m bench --offers 20

clean:
	rm -rf $(VENV) .venv-iac node_modules .pytest_cache .mypy_cache .ruff_cache
