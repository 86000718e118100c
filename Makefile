# Two commands are all a newcomer needs:  make run  (the whole OMS locally)  and  make test.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
VENV_STAMP := $(VENV)/.venv-stamp
STAMP := $(VENV)/.installed-stamp
LOCAL_STAMP := $(VENV)/.local-stamp
PORT ?= 3000
# Test processes: one local stack each (pytest-xdist); a module runs whole on one worker. One more than
# the cores: a worker waits on its stack's threads about a third of the time (2 cores: 228 s with 2
# workers, 202 s with 3, docs/local-runtime.md).
TEST_WORKERS ?= $(shell $(PYTHON) -c 'import os; print((os.cpu_count() or 1) + 1)')
# The lint steps run side by side (their output kept whole per step).
LINT_JOBS ?= 4

# Installs run through uv when it could be installed (the same packages as pip, several times faster);
# otherwise, with INSTALLER=pip, or when uv fails (say an index only pip is configured for), through
# pip. $(call install_into,VENV,ARGUMENTS)
INSTALLER ?= uv
UV := $(VENV)/bin/uv
comma := ,
pip_into = "$(1)/bin/python" -m pip install --disable-pip-version-check $(2)
install_into = if [ "$(INSTALLER)" = uv ] && [ -x "$(UV)" ]; then "$(UV)" pip install --python "$(1)/bin/python" $(2) \
	|| { echo "uv failed: installing with pip"; $(pip_into); }; else $(pip_into); fi

.PHONY: install run test lint lint-ruff lint-mypy lint-cfn lint-statelint lint-checkov
.PHONY: check-python simulate bench sam-validate clean

check-python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required (set PYTHON=...)")'

$(VENV_STAMP): | check-python
	$(PYTHON) -m venv $(VENV)
	@if [ "$(INSTALLER)" = uv ]; then $(PY) -m pip install --quiet --disable-pip-version-check uv \
		|| echo "uv could not be installed: pip installs everything"; fi
	@[ -x "$(UV)" ] || $(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	touch $(VENV_STAMP)

# What running needs (.[local]: moto, rich), then what testing adds (.[dev]: pytest, linters, stubs).
$(LOCAL_STAMP): pyproject.toml $(VENV_STAMP)
	@echo "Installing what \`make run\` needs into $(VENV) (.[local]; \`make test\` adds the dev tools)"
	$(call install_into,$(VENV),-e ".[local]")
	touch $(LOCAL_STAMP)

$(STAMP): $(LOCAL_STAMP)
	@echo "Installing the dev tools into $(VENV) (.[dev])"
	$(call install_into,$(VENV),-e ".[local$(comma)dev]")
	touch $(STAMP)

install: $(STAMP)

## make run PORT=3101: the OMS on 127.0.0.1:$(PORT), embedded AWS (moto), real state machine, real handlers
run: $(LOCAL_STAMP)
	$(VENV)/bin/oms serve --port $(PORT)

## make test: lint, type-check, validate the template and the state machine, then every test
test: lint
	$(VENV)/bin/pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=15

# checkov pins its own boto3 (older than the OMS needs), so it lives in a venv of its own.
CHECKOV_VENV ?= .venv-checkov
CHECKOV_SPEC ?= checkov>=3.2,<4
CHECKOV := $(CHECKOV_VENV)/bin/checkov

$(CHECKOV): | $(VENV_STAMP)
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(call install_into,$(CHECKOV_VENV),--quiet "$(CHECKOV_SPEC)")

# The steps are independent: installing checkov's venv overlaps the main install, and the checks run
# in parallel (make -j), each step's output printed whole when it ends.
lint:
	@$(MAKE) --no-print-directory -j$(LINT_JOBS) --output-sync=target lint-ruff lint-mypy lint-cfn lint-statelint lint-checkov

lint-ruff: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

lint-mypy: install
	$(VENV)/bin/mypy

lint-cfn: install
	$(VENV)/bin/cfn-lint template.yaml

lint-statelint: install
	$(VENV)/bin/statelint --ignore=URI statemachine/*.asl.json

lint-checkov: $(CHECKOV)
	@# offline: no external modules, no guideline download; skips and their reasons: .checkov.yaml
	BC_SKIP_MAPPING=TRUE $(CHECKOV) --config-file .checkov.yaml --download-external-modules false -f template.yaml

## make sam-validate: SAM's own validation and lint (needs the sam CLI on PATH; no AWS credentials)
sam-validate:
	sam validate --lint --region $${AWS_REGION:-us-east-1}

simulate: install
	$(VENV)/bin/oms simulate --orders 200 --seed 1

## make bench: per-order counts, modelled cost, cold imports, pipeline vs storage floor, hot SKU (docs/scaling.md)
bench: install
	$(VENV)/bin/oms bench --json

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) .pytest_cache .mypy_cache .ruff_cache .aws-sam

# ---------------------------------------------------------------------------------------------
# `sam build` calls these (BuildMethod: makefile) with ARTIFACTS_DIR set. Functions carry only our
# code; the layer carries the dependencies, built for the Lambda runtime (Python 3.12, arm64).
LAMBDA_FUNCTIONS := ApiFunction ReviewFunction AllocateFunction ShipFunction CompensateFunction
LAMBDA_FUNCTIONS += HoldFunction InterceptFunction
LAMBDA_FUNCTIONS += PaymentFunction PaymentTimeoutFunction HoldEscalationFunction
LAMBDA_FUNCTIONS += AuthorizerFunction
LAMBDA_FUNCTIONS += ExecutionStoppedFunction
LAMBDA_FUNCTIONS += AwaitStockFunction
LAMBDA_FUNCTIONS += AfterSalesFunction AfterSalesTimerFunction
LAMBDA_FUNCTIONS += SalesAggregatorFunction
LAMBDA_FUNCTIONS += EventsPublisherFunction WebhookDeliveryFunction
LAMBDA_FUNCTIONS += DelayCheckFunction
LAMBDA_FUNCTIONS += ChannelPullFunction ChannelShipBackFunction
LAMBDA_FUNCTIONS += SecretRotationFunction

# Bytecode compiled by the runtime's Python, checked by hash rather than file time: a cold start loads
# the modules instead of compiling them (the runtime cannot cache what it compiles; a 3.11 build
# machine's bytecode would be ignored). `sam build --use-container` has python3.12; elsewhere set
# LAMBDA_PYTHON to a Python 3.12 (docs/adr/0004-cold-import-budget.md).
LAMBDA_PYTHON ?= python3.12
COMPILE := -m compileall -q --invalidation-mode unchecked-hash

$(addprefix build-,$(LAMBDA_FUNCTIONS)):
	mkdir -p "$(ARTIFACTS_DIR)"
	cp -R functions "$(ARTIFACTS_DIR)/"
	find "$(ARTIFACTS_DIR)" -name __pycache__ -prune -exec rm -rf {} +
	$(LAMBDA_PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12) and "LAMBDA_PYTHON is not 3.12")'
	$(LAMBDA_PYTHON) $(COMPILE) "$(ARTIFACTS_DIR)/functions"

build-DependenciesLayer:
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --target "$(ARTIFACTS_DIR)/python" \
		--platform manylinux2014_aarch64 --implementation cp --python-version 3.12 --only-binary=:all: \
		--no-compile -r functions/requirements.txt
	$(LAMBDA_PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12) and "LAMBDA_PYTHON is not 3.12")'
	$(LAMBDA_PYTHON) $(COMPILE) "$(ARTIFACTS_DIR)/python"
