"""`mlops rightsize` end to end: one real bounded measurement, the JSON contract, --apply, exit codes."""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path

import pytest

from mlops.rightsizing.capacity import Profile, Traffic, recommend
from mlops.rightsizing.catalogue import Catalogue
from tests.conftest import REPO


def test_json_has_the_contract_fields_and_real_measurements(measured_run: dict) -> None:
    for key in ("instance_type", "instance_count", "gpu", "monthly_cost_usd", "measured"):
        assert key in measured_run
    assert measured_run["gpu"] is False
    m = measured_run["measured"]
    assert m["failed"] == 0 and m["requests"] > 10
    assert 0 < m["base_p50_ms"] <= m["base_p99_ms"]
    assert m["service_ms"] > 0 and 0 < m["parallel_efficiency"] <= 1
    assert m["gpu_speedup"] == 1.0 and "none measured" in m["gpu_speedup_source"]
    assert "not fetched live" in measured_run["catalogue"]["disclaimer"].lower()


def test_measured_profile_never_gets_a_gpu_and_follows_traffic_and_slo(
    catalogue: Catalogue, measured_profile: Profile
) -> None:
    floor = measured_profile.base_p99_ms + 5.0  # the measured one-at-a-time p99 plus the network allowance
    costs_by_slo = []
    for factor in (20.0, 5.0, 2.0, 1.3):
        costs = []
        for rps in (1, 10, 100, 1000):
            rec = recommend(catalogue, "us-east-1", measured_profile, Traffic(rps, floor * factor))
            assert rec.choice is not None and not rec.choice.gpu, (rps, factor)
            costs.append(rec.choice.monthly_cost_usd)
        assert costs == sorted(costs)  # more traffic never costs less
        costs_by_slo.append(costs)
    for looser, tighter in itertools.pairwise(costs_by_slo):
        assert all(t >= lo - 1e-9 for lo, t in zip(looser, tighter, strict=True))  # a tighter SLO never costs less


def test_reusing_a_measurement_and_applying_to_a_stage_file(
    cli, measured_run: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(REPO / "cdk.json", tmp_path / "cdk.json")
    stage = tmp_path / "prod.json"
    # A stage file as config/stages/<stage>.json holds them: a "platform" mapping among other keys.
    stage.write_text(json.dumps({"account": "111111111111", "platform": {"drift_check_rate_minutes": 15}}, indent=2))
    monkeypatch.chdir(tmp_path)
    argv = ["rightsize", "--rps", "300", "--p99-ms", "5000", "--measured", measured_run["_path"], "--json"]
    assert cli([*argv, "--apply", "--config", str(stage)]) == 0
    result = json.loads(capsys.readouterr().out)
    platform = json.loads(stage.read_text())["platform"]
    assert platform["endpoint_instance_type"] == result["instance_type"]
    assert platform["endpoint_min_instances"] == result["instance_count"]
    assert platform["endpoint_max_instances"] == result["max_instance_count"]
    assert platform["invocations_per_instance_target"] == result["invocations_per_instance_target"]
    assert platform["serving_mode"] == "realtime" and platform["drift_check_rate_minutes"] == 15
    assert result["applied"]["file"] == str(stage)


def test_text_output_explains_the_choice(cli, measured_run: dict, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["rightsize", "--rps", "5", "--p99-ms", "5000", "--measured", measured_run["_path"]]) == 0
    out = capsys.readouterr().out
    for label in ("measured", "traffic", "choice", "gpu", "serverless", "candidates", "assumptions", "prices"):
        assert any(line.startswith(label) for line in out.splitlines()), label
    assert "not live" in out


def test_unmeetable_slo_exits_1(cli, measured_run: dict, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["rightsize", "--rps", "5", "--p99-ms", "0.01", "--measured", measured_run["_path"]]) == 1
    assert "choice      none" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--rps", "5", "--p99-ms", "100", "--peak-factor", "0.5"], "--peak-factor"),
        (["--rps", "5", "--p99-ms", "100", "--clients", "64"], "--clients"),
        (["--rps", "5", "--p99-ms", "100", "--config", "x.json"], "--config is only used with --apply"),
        (["--rps", "5", "--p99-ms", "100", "--measured", "/nonexistent.json"], "/nonexistent.json"),
        (["--rps", "5", "--p99-ms", "100", "--model-dir", "/nonexistent"], "/nonexistent"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    cli, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        code = cli(["rightsize", *argv])
    except SystemExit as exc:  # a flag's own range is argparse's to refuse (exit 2, one line too)
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_argparse_errors_exit_2(cli, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli(["rightsize", "--rps", "-1", "--p99-ms", "100"])
    assert exc.value.code == 2
    assert "--rps" in capsys.readouterr().err


def test_payloads_follow_the_model_features(tmp_path: Path) -> None:
    from mlops.errors import UserError
    from mlops.rightsizing.measure import payloads_for

    islr = tmp_path / "islr"
    islr.mkdir()
    (islr / "model_meta.json").write_text(json.dumps({"features": ["student", "balance", "income"]}))
    bodies, how = payloads_for(islr)
    assert len(bodies) > 100 and "ISLR" in how
    assert all(body.count(b",") == 2 for body in bodies)
    other = tmp_path / "other"
    other.mkdir()
    (other / "model_meta.json").write_text(json.dumps({"features": ["a", "b", "c", "d"]}))
    assert payloads_for(other) == ([b",,,"], "1 CSV row of missing values per request")
    with pytest.raises(UserError, match=r"model_meta\.json"):
        payloads_for(tmp_path)
