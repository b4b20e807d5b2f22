# The two commands a new user needs: `make run` and `make test`. Nothing but Python 3.11+ and make.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
SIMULATOR_PORT ?= 8001
GATEWAY_SIMULATOR_PORT ?= 8002

.PHONY: run test install install-dev lint bench clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## run: set up and start the panel (web + worker + beat + demo provider) on http://127.0.0.1:8000
# `exec`: make's child is run_local itself, which make's SIGTERM reaches and which notices a SIGINT sent to
# make alone (panel/parent_watch.py); it stops web, worker, beat and the simulators, then make ends.
run: $(VENV)/.installed
	DEBUG=1 $(PY) manage.py migrate --noinput
	DEBUG=1 $(PY) manage.py ensure_admin --host $(HOST) --port $(PORT)
	exec env DEBUG=1 $(PY) manage.py run_local --host $(HOST) --port $(PORT) \
		--simulator-port $(SIMULATOR_PORT) --gateway-simulator-port $(GATEWAY_SIMULATOR_PORT)

## test: install the dev extras and run the whole suite (SQLite unless DATABASE_URL is set)
test: $(VENV)/.installed-dev
	SECRET_KEY=$${SECRET_KEY:-test-only-secret-key} $(VENV)/bin/pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .

# The benchmarks' upstream simulator listens on loopback, which provider URLs reach only with this on.
bench: $(VENV)/.installed-dev
	SECRET_KEY=$${SECRET_KEY:-bench-only-secret-key} PROVIDER_URLS_ALLOW_PRIVATE=$${PROVIDER_URLS_ALLOW_PRIVATE:-1} \
		$(PY) -m bench

clean:
	rm -rf $(VENV) data staticfiles
