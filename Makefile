# One-word targets. `make run` and `make test` are the two a user needs.
VENV ?= .venv
PY := $(VENV)/bin/python
SY := $(VENV)/bin/switchyard
PYTEST := $(PY) -m pytest

.PHONY: install run test lint unit integration up down status clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

run: install up
	$(SY) run --demo

up: install
	$(SY) stack up
	$(SY) topology declare
	$(SY) db migrate

down: install
	$(SY) stack down

status: install
	$(SY) stack status

test: lint unit integration

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy --strict .

unit: install
	$(PYTEST) tests/unit

integration: install
	$(PYTEST) tests/integration

.PHONY: bench
# Stock Celery against Switchyard on the running stack (a few minutes); see README.
bench: up
	$(SY) bench

clean: down
	rm -rf .stack
