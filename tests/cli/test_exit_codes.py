"""The CLI's exit codes: 2 for bad input (UserError), 1 for a step that failed otherwise, one line each."""

from __future__ import annotations

import argparse
from collections.abc import Callable

import pytest

from mlops.cli import main as cli
from mlops.errors import StepFailed, UserError


def _group_raising(error: Exception) -> Callable[[argparse._SubParsersAction], None]:
    def handler(_: argparse.Namespace) -> int:
        raise error

    def register(groups: argparse._SubParsersAction) -> None:
        groups.add_parser("fail").set_defaults(handler=handler)

    return register


@pytest.mark.parametrize(
    ("error", "code", "line"),
    [
        (UserError("data.csv: target column 'y' not found"), 2, "mlops: error: data.csv: target column 'y' not found"),
        (StepFailed("train: algo-2 exited with code 1 (log: w/algo-2.log)"), 1, "mlops: failed: train: algo-2"),
    ],
)
def test_errors_become_one_line_and_an_exit_code(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], error: Exception, code: int, line: str
) -> None:
    monkeypatch.setattr(cli, "_command_groups", lambda: [_group_raising(error)])
    assert cli.main(["fail"]) == code
    err = capsys.readouterr().err
    assert err.startswith(line) and err.count("\n") == 1 and "Traceback" not in err
