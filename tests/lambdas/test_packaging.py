"""Each synthesized Lambda asset is complete: its Handler imports with only the asset and its layers on sys.path.

Lambda puts the function's code (/var/task) and its layers' `python/` folders on sys.path, with the runtime's
boto3 ("Working with .zip file archives for Python Lambda functions",
https://docs.aws.amazon.com/lambda/latest/dg/python-package.html; layer paths:
https://docs.aws.amazon.com/lambda/latest/dg/packaging-layers.html#packaging-layers-paths). The subprocess here gets
the same: the asset folder and the layer folders, then the venv's site-packages for the third-party libraries (boto3
and botocore as in the runtime, Powertools and numpy as their layers bring them), added without `site`, so the
editable install's path hook (which would find the repository's own packages) is not there; no bytecode is written
into the assembly. A module the asset lacks fails the import, as it would in Lambda.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Synthesized

PROJECT_PACKAGES = ("lambdas", "contracts", "drift_core", "pipeline_code", "mlops", "stacks")
IMPORT = """
import importlib, json, sys
sys.path[:0] = json.loads(sys.argv[1])
module_name, function = sys.argv[2].rsplit(".", 1)
assert callable(getattr(importlib.import_module(module_name), function)), sys.argv[2]
project = json.loads(sys.argv[3])
print(json.dumps({n: getattr(m, "__file__", None) for n, m in sys.modules.items() if n.split(".")[0] in project}))
"""


def python_functions(synthesized: Synthesized) -> list[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    """(stack, logical id, properties, template) of every Python function."""
    return [
        (stack, logical, resource["Properties"], template)
        for stack, template in sorted(synthesized.templates.items())
        for logical, resource in sorted(template.get("Resources", {}).items())
        if resource["Type"] == "AWS::Lambda::Function"
        and str(resource["Properties"].get("Runtime", "")).startswith("python")
    ]


def asset_folder(synthesized: Synthesized, s3_key: Any) -> Path:
    """The folder CDK zips for this asset, from the assembly's asset manifests."""
    digest = str(s3_key).split(".", 1)[0]
    for manifest in sorted(synthesized.outdir.glob("*.assets.json")):
        entry = json.loads(manifest.read_text())["files"].get(digest)
        if entry:
            path = synthesized.outdir / entry["source"]["path"]  # relative to the assembly, or absolute
            assert path.is_dir(), f"{path}: asset {digest} not staged"
            return path
    raise AssertionError(f"asset {digest}: in no asset manifest of {synthesized.outdir}")


def layer_paths(synthesized: Synthesized, props: dict[str, Any], template: dict[str, Any], tmp: Path) -> list[str]:
    """The `python/` folder of each layer this stack builds (the published Powertools layer is site-packages')."""
    paths = []
    for layer in props.get("Layers", []):
        if not (isinstance(layer, dict) and "Ref" in layer):
            continue
        content = asset_folder(synthesized, template["Resources"][layer["Ref"]]["Properties"]["Content"]["S3Key"])
        if (content / "python").is_dir():
            paths.append(str(content / "python"))
        else:  # the tests skip bundling (conftest.cdk_context): the asset is drift_core/ itself; laid out as bundled
            site = tmp / content.name / "python"
            site.mkdir(parents=True, exist_ok=True)
            if not (site / "drift_core").exists():
                (site / "drift_core").symlink_to(content, target_is_directory=True)
            paths.append(str(site))
    return paths


def import_in_lambda_layout(handler: str, paths: list[str]) -> dict[str, str | None]:
    """Import `handler` in a fresh interpreter with `paths` first; the project modules it loaded, by file."""
    site_packages = sysconfig.get_paths()["purelib"]
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-B", "-c", f"import sys; sys.path.append({site_packages!r})\n{IMPORT}",
         json.dumps(paths), handler, json.dumps(PROJECT_PACKAGES)],
        capture_output=True, text=True, cwd=paths[0], timeout=120, env={"AWS_DEFAULT_REGION": "us-east-1"},
    )  # fmt: skip
    assert result.returncode == 0, f"{handler}: {result.stderr.strip().splitlines()[-1:]}"
    return dict(json.loads(result.stdout))


def test_every_python_function_imports_from_its_asset_and_layers_alone(
    synthesized: Synthesized, tmp_path: Path
) -> None:
    functions = python_functions(synthesized)
    assert len(functions) >= 9  # every handler folder is deployed somewhere
    for stack, logical, props, template in functions:
        handler = props["Handler"]
        asset = asset_folder(synthesized, props["Code"]["S3Key"])
        layers = layer_paths(synthesized, props, template, tmp_path)
        loaded = import_in_lambda_layout(handler, [str(asset), *layers])
        roots = [str(asset), *layers]
        outside = {name: file for name, file in loaded.items() if file and not file.startswith(tuple(roots))}
        assert not outside, f"{stack}/{logical}: {handler} imported project code from outside its asset: {outside}"
        assert handler.rsplit(".", 1)[0] in loaded


def test_an_asset_carries_its_own_package_the_shared_one_and_the_contracts_only(synthesized: Synthesized) -> None:
    for stack, logical, props, _ in python_functions(synthesized):
        asset = asset_folder(synthesized, props["Code"]["S3Key"])
        own = props["Handler"].split(".")[1]
        assert {p.name for p in asset.iterdir()} == {"lambdas", "contracts"}, f"{stack}/{logical}"
        packages = {p.name for p in (asset / "lambdas").iterdir() if p.is_dir()}
        assert packages == {own, "shared"}, f"{stack}/{logical}: {sorted(packages)}"


@pytest.mark.parametrize("missing", ["contracts", "lambdas/shared"])
def test_an_asset_without_a_module_its_handler_imports_fails_the_import(
    synthesized: Synthesized, tmp_path: Path, missing: str
) -> None:
    """The check above can fail: the same import with a package taken out of a copy of the asset."""
    _, _, props, _ = next(f for f in python_functions(synthesized) if ".retrain_set_approval." in f[2]["Handler"])
    copy = tmp_path / "asset"
    shutil.copytree(asset_folder(synthesized, props["Code"]["S3Key"]), copy)
    shutil.rmtree(copy / missing)
    with pytest.raises(AssertionError, match="ModuleNotFoundError"):
        import_in_lambda_layout(props["Handler"], [str(copy)])
