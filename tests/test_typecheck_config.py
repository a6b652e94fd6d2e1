"""mypy follows only the aws_cdk modules the platform imports (pyproject.toml, [tool.mypy]): a module imported but
not in that list would be silently Any, so its calls would go unchecked. This keeps the list and the imports equal."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _typechecked_files() -> list[Path]:
    """The files `make typecheck` names (its mypy command line in the Makefile), folders expanded."""
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    (command,) = re.findall(r"\$\(BIN\)/mypy (.+)", makefile)
    files: list[Path] = []
    for target in command.split():
        path = REPO / target
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return files


def _imported_cdk_modules(files: list[Path]) -> set[str]:
    modules: set[str] = set()
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "aws_cdk":
                if node.module == "aws_cdk":  # `from aws_cdk import aws_s3 as s3`: a module or a core name
                    modules |= {f"aws_cdk.{a.name}" for a in node.names if a.name.islower()}
                modules.add(node.module)
            elif isinstance(node, ast.Import):
                modules |= {a.name for a in node.names if a.name.split(".")[0] == "aws_cdk"}
    return modules


def _followed() -> set[str]:
    overrides = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]["overrides"]
    return {m for o in overrides if o.get("follow_imports") == "normal" for m in o["module"]}


def test_mypy_follows_exactly_the_aws_cdk_modules_the_platform_imports() -> None:
    imported = _imported_cdk_modules(_typechecked_files())
    assert "aws_cdk.aws_s3" in imported and "aws_cdk" in imported  # the scan sees the stacks' imports
    followed = _followed()
    assert imported - followed == set(), "add these to the followed aws_cdk modules in pyproject.toml"
    assert followed - imported == set(), "no longer imported: remove from the followed aws_cdk modules"
