"""Issue #17: `mlops rightsize --apply --config <stage file>` never lowers a stage's endpoint_min_instances
silently. Without --force it refuses (exit 2, one line with the diff, the file untouched); with --force it writes
and prints the diff. The stage file is the real config/stages/prod.json (instances 2..8)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mlops.cli import main as cli
from tests.conftest import REPO

# A saved measurement of a fast model: at 10 requests/s one instance meets the SLO, so the choice is 1..N.
MEASURED = {"measured": {"service_ms": 2.0, "base_p50_ms": 3.0, "base_p99_ms": 5.0}}
ARGV = ["rightsize", "--rps", "10", "--p99-ms", "100", "--apply"]


@pytest.fixture()
def stage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copy(REPO / "cdk.json", tmp_path / "cdk.json")  # a stage file is validated on top of cdk.json
    monkeypatch.chdir(tmp_path)
    (tmp_path / "measured.json").write_text(json.dumps(MEASURED))
    path = tmp_path / "prod.json"
    shutil.copy(REPO / "config" / "stages" / "prod.json", path)
    return path


def _run(stage: Path, *extra: str) -> int:
    try:
        return cli.main([*ARGV, "--measured", "measured.json", "--config", str(stage), *extra])
    except SystemExit as exc:
        return int(exc.code or 0)


@pytest.mark.parametrize("json_output", [False, True], ids=["text", "json"])
def test_without_force_lowering_the_floor_is_refused_with_the_diff(
    stage: Path, capsys: pytest.CaptureFixture[str], json_output: bool
) -> None:
    before = stage.read_bytes()
    code = _run(stage, *(["--json"] if json_output else []))
    out = capsys.readouterr()
    assert code == 2 and out.out == ""
    [line] = out.err.splitlines()
    assert str(stage) in line and "not written" in line and "--force" in line
    assert "endpoint_min_instances from 2 to 1" in line and "(instances 2..8 -> 1.." in line
    assert stage.read_bytes() == before  # nothing written, not even reformatted


def test_with_force_the_floor_is_lowered_and_the_diff_printed(stage: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(stage, "--force") == 0
    out = capsys.readouterr().out
    platform = json.loads(stage.read_text())["platform"]
    assert platform["endpoint_min_instances"] == 1
    assert "            endpoint_min_instances: 2 -> 1" in out.splitlines()
    assert f"            endpoint_max_instances: 8 -> {platform['endpoint_max_instances']}" in out.splitlines()
    # The keys rightsize does not own keep their values.
    assert platform["drift_check_rate_minutes"] == 15 and platform["training_instance_type"] == "ml.m5.xlarge"


def test_with_force_the_json_carries_the_diff(stage: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(stage, "--force", "--json") == 0
    applied = json.loads(capsys.readouterr().out)["applied"]
    assert applied["diff"]["endpoint_min_instances"] == {"from": 2, "to": 1}
    assert applied["file"] == str(stage) and "endpoint_min_instances" in applied["changed"]


def test_a_floor_that_is_not_lowered_needs_no_force(stage: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = json.loads(stage.read_text())
    data["platform"]["endpoint_min_instances"] = 1
    stage.write_text(json.dumps(data, indent=2) + "\n")
    assert _run(stage) == 0, capsys.readouterr().err
    assert json.loads(stage.read_text())["platform"]["endpoint_min_instances"] == 1
