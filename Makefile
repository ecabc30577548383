# Every target bootstraps .venv by itself: a fresh clone needs only `make run` or `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: run test lint bench clean

$(VENV)/.stamp: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,lint]'
	touch $@

run: $(VENV)/.stamp
	$(VENV)/bin/raspyd --data-dir var/raspy --config raspy/defaults/run.toml --log-format console $(if $(filter 0,$(shell id -u)),--allow-root,)

test: $(VENV)/.stamp
	$(PY) -m pytest -q $(PYTEST_ARGS)

lint: $(VENV)/.stamp
	$(PY) -m ruff format --check . && $(PY) -m ruff check .
	rm -rf .typecheck && mkdir -p .typecheck/raspy
	for p in raspy/* actors storage; do ln -s "$$PWD/$$p" .typecheck/raspy/; done
	$(PY) -m mypy && $(PY) -m mypy tests

bench: $(VENV)/.stamp
	$(PY) tools/bench_mdp.py
	$(PY) tools/bench_store.py
	$(PY) tools/bench_clone.py
	$(PY) tools/bench_devices.py
	$(PY) tools/bench_core.py

clean:
	rm -rf $(VENV) .typecheck .hypothesis build *.egg-info var
