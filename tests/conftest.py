"""Shared fixtures: one synth of the whole app per test session, the demo data set, the repo root."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
# Set by `make container-test` to the SageMaker image whose libraries the running venv has (containers/<name>.txt):
# that venv lacks CDK, moto and MLflow, so only the modules marked `container` are collected.
CONTAINER_ENV = os.environ.get("MLOPS_CONTAINER_ENV", "")
CONTAINER_MARK = "pytestmark = pytest.mark.container"
# Whole directories of end-to-end runs (the twin); elsewhere a test opts in with @pytest.mark.slow.
E2E_DIRS = ("twin",)
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")


def _marks_container(path: Path) -> bool:
    if path.is_dir():
        return any(_marks_container(child) for child in path.rglob("test_*.py"))
    return CONTAINER_MARK in path.read_text(encoding="utf-8")


def pytest_configure(config: pytest.Config) -> None:
    """botocore's service models parsed once per test process (mlops/botocore_models.py): every moto mock starts a
    new boto3 session, which parsed each model again. Not in the container-parity envs, which have no botocore."""
    if not CONTAINER_ENV:
        from mlops.botocore_models import models_parsed_once

        stack = contextlib.ExitStack()
        stack.enter_context(models_parsed_once())
        config.add_cleanup(stack.close)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """In a container-parity env, skip modules (and folders, with their conftests) not marked `container`."""
    if not CONTAINER_ENV or collection_path == REPO / "tests":
        return None
    is_test_module = collection_path.suffix == ".py" and collection_path.name.startswith("test_")
    if collection_path.is_dir() or is_test_module:
        return not _marks_container(collection_path)
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """`e2e` = the twin's tests and the ones marked slow, so `-m "not e2e"` is the quick loop.

    Modules with end-to-end tests run first (order kept otherwise): pytest-xdist hands out modules in this order,
    so the long ones start early and the short ones fill both workers at the end instead of one worker finishing a
    long module alone (docs/testing.md, "Time")."""
    e2e = pytest.mark.e2e
    long_modules: set[Path] = set()
    for item in items:
        if item.get_closest_marker("container") and not _marks_container(Path(str(item.path))):
            # The container-parity envs find their modules by this line's text (pytest_ignore_collect).
            raise pytest.UsageError(f"{item.path}: marked container, but not by the line `{CONTAINER_MARK}`")
        relative = Path(str(item.path)).relative_to(REPO / "tests").parts
        if item.get_closest_marker("slow") or relative[0] in E2E_DIRS:
            item.add_marker(e2e)
            long_modules.add(Path(str(item.path)))
    items.sort(key=lambda item: Path(str(item.path)) not in long_modules)


@pytest.fixture(autouse=True)
def _new_lambda_container() -> Iterator[None]:
    """Each test starts as a new Lambda container would: no cached clients or container caches
    (lambdas/shared/clients.py; looked up, not imported, since the container-parity envs have no boto3)."""
    _reset_lambda_container()
    yield
    _reset_lambda_container()


def _reset_lambda_container() -> None:
    module = sys.modules.get("lambdas.shared.clients")
    if module is not None:
        module.reset()


def cdk_context() -> dict[str, Any]:
    context = json.loads((REPO / "cdk.json").read_text())["context"]
    # Tests skip asset bundling (the drift layer's pip build): the layer then stages drift_core/ as it is.
    # A fixed code version: the templates (and their snapshots) must not change with every commit.
    return {**context, "aws:cdk:bundling-stacks": [], "code_commit": "0" * 40, "code_dirty": "false"}


@dataclass
class Synthesized:
    """The synthesized cloud assembly: templates by stack id, and where they were written."""

    outdir: Path
    templates: dict[str, dict[str, Any]]

    def template(self, suffix: str) -> dict[str, Any]:
        matches = [name for name in self.templates if name.endswith(suffix)]
        assert len(matches) == 1, f"expected one stack ending in {suffix!r}, got {sorted(self.templates)}"
        return self.templates[matches[0]]


# Synths of the same context are shared: within a process (several modules synthesize the same serving mode) and
# between the xdist workers of one run (a shared folder under the run's base temp, set by `_shared_synths`). Each
# caller gets its own parsed copy of the templates, so no test sees another's changes. Keyed by the whole context
# and the validation flag; nothing outlives the test run.
_SYNTHS: dict[str, tuple[Path, str]] = {}
_SHARED_SYNTHS: list[Path] = []


@pytest.fixture(scope="session", autouse=True)
def _shared_synths(tmp_path_factory: pytest.TempPathFactory) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER"):
        _SHARED_SYNTHS.append(tmp_path_factory.getbasetemp().parent / "shared-synths")


def synth_app(outdir: Path, context: dict[str, Any] | None = None, validation: bool = False) -> Synthesized:
    """Synthesize the platform like app.py does (cdk-nag included), without CDK's CloudFormation validation (with
    `validation`, with it). The assembly is written into `outdir`, or is the one an earlier call of this run wrote
    for the same context (its folder is then `Synthesized.outdir`)."""
    context = context or cdk_context()
    key = hashlib.sha256(json.dumps([context, validation], sort_keys=True).encode()).hexdigest()[:20]
    if key not in _SYNTHS:
        if _SHARED_SYNTHS:
            shared = _SHARED_SYNTHS[0] / key
            shared.parent.mkdir(parents=True, exist_ok=True)
            with (shared.parent / f"{key}.lock").open("a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)  # the other worker waits for the synth, then reads it
                index = shared / "synthesized.json"
                if not index.is_file():
                    _write_synth(shared, context, validation)
                _SYNTHS[key] = (shared, index.read_text())
        else:
            _write_synth(outdir, context, validation)
            _SYNTHS[key] = (outdir, (outdir / "synthesized.json").read_text())
    folder, templates = _SYNTHS[key]
    return Synthesized(folder, json.loads(templates))


def _write_synth(outdir: Path, context: dict[str, Any], validation: bool) -> None:
    import aws_cdk as cdk

    from platform_config.platform import config_from_app_context
    from stacks.platform import add_guards, add_platform

    app = cdk.App(outdir=str(outdir), context=context, builtin_cloud_formation_validation=validation)
    add_platform(app, config_from_app_context(app.node.try_get_context))
    add_guards(app)
    assembly = app.synth()
    templates = {stack.stack_name: stack.template for stack in assembly.stacks}
    # Written last: its presence means the assembly is complete.
    (outdir / "synthesized.json").write_text(json.dumps(templates))


@pytest.fixture(autouse=True)
def aws_rules(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test's boto3 requests meet AWS's server-side rules (mlops/aws_rules/offline.py: OFFLINE_CHECKS), so a
    request that moto accepts and AWS refuses fails here as it would in AWS. A new rule is added to OFFLINE_CHECKS,
    not here. Tests marked `without_aws_rules` check that the product enforces the rules by itself."""
    # The container-parity envs hold only the image's libraries (no botocore, no moto): nothing to intercept there.
    if CONTAINER_ENV or request.node.get_closest_marker("without_aws_rules"):
        yield
        return
    from mlops.aws_rules.offline import enforcing_offline_rules

    with enforcing_offline_rules():
        yield


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synth_app(tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture(scope="session")
def demo_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real ISLR Default credit data set, as the demo uses it."""
    from mlops.local.sample_data import export_dataset

    path = tmp_path_factory.mktemp("data") / "credit_default.csv"
    export_dataset("ISLR", "Default", path)
    return path


@pytest.fixture()
def in_tmp_cwd(tmp_path: Path) -> Iterator[Path]:
    """Run a CLI command from an empty folder (its default outputs land there, not in the repo)."""
    previous = Path.cwd()
    os.chdir(tmp_path)
    try:
        yield tmp_path
    finally:
        os.chdir(previous)
