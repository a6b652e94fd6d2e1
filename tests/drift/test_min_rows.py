"""Issue #17: a 1-row window flags every feature, so `mlops drift check` needs as many rows as the drift Lambda
waits for: cdk.json's drift_min_rows (the stack passes it to the function as MIN_ROWS), or --min-rows."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mlops.cli.main import main
from tests.conftest import REPO


@pytest.fixture()
def project(demo_csv: Path, in_tmp_cwd: Path) -> Path:
    context = json.loads((REPO / "cdk.json").read_text())
    context["context"]["platform"] = {**context["context"].get("platform", {}), "drift_min_rows": 50}
    Path("cdk.json").write_text(json.dumps(context))
    shutil.copy(demo_csv, "train.csv")
    assert main(["drift", "baseline", "--data", "train.csv", "--out", "baseline"]) == 0
    return in_tmp_cwd


def _window(rows: int) -> str:
    lines = Path("train.csv").read_text().splitlines()
    Path(f"window-{rows}.csv").write_text("\n".join(lines[: rows + 1]) + "\n")
    return f"window-{rows}.csv"


@pytest.mark.parametrize(
    ("rows", "flags", "code", "says"),
    [
        (1, [], 2, "1 data rows, fewer than the 50 a drift check needs"),
        (49, [], 2, "49 data rows, fewer than the 50"),
        (50, [], 0, ""),
        (9, ["--min-rows", "10"], 2, "9 data rows, fewer than the 10"),
        (10, ["--min-rows", "10"], 0, ""),
    ],
)
def test_the_window_needs_the_lambdas_minimum_row_count(
    project: Path, capsys: pytest.CaptureFixture[str], rows: int, flags: list[str], code: int, says: str
) -> None:
    capsys.readouterr()
    assert main(["drift", "check", "--baseline", "baseline", "--data", _window(rows), *flags]) == code
    err = capsys.readouterr().err
    if code == 2:
        [line] = err.splitlines()
        assert f"window-{rows}.csv: {says}" in line and "drift_min_rows" in line
