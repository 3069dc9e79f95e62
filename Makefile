# livecue: `make demo` sets up and runs the demo; `make test` runs everything.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SERVER := .cache/bin/livekit-server
STAMP := $(VENV)/.installed

.PHONY: setup postgres demo test unit lint bench clean

setup: $(STAMP) $(SERVER) postgres
	./scripts/install-espeak.sh
	./scripts/install-chromium.sh

postgres:
	./scripts/install-postgres.sh

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[agent,demo,dev]"
	@touch $(STAMP)

$(SERVER): scripts/install-livekit-server.sh
	./scripts/install-livekit-server.sh

demo: setup
	$(PY) examples/demo.py

lint: setup
	$(PY) -m ruff check src tests bench examples harness
	$(PY) -m ruff format --check src tests bench examples harness
	$(PY) -m mypy

test: setup lint
	$(PY) -m pytest -q

unit: setup
	$(PY) -m pytest -q tests/unit

bench: setup
	./scripts/install-bench-tools.sh
	./scripts/install-toxiproxy.sh
	$(PY) -m bench fanout
	$(PY) -m bench fanout_wan
	$(PY) -m bench latency
	$(PY) -m bench cli
	$(PY) -m bench ingest
	$(PY) -m bench e2e_latency
	$(PY) -m bench voice

clean:
	rm -rf $(VENV) .cache .pytest_cache .mypy_cache .ruff_cache
