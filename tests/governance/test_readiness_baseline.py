"""Issue #17 row 4: `mlops readiness` on a run whose baseline files are empty, `{}`, malformed or of the wrong
shape is NOT READY, and the baseline check names the file. The same check runs in the SageMaker governance step
(pipeline_code/governance.py), which reads the baseline as the drift Lambda does."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mlops.cli import main as cli
from pipeline_code import governance as governance_step
from tests.governance.conftest import Run

STATS, CONSTRAINTS = "statistics.json", "constraints.json"


def _first_numeric(doc: dict) -> dict:
    return next(f for f in doc["features"] if "numerical_statistics" in f)


# (row id, file, new content: bytes, or a function of the parsed good document, said in the reason)
ROWS = [
    ("stats empty file", STATS, b"", "not readable JSON"),
    ("stats {}", STATS, b"{}", "'features' must be a list"),
    ("stats not JSON", STATS, b'{"features": [', "not readable JSON"),
    ("stats not UTF-8", STATS, b'{"features": "\xff"}', "not readable JSON"),
    ("stats a list", STATS, b"[]", "expected a JSON object"),
    ("stats features an object", STATS, b'{"features": {"balance": {}}}', "'features' must be a list"),
    ("stats features empty", STATS, b'{"features": []}', "no features"),
    ("stats feature without name", STATS, b'{"features": [{"inferred_type": "Fractional"}]}', "string 'name'"),
    ("stats feature a number", STATS, b'{"features": [3]}', "string 'name'"),
    ("stats feature without statistics", STATS, b'{"features": [{"name": "x"}]}', "neither numerical"),
    ("stats counts cut short", STATS, lambda d: (_first_numeric(d)["mlops_drift"].update(counts=[1]), d)[1], "counts"),
    ("stats m2 text", STATS, lambda d: (_first_numeric(d)["mlops_drift"].update(m2="x"), d)[1], "ValueError"),
    ("stats common a list", STATS, lambda d: (_first_numeric(d)["numerical_statistics"].update(common=[]), d)[1], ""),
    ("constraints empty file", CONSTRAINTS, b"", "not readable JSON"),
    ("constraints {}", CONSTRAINTS, b"{}", "'features' must be a list"),
    ("constraints not JSON", CONSTRAINTS, b"{junk", "not readable JSON"),
    ("constraints a string", CONSTRAINTS, b'"ok"', "expected a JSON object"),
    ("constraints monitoring_config a list", CONSTRAINTS, lambda d: {**d, "monitoring_config": []}, "AttributeError"),
    ("constraints sigma text", CONSTRAINTS, lambda d: {**d, "mlops_drift": {**d["mlops_drift"], "sigma": "hi"}}, ""),
    ("constraints no features", CONSTRAINTS, lambda d: {**d, "features": []}, "no constraints for feature(s)"),
]


@pytest.fixture()
def run_copy(real_run: Run, tmp_path: Path) -> Path:
    folder = tmp_path / "pipeline"
    shutil.copytree(real_run.folder, folder)
    return folder


def _break(folder: Path, file: str, content) -> Path:
    path = folder / "baseline" / file
    if callable(content):
        content = json.dumps(content(json.loads(path.read_text()))).encode()
    path.write_bytes(content)
    return path


def test_the_intact_copy_is_ready(run_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The rows below fail only because of the file they break."""
    assert cli.main(["readiness", str(run_copy)]) == 0
    assert "ready for staging" in capsys.readouterr().out
    assert governance_step.baseline_problem(run_copy / "baseline") == ""


@pytest.mark.parametrize(("name", "file", "content", "says"), ROWS, ids=[r[0] for r in ROWS])
def test_a_broken_baseline_is_not_ready_and_the_file_is_named(
    run_copy: Path, capsys: pytest.CaptureFixture[str], name: str, file: str, content, says: str
) -> None:
    path = _break(run_copy, file, content)
    code = cli.main(["readiness", str(run_copy), "--json"])
    out = capsys.readouterr()
    assert code == 1, out.err
    verdict = json.loads(out.out)
    assert verdict["ready"] is False and verdict["failed"] == ["baseline"]
    reason = next(c["reason"] for c in verdict["checks"] if c["name"] == "baseline")
    assert str(path) in reason and says in reason, reason
