"""The README's two commands exist as make targets and do what the README says (a Makefile edit once dropped
`make demo` and every test still passed)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _dry_run(target: str) -> str:
    # -n prints the recipes without running them; -B so that up-to-date prerequisites still show theirs.
    result = subprocess.run(
        ["make", "-n", "-B", target], cwd=REPO, capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_the_readme_commands_are_make_targets_that_synth_demo_and_test() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    commands = re.findall(r"^make (\w+)\s+#", readme, flags=re.MULTILINE)
    assert commands[:2] == ["demo", "test"]
    demo = _dry_run("demo")
    assert "cdk synth" in demo and "mlops demo" in demo
    test = _dry_run("test")
    assert "pytest" in test and "ruff check" in test
