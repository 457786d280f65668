# Two commands for a fresh Linux machine with Python 3.11+:
#   make demo   installs Admit into .venv and runs the demo (embedded broker, SQLite, simulated gates)
#   make test   installs Admit with its test tools into .venv and runs lint, types and the whole suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_ARGS ?= --kiosks 3
PYTEST_ARGS ?= -n 2

.PHONY: demo test lint typecheck pytest system-deps clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Admit needs Python 3.11+"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.demo-installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[server,kiosk]'
	touch $@

$(VENV)/.dev-installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[server,kiosk,dev]'
	touch $@

demo: $(VENV)/.demo-installed
	$(BIN)/admit demo $(DEMO_ARGS)

# libzbar0 (the zbar decoder) and mosquitto (broker tests with ACLs and restarts) are system
# packages; install them when missing, as root or through sudo.
system-deps:
	@missing=""; \
	ldconfig -p 2>/dev/null | grep -q 'libzbar.so.0' || missing="$$missing libzbar0"; \
	command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || missing="$$missing mosquitto"; \
	if [ -n "$$missing" ]; then \
		echo "installing system packages:$$missing"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.dev-installed
	$(BIN)/mypy protocol hardware kiosk server admit_cli.py

pytest: $(VENV)/.dev-installed system-deps
	$(BIN)/pytest $(PYTEST_ARGS)

test: lint typecheck pytest

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
