# NN Lab: `make run` starts the dashboard, `make test` runs every test (both set themselves up).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check -q
HOST   ?= 127.0.0.1
PORT   ?= 8050
DB     ?= sqlite:///nnlab.db
PYTEST_ARGS ?=

.PHONY: run test venv dev system-deps bench clean

$(VENV)/.installed: requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -r requirements.txt
	$(PIP) install --no-deps -e .
	touch $@

$(VENV)/.dev-installed: $(VENV)/.installed requirements-dev.txt
	$(PIP) install -r requirements-dev.txt
	-$(PIP) install -r requirements-bench.txt || echo "torch not installed: the PyTorch comparisons will be skipped"
	touch $@

venv: $(VENV)/.installed
dev: $(VENV)/.dev-installed

## Start the dashboard on http://$(HOST):$(PORT) (SQLite file ./nnlab.db, diskcache in ./.nnlab-cache).
run: $(VENV)/.installed
	$(VENV)/bin/nnlab serve --db $(DB) --host $(HOST) --port $(PORT)

## Install what the tests need (Python packages; Debian's chromium, chromium-driver, redis-server,
## postgresql and dataset-fashion-mnist when missing) and run the whole suite, browser tests included.
test: $(VENV)/.dev-installed system-deps
	$(PY) -m pytest $(PYTEST_ARGS)

system-deps:
	@./scripts/system-deps.sh

bench: $(VENV)/.dev-installed
	$(PY) bench/engine.py
	$(PY) bench/recurrent_layer.py
	$(PY) bench/storage.py
	$(PY) bench/jobs.py
	$(PY) bench/snapshots.py
	$(PY) bench/checkpoint.py
	$(PY) bench/concurrency.py
	$(PY) bench/query_check.py
	$(PY) bench/dashboard.py

clean:
	rm -rf $(VENV) .nnlab-cache
