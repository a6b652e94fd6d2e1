"""The import contracts of `make architecture` see what they are meant to guard.

import-linter analyses packages only: a Lambda folder without `__init__.py` is invisible to it, and a Lambda package
or CLI module left out of its independence contract is unchecked. Each would let a contract pass without checking
anything.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _contracts() -> list[dict]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    return config["tool"]["importlinter"]["contracts"]


def test_every_lambda_folder_is_a_package_the_contract_sees() -> None:
    folders = [p for p in (REPO / "lambdas").iterdir() if p.is_dir() and any(p.glob("*.py"))]
    assert folders, "no Lambda folders found"
    assert [p.name for p in folders if not (p / "__init__.py").is_file()] == []
    sources = {m for c in _contracts() if c["type"] == "forbidden" for m in c["source_modules"]}
    assert "lambdas" in sources


def test_every_lambda_package_is_in_the_independence_contract() -> None:
    handlers = {f"lambdas.{p.name}" for p in (REPO / "lambdas").iterdir() if (p / "handler.py").is_file()}
    assert handlers, "no lambdas/<name>/handler.py found"
    independent = {m for c in _contracts() if c["type"] == "independence" for m in c["modules"]}
    assert handlers - independent == set()
    assert "lambdas.shared" not in independent  # the code every handler may import


def test_contracts_package_is_guarded() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert "contracts" in config["tool"]["importlinter"]["root_packages"]
    sources = {m for c in _contracts() if c["type"] == "forbidden" for m in c["source_modules"]}
    assert "contracts" in sources


def test_every_cli_module_is_in_the_independence_contract() -> None:
    # Every command module of mlops/cli/ (not main.py, which dispatches, nor private helpers or __main__).
    cli_modules = {
        f"mlops.cli.{p.stem}"
        for p in (REPO / "mlops" / "cli").glob("*.py")
        if p.stem != "main" and not p.stem.startswith("_")
    }
    independent = {m for c in _contracts() if c["type"] == "independence" for m in c["modules"]}
    assert cli_modules, (
        "no mlops/cli/ command modules: point this test and the independence contract at the CLI's modules"
    )
    assert cli_modules - independent == set()
