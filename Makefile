# The two commands a fresh clone needs: `make demo` and `make test`. Each sets up what it needs first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The CDK app runs `python3 app.py`: put the project's venv first on PATH for it.
export PATH := $(CURDIR)/$(BIN):$(CURDIR)/node_modules/.bin:$(PATH)
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export SAGEMAKER_SUPPRESS_V2_WARNING := 1
# cfn-lint checks every template in the tests; CDK's own CloudFormation validation (~12 s a synth) would repeat it.
export CDK_VALIDATION ?= false
DEMO_DIR := .mlops/demo

.PHONY: setup demo synth test lint format bench clean

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e ".[dev]"
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

CDK_ARGS ?=
synth: setup
	cdk synth --quiet $(CDK_ARGS)
	@echo "synthesized: $$(ls cdk.out/*.template.json | xargs -n1 basename | tr '\n' ' ')"

# Synthesizes the deployable stacks, then runs the whole lifecycle offline on them (the twin synthesizes its own
# copy with a 1 s pipeline poll, since moto's Step Functions engine really waits).
demo: synth
	$(BIN)/mlops demo --out $(DEMO_DIR)

test: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: setup
	$(BIN)/python benchmarks/synth_benchmark.py

clean:
	rm -rf cdk.out .build .mlops .pytest_cache
