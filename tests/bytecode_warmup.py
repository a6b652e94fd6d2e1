"""Compile, in one process, the bytecode of what the test suite imports, before its two workers start (`make test`).

Python caches a module's compiled code on its first import (`__pycache__`); uv installs none. The suite's workers, and
the processes they start (pipeline runs, synths, cfn-lint), would otherwise each compile the same library modules at
the same time: a fresh venv's suite used 275 CPU-s against 204 with the cache (docs/testing.md, "Time").

Collection imports every test module and what those import. The libraries below are imported only once a test runs
(lazily, or in a subprocess), or load their modules by path: they are imported, or compiled whole, here too. A name
missing here costs time, not correctness; a name that no longer exists fails this step, so the list stays true.
"""

from __future__ import annotations

import compileall
import importlib
import sys
from pathlib import Path

import pytest

# Imported when a test runs: a local pipeline run's tracking store, the SageMaker SDK's pipeline builder, cfn-lint
# (with SymPy and NetworkX).
LAZY_IMPORTS = ("mlflow.store.tracking.sqlalchemy_store", "sagemaker.workflow.pipeline", "cfnlint.api")
# Their modules are loaded by path or by name at run time (cfn-lint's rules, moto's per-service backends, the
# migrations a new tracking store runs): compiled whole.
COMPILED_WHOLE = ("cfnlint", "moto", "mlflow.store.db_migrations")


def main() -> int:
    # syrupy off: with no test run, it reports every snapshot unused and fails the session.
    code = pytest.main(["--collect-only", "-q", "-p", "no:xdist", "-p", "no:cacheprovider", "-p", "no:syrupy"])
    if code != pytest.ExitCode.OK:
        return int(code)
    for name in LAZY_IMPORTS:
        importlib.import_module(name)
    for name in COMPILED_WHOLE:
        folder = Path(importlib.import_module(name).__file__ or "").parent
        if not compileall.compile_dir(folder, quiet=1, workers=1):
            print(f"bytecode_warmup: could not compile {folder}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
