"""The drift layer is built with `python -m pip install --platform ...` by the interpreter that synthesizes. A venv
made by uv has no pip unless seeded: on a fresh clone `make demo` then failed at bundling while every test passed,
since the tests skip bundling. This checks the installer the build needs is there."""

from __future__ import annotations

import subprocess
import sys


def test_the_synthesizing_interpreter_has_the_installer_the_layer_build_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pip", "--version"], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, f"{sys.executable} -m pip: {result.stderr.strip()} (create the venv with --seed)"
