"""Entry point of the `mlops` console command.

Each command group lives in its own module and registers its sub-parser here. Exit codes follow
ARCHITECTURE.md: 0 success, 2 bad input or usage (one line on stderr), never a raw traceback for a
user error; 1 when the work ran but did not succeed (a model below the gate, a step that failed for a reason
other than its input).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from mlops.errors import StepFailed, UserError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on usage errors already; keep its message to one line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="mlops", description="MLOps platform: offline twin and tools.")
    groups = parser.add_subparsers(dest="group", required=True, parser_class=_Parser)
    for register in _command_groups():
        register(groups)
    return parser


def _command_groups() -> list[Callable[[argparse._SubParsersAction], None]]:
    # Imported here, not at module level, so that `mlops --help` does not pay for pandas and scikit-learn.
    from mlops.cli import cost, demo, drift, pipeline, readiness, rightsize, serve

    return [
        demo.register,
        pipeline.register,
        drift.register,
        serve.register,
        rightsize.register,
        cost.register,
        readiness.register,
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or EXIT_OK)
    except UserError as exc:
        sys.stderr.write(f"mlops: error: {exc}\n")
        return EXIT_USAGE
    except StepFailed as exc:
        sys.stderr.write(f"mlops: failed: {exc}\n")
        return EXIT_FAILED
    except KeyboardInterrupt:
        sys.stderr.write("mlops: interrupted\n")
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
