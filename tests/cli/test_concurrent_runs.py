"""Issue #17, data loss: two real `mlops pipeline run` processes at once, and a failed rerun into a used folder."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlops.cli import main as cli

MLOPS = [sys.executable, "-m", "mlops.cli"]


def _start(cwd: Path, data: Path, out: str) -> subprocess.Popen[str]:
    argv = [*MLOPS, "pipeline", "run", "--data", str(data), "--target", "default", "--out", out, "--json"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    return subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_two_runs_at_once_on_a_fresh_tracking_store_both_succeed(demo_csv: Path, tmp_path: Path) -> None:
    # Same working directory, so both use the default store .mlops/mlflow.db, which does not exist yet.
    runs = [_start(tmp_path, demo_csv, out) for out in ("run-a", "run-b")]
    results = [run.communicate(timeout=600) for run in runs]
    for run, (out, err) in zip(runs, results, strict=True):
        assert "Traceback" not in err, err
        assert run.returncode == 0, err
        assert json.loads(out.splitlines()[-1])["mlflow_run_id"]
    with sqlite3.connect(tmp_path / ".mlops" / "mlflow.db") as db:
        tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        assert not [t for t in tables if t.startswith("_alembic_tmp")], tables
        assert db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 2


@pytest.mark.slow
def test_a_second_run_into_the_same_out_is_refused_and_the_first_is_not_mixed(demo_csv: Path, tmp_path: Path) -> None:
    first = _start(tmp_path, demo_csv, "shared")
    lock = tmp_path / "shared" / ".mlops-run.lock"
    deadline = time.monotonic() + 60
    while not lock.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    second = _start(tmp_path, demo_csv, "shared")
    _, err2 = second.communicate(timeout=600)
    out1, err1 = first.communicate(timeout=600)
    assert second.returncode == 2 and err2.count("\n") == 1 and "--out shared" in err2, err2
    assert first.returncode == 0 and "Traceback" not in err1, err1
    result = json.loads(out1.splitlines()[-1])
    assert result["readiness"]["ready"] is True


@pytest.mark.slow
def test_a_failed_rerun_leaves_no_verdict_of_the_previous_run(
    demo_csv: Path, in_tmp_cwd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["pipeline", "run", "--target", "default", "--out", "run", "--tracking-uri", ""]
    assert cli.main([*common, "--data", str(demo_csv)]) == 0
    assert (in_tmp_cwd / "run" / "readiness.json").is_file() and (in_tmp_cwd / "run" / "lineage.json").is_file()
    one_class = in_tmp_cwd / "one-class.csv"
    one_class.write_text("default,balance\nNo,1.0\nNo,2.0\n")
    capsys.readouterr()
    assert cli.main([*common, "--data", str(one_class)]) == 2
    assert "at least two classes" in capsys.readouterr().err
    leftovers = sorted(p.name for p in (in_tmp_cwd / "run").rglob("*") if p.is_file() and not p.name.startswith("."))
    assert leftovers == [], leftovers  # no readiness.json ("ready": true), no lineage.json naming the old data
