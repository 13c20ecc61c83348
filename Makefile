# Two commands: `make test` sets everything up (virtual environment, packages) and runs lint, types and
# the whole suite against real services on loopback; `make up` runs the whole pipeline with a simulator.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: test lint typecheck pytest install clean up

install: $(STAMP)

# Re-installs only when pyproject.toml changes.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

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
up: $(STAMP)
	$(BIN)/smsc-analytics up --demo

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
