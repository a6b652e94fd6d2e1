"""The config package imports no framework: the CLI and the twin read the config without loading CDK or the SDK.

A fresh interpreter blocks the frameworks (an import of one raises ImportError), then imports every module of
platform_config and loads the shipped config (cdk.json defaults, the delivery settings and every stage file).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.conftest import REPO

# What the stacks, the pipeline definition and the twin bring in; none may be needed to read the config.
FRAMEWORKS = ("aws_cdk", "constructs", "jsii", "cdk_nag", "sagemaker", "boto3", "botocore", "moto", "stacks", "mlops")

PROBE = textwrap.dedent(
    """
    import importlib, pkgutil, sys

    BLOCKED = set(sys.argv[1].split(","))

    class Block:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"blocked framework import: {name}")
            return None

    sys.meta_path.insert(0, Block())
    import platform_config
    for module in pkgutil.iter_modules(platform_config.__path__):
        importlib.import_module(f"platform_config.{module.name}")
    from platform_config.platform import load_config
    from platform_config.stages import load_delivery_config

    load_config()
    load_delivery_config()
    leaked = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
    assert not leaked, leaked
    print("framework-free")
    """
)


def _probe(blocked: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PROBE, ",".join(blocked)], cwd=REPO, capture_output=True, text=True, check=False
    )


def test_platform_config_imports_and_loads_with_the_frameworks_blocked() -> None:
    result = _probe(FRAMEWORKS)
    assert result.returncode == 0 and result.stdout.strip() == "framework-free", result.stderr


def test_the_probe_fails_when_a_module_needs_a_blocked_package() -> None:
    # The config's own standard-library dependency, blocked: the probe must report it, or it proves nothing.
    result = _probe(("hashlib",))
    assert result.returncode != 0 and "blocked framework import: hashlib" in result.stderr
