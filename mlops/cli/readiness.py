"""`mlops readiness PACKAGE [--json]`: the readiness checklist of a local pipeline run folder.

PACKAGE is the `--out` folder of `mlops pipeline run` (default .mlops/pipeline). The verdict is recomputed from
the folder's artifacts under the current config's policy (the contract test runs again); lineage and the card
are the ones recorded by the run. Exit codes: 0 ready, 1 not ready, 2 bad input (one line naming the path).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mlops.user_input import dumps

EXIT_NOT_READY = 1


def register(subparsers: argparse._SubParsersAction) -> None:
    command = subparsers.add_parser("readiness", help="readiness checklist of a pipeline run (prototype -> staging)")
    command.add_argument("package", type=Path, help="pipeline run folder (the --out of `mlops pipeline run`)")
    command.add_argument("--json", action="store_true", help="print one JSON object")
    command.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from mlops.governance.package import assess
    from mlops.project_config import load_project_config

    verdict = assess(args.package, load_project_config())
    if args.json:
        print(dumps({"package": str(args.package), **verdict.to_json()}))
    else:
        for check in verdict.checks:
            print(f"[{'PASS' if check.passed else 'FAIL'}] {check.name}: {check.reason}")
        failed = ", ".join(verdict.failed)
        print(f"{args.package}: {'ready for staging' if verdict.ready else 'NOT READY (failed: ' + failed + ')'}")
    return 0 if verdict.ready else EXIT_NOT_READY
