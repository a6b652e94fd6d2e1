"""Issue #17: the preprocess step's warnings reach the user of `mlops pipeline run`: a `warning:` line in the
progress output and the `warnings` field of --json, while the run itself goes ahead (warned, not refused)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from mlops.cli.main import main


def test_near_duplicate_labels_are_reported_by_the_run(
    demo_csv: Path, in_tmp_cwd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 2000 rows keep the run short (tests/pipeline/test_preprocess_warnings.py has the other warnings).
    frame = pd.read_csv(demo_csv).drop(columns=["Unnamed: 0"], errors="ignore").iloc[:2000]
    for label in ("Yes", "No"):
        some = frame.index[frame["default"] == label][::3]
        frame.loc[some, "default"] = label.upper() + " "
    frame.to_csv("loans.csv", index=False)
    code = main(["pipeline", "run", "--data", "loans.csv", "--target", "default", "--tracking-uri", "", "--json"])
    captured = capsys.readouterr()
    # Warned, not refused: every step runs (the gate may still refuse this odd model: exit 1, never 2).
    assert code in (0, 1) and "[governance] done" in captured.err, captured.err
    warnings = json.loads(captured.out)["warnings"]
    assert any("'NO ', 'No'" in w for w in warnings) and any("'YES ', 'Yes'" in w for w in warnings), warnings
    assert len(warnings) == 2, warnings
    shown = [line for line in captured.err.splitlines() if "warning: " in line]
    assert len(shown) == len(warnings), captured.err
