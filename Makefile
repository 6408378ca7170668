# One entry point for people and CI. `make help` lists the targets.
STACK ?= dev
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STATE_DIR := $(CURDIR)/.pulumi-state
export PULUMI_BACKEND_URL ?= file://$(STATE_DIR)
# The policy pack runs on every deploy and preview, with the stack's own config: the same
# enforcement levels `dataplatform check STACK` uses (docs/policies.md).
POLICY_PACK := policies
POLICY_CONFIG = $(POLICY_PACK)/config/$(STACK).json
POLICY_FLAGS = --policy-pack $(POLICY_PACK) --policy-pack-config $(POLICY_CONFIG)

.PHONY: help install system-deps test unit lint render check golden checkov bench preflight up preview destroy

help:  ## list targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(BIN)/dataplatform: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

install: $(BIN)/dataplatform  ## create .venv with pinned dependencies

system-deps:  ## what the integration tests run: PostgreSQL 15 + pgaudit (Debian), Trino, Kafka (Maven Central), Dagster (PyPI), cached
	./scripts/install-system-deps.sh

test: install system-deps  ## every test: unit, policy, integration (real PostgreSQL, Trino, Kafka, Dagster, S3)
	$(BIN)/pytest

unit: install  ## fast tests only (no real servers)
	$(BIN)/pytest -m "not integration"

lint: install  ## ruff and pyright (standard mode)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pyright

render: install  ## offline render of STACK to out/STACK.json and out/STACK-manifests/
	mkdir -p out
	$(BIN)/dataplatform render $(STACK) --out out/$(STACK).json --manifests out/$(STACK)-manifests

check: install  ## evaluate the policy pack against an offline render of STACK
	$(BIN)/dataplatform check $(STACK)

golden: install  ## re-record tests/golden/<stack>.json after an intended change of what a stack declares
	for s in dev test prod; do $(BIN)/dataplatform render $$s --out tests/golden/$$s.json; done

checkov: install  ## checkov (own venv, pinned) over the test and prod manifests; accepted findings in docs/checkov-accepted.md
	./scripts/checkov.sh

bench: install  ## whole-process render vs SDK import, check vs render (paired runs), prod deploy depth
	$(BIN)/python bench/render_bench.py

preflight: install  ## what a real deploy of STACK still needs
	$(BIN)/dataplatform preflight $(STACK)

up: preflight  ## deploy STACK (local file backend in .pulumi-state) under the policy pack
	mkdir -p $(STATE_DIR)
	pulumi stack select --create $(STACK)
	pulumi up --stack $(STACK) $(POLICY_FLAGS)

preview: preflight  ## preview STACK under the policy pack with policies/config/STACK.json
	mkdir -p $(STATE_DIR)
	pulumi stack select --create $(STACK)
	pulumi preview --stack $(STACK) $(POLICY_FLAGS) --diff

destroy: preflight  ## tear STACK down (protected prod resources refuse)
	pulumi destroy --stack $(STACK)
