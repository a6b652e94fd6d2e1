"""Which code runs where (docs/code-layout.md): the step containers get pipeline_code/, contracts/ and drift_core/, and
nothing they import belongs to the build side (the synth-time pipeline definition, the config, CDK, the SDK)."""

from __future__ import annotations

import ast
import subprocess
import sys
import tarfile
from pathlib import Path

import aws_cdk as cdk

from pipeline_definition.pipeline import BUILDER_SOURCES
from stacks.constructs.step_code import CONTRACTS, DRIFT_CORE, PIPELINE_CODE, StepCode
from tests.conftest import REPO

# Packages only the build side has: the synth-time definition, the config, the stacks, the CLI/twin, the Lambdas,
# CDK and the SageMaker SDK (the images do not install it, and the definition must not travel with the steps).
BUILD_SIDE = (
    "pipeline_definition",
    "platform_config",
    "stacks",
    "mlops",
    "lambdas",
    "aws_cdk",
    "constructs",
    "cdk_nag",
    "sagemaker",
    "moto",
)
SYNTH_TIME_PACKAGE = REPO / "pipeline_definition"


def _imported_packages(source: str) -> set[str]:
    """Dotted names a module imports; `from a import b` gives both `a` and `a.b` (b may be a module)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.update({node.module, *(f"{node.module}.{alias.name}" for alias in node.names)})
    return names


def _build_side_imports(source: str) -> set[str]:
    return {name for name in _imported_packages(source) if name.split(".")[0] in BUILD_SIDE}


def _shipped(tmp_path: Path) -> dict[str, bytes]:
    """Every file of the step library folder and the training archive, by its name inside the asset."""
    StepCode(cdk.Stack(cdk.App(), "Layout"), "StepCode", extra_scripts=("package_triton",), build_dir=tmp_path)
    (library,) = tmp_path.glob("step_library-*")
    files = {f"library/{p.relative_to(library).as_posix()}": p.read_bytes() for p in library.rglob("*.py")}
    with tarfile.open(tmp_path / "training_source.tar.gz") as tar:
        for member in tar.getmembers():
            extracted = tar.extractfile(member)
            assert extracted is not None
            files[f"training/{member.name}"] = extracted.read()
    return files


def test_the_step_archives_ship_only_container_code(tmp_path: Path) -> None:
    shipped = _shipped(tmp_path)
    container_modules = {f"pipeline_code/{p.name}" for p in PIPELINE_CODE.glob("*.py")}
    drift_modules = {f"drift_core/{p.relative_to(DRIFT_CORE).as_posix()}" for p in DRIFT_CORE.rglob("*.py")}
    contract_modules = {f"contracts/{p.name}" for p in CONTRACTS.glob("*.py")}
    assert {name.removeprefix("library/") for name in shipped if name.startswith("library/")} == (
        container_modules | contract_modules | drift_modules
    )
    training = {name.removeprefix("training/") for name in shipped if name.startswith("training/")}
    assert training == container_modules | contract_modules | {"train.py", "train_xgboost.py", "requirements.txt"}
    synth_time = {p.name for p in SYNTH_TIME_PACKAGE.glob("*.py")} - {"__init__.py"}
    assert not {Path(name).name for name in shipped} & synth_time
    leaks = {name: _build_side_imports(data.decode()) for name, data in shipped.items() if name.endswith(".py")}
    assert not {name: found for name, found in leaks.items() if found}


def test_the_container_package_imports_nothing_of_the_build_side() -> None:
    # pipeline_code/ holds only what runs in the containers; a module both sides need stays here and the build
    # side imports it (e.g. lineage_fields, serving_code), never the other way round.
    leaks = {p.name: _build_side_imports(p.read_text()) for p in sorted(PIPELINE_CODE.glob("*.py"))}
    assert not {name: found for name, found in leaks.items() if found}


def test_the_layout_check_sees_a_build_side_import() -> None:
    found = _build_side_imports("from pipeline_definition.spec import PipelineSpec\nimport numpy\n")
    assert found == {"pipeline_definition.spec", "pipeline_definition.spec.PipelineSpec"}
    assert _build_side_imports("def f():\n    import sagemaker.workflow\n") == {"sagemaker.workflow"}
    assert _build_side_imports("from stacks import build_stack\n") == {"stacks", "stacks.build_stack"}


def test_the_definition_cache_key_covers_every_module_the_builder_imports() -> None:
    # The synth's build cache keys the definition on BUILDER_SOURCES: a container module the steps import (and so
    # the definition depends on) but the key leaves out would serve a stale definition after it changes.
    needed: set[Path] = set()
    pending = sorted(SYNTH_TIME_PACKAGE.glob("*.py"))
    while pending:
        path = pending.pop()
        for name in _imported_packages(path.read_text()):
            parts = name.split(".")
            package = {"pipeline_code": PIPELINE_CODE, "contracts": CONTRACTS}.get(parts[0])
            module = package / f"{parts[1]}.py" if package is not None and len(parts) > 1 else None
            if module is not None and module.is_file() and module not in needed:
                needed.add(module)
                pending.append(module)
    assert needed, "the builder imports the shared modules of pipeline_code"
    assert needed <= set(BUILDER_SOURCES)
    assert set(SYNTH_TIME_PACKAGE.glob("*.py")) <= set(BUILDER_SOURCES)


def test_a_cached_synth_does_not_import_the_sdk() -> None:
    # The stacks import these at module level; the SDK (seconds to import) loads only when a definition or an
    # image URI is actually computed, i.e. on a build-cache miss.
    probe = (
        "import sys, pipeline_definition.pipeline, pipeline_definition.spec, pipeline_definition.images\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'sagemaker'))"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
