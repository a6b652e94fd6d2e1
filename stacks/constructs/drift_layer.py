"""The drift core as a Lambda layer: numpy for the Lambda platform plus `drift_core/`, built without Docker.

CDK's local bundling runs `pip install --platform ... --only-binary=:all:` for the Lambda runtime's Python
(manylinux wheels, whatever the machine synthesizing), copies `drift_core/` beside it under `python/` (the
layer layout Lambda puts on sys.path) and prunes what never runs (tests, headers, caches). The result is cached
under `.build/` keyed by a hash of every input (numpy pin, platform, Python version, drift_core sources), so
repeated synths only link the cached files into the assembly. The asset hash is the same key.

With the context `aws:cdk:bundling-stacks=[]` (the tests, a quick `cdk synth`), CDK skips bundling and stages the
`drift_core/` folder itself as the asset: the template is the same apart from that asset's content.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import aws_cdk as cdk
import jsii
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from stacks.constructs.python_handler import RUNTIME

REPO = Path(__file__).resolve().parents[2]
DRIFT_CORE = REPO / "drift_core"
BUILD_DIR = REPO / ".build"
CONSTRAINTS = REPO / "constraints.txt"
PYTHON_VERSION = RUNTIME.name.removeprefix("python")  # "3.13": the layer must match the functions' runtime
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux2014_x86_64")
# Directories and files no import of numpy or drift_core needs at run time.
PRUNED_DIRS = {"tests", "__pycache__", "include"}
PRUNED_SUFFIXES = (".pyc", ".h", ".pyx", ".pxd", ".c")


def numpy_requirement(constraints: Path = CONSTRAINTS) -> str:
    """The numpy pin the project is tested with (constraints.txt), so the layer runs the tested version."""
    for line in constraints.read_text().splitlines():
        if re.match(r"^numpy\s*==", line.strip(), re.IGNORECASE):
            return line.strip()
    raise ValueError(f"{constraints}: no 'numpy==' pin")


def input_key(requirement: str) -> str:
    """Hash of everything that decides the layer's content."""
    digest = hashlib.sha256()
    digest.update(f"{requirement}|{PYTHON_VERSION}|{','.join(PLATFORMS)}|{sorted(PRUNED_DIRS)}|bin".encode())
    for path in sorted(DRIFT_CORE.rglob("*.py")):
        digest.update(path.relative_to(REPO).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def build_layer(target: Path, requirement: str) -> None:
    """Install the layer's content into target/python (a fresh directory)."""
    site = target / "python"
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile"]
    command += [arg for platform in PLATFORMS for arg in ("--platform", platform)]
    command += ["--only-binary=:all:", "--implementation", "cp", "--python-version", PYTHON_VERSION]
    command += ["--target", str(site), requirement]
    subprocess.run(command, check=True)
    shutil.copytree(DRIFT_CORE, site / "drift_core", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.rmtree(site / "bin", ignore_errors=True)  # console scripts (f2py, numpy-config): not on sys.path
    prune(site)


def prune(root: Path) -> None:
    for path in sorted(root.rglob("*"), reverse=True):  # children before their directories
        if path.is_dir() and path.name in PRUNED_DIRS:
            shutil.rmtree(path)
        elif path.is_file() and path.suffix in PRUNED_SUFFIXES:
            path.unlink()


def cached_layer(requirement: str, build_dir: Path = BUILD_DIR) -> Path:
    """The built layer for these inputs, building it once (atomically: a half-built cache is never used)."""
    cache = build_dir / f"drift_layer-{input_key(requirement)[:16]}"
    if not cache.is_dir():
        build_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix="drift_layer-", dir=build_dir))
        try:
            build_layer(staging, requirement)
            staging.rename(cache)
        except OSError:
            if not cache.is_dir():  # another synth finished first: its copy is as good
                raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return cache


def link_tree(source: Path, target: Path) -> None:
    """Hard links where the file system allows (no 50 MB copy per synth), else copies."""

    def link(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    shutil.copytree(source, target, copy_function=link, dirs_exist_ok=True)


@jsii.implements(cdk.ILocalBundling)
class _PipBundling:
    def __init__(self, requirement: str) -> None:
        self._requirement = requirement

    def try_bundle(self, output_dir: str, *, image: cdk.DockerImage, **_: object) -> bool:
        link_tree(cached_layer(self._requirement), Path(output_dir))
        return True


class DriftCoreLayer(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        requirement = numpy_requirement()
        code = lambda_.Code.from_asset(
            str(DRIFT_CORE),
            asset_hash=input_key(requirement),
            asset_hash_type=cdk.AssetHashType.CUSTOM,
            bundling=cdk.BundlingOptions(
                # Never pulled: local bundling always succeeds, and CDK falls back to Docker only if it does not.
                image=cdk.DockerImage.from_registry("unused"),
                local=_PipBundling(requirement),
            ),
        )
        self.layer = lambda_.LayerVersion(
            self,
            "Layer",
            code=code,
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[lambda_.Architecture.X86_64],
            description=f"drift_core + {requirement} for {RUNTIME.name} (x86_64)",
        )
