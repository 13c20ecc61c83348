# Two commands: `make test` sets everything up (virtual environment, packages) and runs lint, types and
# the whole suite against real services on loopback; `make up` runs the whole pipeline with a simulator.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
LOCK   := requirements.lock
PIP    := $(BIN)/python -m pip --disable-pip-version-check

.PHONY: test lint typecheck pytest install clean up lock

install: $(STAMP)

# Exactly the versions in requirements.lock, pip included: the lock is a constraints file, so the extras
# still say what to install and the lock only which version. Re-installs when the ranges or the lock change.
$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet -c $(LOCK) pip
	$(PIP) install --quiet -c $(LOCK) -e '.[dev]'
	touch $@

# Resolves pyproject.toml's ranges (runtime and every extra) into requirements.lock for Python 3.11 on Linux
# x86_64, keeping each pin that still fits them; `make lock UPGRADE=1` takes the newest release each range
# allows. Needs only uv (the locked version), not the project installed: ranges the old pins break still lock.
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet -c $(LOCK) uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --extra bench \
		--python-version 3.11 --python-platform x86_64-unknown-linux-gnu \
		--custom-compile-command 'make lock' $(if $(UPGRADE),--upgrade) --quiet -o $(LOCK)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest

# Prometheus and Alertmanager from Debian (2.42, 0.25), installed only when missing: check the committed
# config, rules and Alertmanager config, and run the unit tests of every alert (dashboards/prometheus).
.PHONY: alert-rules
alert-rules:
	command -v promtool >/dev/null && command -v amtool >/dev/null || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			prometheus prometheus-alertmanager >/dev/null; }
	promtool check config dashboards/prometheus/prometheus.yml
	promtool check rules dashboards/prometheus/rules.yml
	promtool test rules dashboards/prometheus/rules_test.yml
	amtool check-config dashboards/alertmanager/alertmanager.yml

test: lint typecheck alert-rules pytest

# The whole pipeline on this machine with the simulator feeding it; live numbers until Ctrl-C.
# `make up DEGRADE_CARRIER=MegaFon`: messages to that carrier mostly fail (the carrier alert fires).
up: $(STAMP)
	$(BIN)/smsc-analytics up --demo $(if $(DEGRADE_CARRIER),--degrade-carrier '$(DEGRADE_CARRIER)')

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
