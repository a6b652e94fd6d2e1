# The two commands a fresh clone needs: `make demo` and `make test`. Each sets up what it needs first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# uv installs the pinned lock (constraints.txt) in seconds; it comes from PyPI into a bootstrap venv of its own.
UV_VERSION := 0.13.9
TOOLS := .venv-tools
UV := $(TOOLS)/bin/uv
# The SageMaker images the step scripts run in, each with a pinned requirements file under containers/ (see
# docs/container-parity.md): the tests marked `container` run again in a venv per image, with its libraries.
CONTAINER_ENVS := sklearn-1.2-1 xgboost-3.0-5
# Test processes (pytest-xdist; the machine has 2 cores), a test module per process at a time so that module-scoped
# fixtures (synths, training runs) are built once.
JOBS ?= 2
XDIST := -n $(JOBS) --dist loadfile
# The CDK app runs `python3 app.py`: put the project's venv first on PATH for it.
export PATH := $(CURDIR)/$(BIN):$(CURDIR)/node_modules/.bin:$(PATH)
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export SAGEMAKER_SUPPRESS_V2_WARNING := 1
# Python caches compiled modules (__pycache__, ignored by git and by the asset staging). A shell with
# PYTHONDONTWRITEBYTECODE set makes every process compile every module it imports again: a `mlops pipeline run` took
# 12.8 s instead of 6.9 s, and the tests start many processes (docs/testing.md, "Time").
unexport PYTHONDONTWRITEBYTECODE
# cfn-lint checks every template in the tests; CDK's own CloudFormation validation (1.6-1.9x the synth time, see
# docs/development.md) would repeat it.
export CDK_VALIDATION ?= false
DEMO_DIR := .mlops/demo

.PHONY: setup container-setup browser-setup demo synth test suite checks test-quick container-test lint architecture typecheck format lock bench clean

setup: $(VENV)/.installed node_modules/.installed

# Into a plain folder with the interpreter's own pip (2.7 s here); a venv of its own first (6 s) only when that pip
# is missing or refuses.
$(UV):
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --target $(TOOLS) uv==$(UV_VERSION) \
		|| { rm -rf $(TOOLS) && $(PYTHON) -m venv $(TOOLS) \
			&& $(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION); }

# --seed puts pip in the venv: the drift layer build runs `python -m pip install --platform ...` for the Lambda
# runtime (stacks/constructs/drift_layer.py), and uv's venvs have no pip otherwise.
$(VENV)/.installed: pyproject.toml constraints.txt | $(UV)
	test -x $(BIN)/python || $(UV) venv --quiet --seed --python $(PYTHON) $(VENV)
	$(UV) pip install --quiet --python $(BIN)/python -c constraints.txt -e ".[dev]"
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

container-setup: $(foreach env,$(CONTAINER_ENVS),.venv-$(env)/.installed)

# Headless Chromium from Debian's packages, for the test that renders the demo's report in a real browser
# (tests/twin/test_report_browser.py). Installed only when missing; apt needs root (sudo when not root). Outside CI
# a machine that cannot install it (no apt, no sudo) goes on and that one test is skipped; with CI=true (.ci/run)
# the install must succeed and the test must run.
CHROMIUM ?= chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser-setup:
	@command -v $(CHROMIUM) >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium; } \
		|| { [ "$$CI" != true ] && echo "browser-setup: chromium not installed; the report's browser test is skipped" >&2; }

# Only the image's libraries and the test runner: not the project, not its dependencies (the tests import
# pipeline_code/ and drift_core/ from the checkout, as the images do from the step library on PYTHONPATH).
.venv-%/.installed: containers/%.txt | $(UV)
	test -x .venv-$*/bin/python || $(UV) venv --quiet --python $(PYTHON) .venv-$*
	$(UV) pip sync --quiet --python .venv-$*/bin/python $<
	touch $@

# Regenerates the lock (constraints.txt) from pyproject.toml's ranges with uv, keeping its header. uv prefers the
# versions already pinned; `make lock LOCK_ARGS=--upgrade` moves every pin to the newest that resolves.
LOCK_ARGS ?=
lock: | $(UV)
	sed -n '1,/^# ---- end of header/p' constraints.txt > .constraints.header
	$(UV) pip compile --quiet --python $(BIN)/python --extra dev --no-header --no-annotate $(LOCK_ARGS) \
		pyproject.toml -o constraints.txt
	cat .constraints.header constraints.txt > .constraints.new && mv .constraints.new constraints.txt
	rm .constraints.header

CDK_ARGS ?=
synth: setup
	cdk synth --quiet $(CDK_ARGS)
	@echo "synthesized: $$(ls cdk.out/*.template.json | xargs -n1 basename | tr '\n' ' ')"

# Synthesizes the deployable stacks, then runs the whole lifecycle offline on them (the twin synthesizes its own
# copy with a 1 s pipeline poll, since moto's Step Functions engine really waits).
demo: synth
	$(BIN)/mlops demo --out $(DEMO_DIR)

# Everything: lint and the architecture; then, side by side, one collection that compiles the libraries' bytecode
# and, one process at a time, the types and the container-parity envs; then the whole suite (unit and e2e, two
# workers) alone. Two busy processes here each run ~1.4x slower than one alone, so work placed beside the suite, even
# at low priority, slowed the suite more than it gained (docs/testing.md, "Time"). Each job's output is printed whole
# when it ends; any failure fails the target.
test: setup container-setup browser-setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(MAKE) --no-print-directory architecture
	$(MAKE) --no-print-directory -j2 --output-sync=target $(VENV)/.bytecode checks
	$(MAKE) --no-print-directory suite

suite: setup $(VENV)/.bytecode
	$(BIN)/pytest $(XDIST)

# The libraries' bytecode, compiled once after each install, in one process (tests/bytecode_warmup.py says why).
$(VENV)/.bytecode: $(VENV)/.installed
	$(BIN)/python -m tests.bytecode_warmup > $@.log || { cat $@.log; exit 1; }
	tail -1 $@.log
	touch $@

# The types, then each container env, in one process each: beside the bytecode collection, one core each.
checks: setup container-setup
	$(MAKE) --no-print-directory typecheck container-test CONTAINER_XDIST=

# The quick loop: no end-to-end runs (twin, CLI pipeline runs, full synth validation).
test-quick: setup $(VENV)/.bytecode
	$(BIN)/pytest $(XDIST) -m "not e2e"

container-test: $(foreach env,$(CONTAINER_ENVS),container-test-$(env))

CONTAINER_XDIST ?= $(XDIST)
container-test-%: .venv-%/.installed
	@echo "== container-parity env $*"
	MLOPS_CONTAINER_ENV=$* .venv-$*/bin/python -m pytest -p no:cacheprovider $(CONTAINER_XDIST) -m container -q

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The folder boundaries of ARCHITECTURE.md ([tool.importlinter] in pyproject.toml).
architecture: setup
	$(BIN)/lint-imports --no-cache

# mypy ([tool.mypy] in pyproject.toml) on the CDK app, the drift core, the contracts and the Lambdas: each handler is
# a package (lambdas.<name>) importing lambdas.shared and contracts, so one run covers them all.
typecheck: setup
	$(BIN)/mypy app.py stacks drift_core contracts lambdas platform_config pipeline_definition

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: setup
	$(BIN)/python benchmarks/synth_benchmark.py

clean:
	rm -rf cdk.out .build .mlops .pytest_cache $(foreach env,$(CONTAINER_ENVS),.venv-$(env))
