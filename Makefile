# Front door. `make dev` and `make test` install what they need into .venv (pinned) by themselves.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
TOOLS := .venv-tools
CHECKOV := .venv-checkov
export PYTHONPATH := $(CURDIR)/layers/shared:$(CURDIR)
export SAM_CLI_TELEMETRY := 0
REGION ?= us-east-1

.PHONY: dev test lint typecheck iac unit integration e2e bench deploy replay-dlq simulate clean openapi

$(VENV)/.installed: requirements-dev.txt layers/shared/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

$(TOOLS)/.installed: requirements-tools.txt
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check -r requirements-tools.txt
	touch $@

$(CHECKOV)/.installed: requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV)
	$(CHECKOV)/bin/pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	touch $@

## dev: the whole stack on 127.0.0.1:$${PORT:-3000} (moto underneath; Ctrl-C stops it)
dev: $(VENV)/.installed
	ALLOW_LOOPBACK_WEBHOOKS=$${ALLOW_LOOPBACK_WEBHOOKS-1} $(BIN)/python -m devstack.server

## test: everything CI runs
test: lint typecheck iac unit integration e2e

lint: $(VENV)/.installed
	$(BIN)/ruff check .

typecheck: $(VENV)/.installed
	$(BIN)/mypy

iac: $(VENV)/.installed $(TOOLS)/.installed $(CHECKOV)/.installed
	$(BIN)/cfn-lint template.yaml
	$(TOOLS)/bin/sam validate --lint --region $(REGION) --template-file template.yaml
	$(CHECKOV)/bin/checkov --file template.yaml --framework cloudformation --quiet --compact --skip-download
	$(BIN)/python tools/check_lambda_wheels.py  # every compiled dependency loads on python3.11 arm64 (AL2)
	@mkdir -p .aws-sam && $(TOOLS)/bin/sam build SharedLayer --template-file template.yaml >.aws-sam/layer.log 2>&1 \
		|| { cat .aws-sam/layer.log; exit 1; }  # layers/shared/Makefile
	$(BIN)/python tools/check_layer_bytecode.py .aws-sam/build/SharedLayer/python  # none compiled at cold start

# pytest exits 5 when it collects nothing: each suite below must run tests or make fails.
unit: $(VENV)/.installed
	$(BIN)/pytest tests/unit -q --disable-socket

integration: $(VENV)/.installed
	$(BIN)/pytest tests/integration -q -n 2

# The browser checks drive Debian's chromium (Playwright never downloads a browser here).
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	command -v apt-get >/dev/null || { echo "chromium is needed for the browser checks: install it"; exit 1; }
	apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium

e2e: $(VENV)/.installed $(CHROMIUM)
	$(BIN)/pytest tests/e2e -q

bench: $(VENV)/.installed $(TOOLS)/.installed
	$(BIN)/python bench/bench.py

build: $(TOOLS)/.installed
	$(TOOLS)/bin/sam build --template-file template.yaml

deploy: $(TOOLS)/.installed
	$(TOOLS)/bin/sam build --template-file template.yaml && $(TOOLS)/bin/sam deploy --config-env $${ENV:-dev}

## replay-dlq: deliver the notifier's failed stream batches again (STACK=wabaguard-prod)
replay-dlq: $(VENV)/.installed
	$(BIN)/python -m tools.replay_dlq --stack $${STACK:-wabaguard-dev}

## openapi: regenerate the committed OpenAPI document from the code (a unit test keeps it current)
openapi: $(VENV)/.installed
	$(BIN)/python -m devstack.openapi > layers/shared/wabaguard/openapi.json
	$(BIN)/python -m devstack.openapi --security-events > layers/shared/wabaguard/webhooks/events.schema.json

clean:
	rm -rf $(VENV) $(TOOLS) $(CHECKOV) .aws-sam .local .mypy_cache .ruff_cache

## simulate: labelled benign and attack traffic through a fresh local stack; precision and recall
simulate: $(VENV)/.installed
	$(BIN)/python -m tools.simulate
