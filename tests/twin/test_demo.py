"""`mlops demo --fast`: the whole story, asserted step by step, not just its exit code.

One run (module fixture) of the command as a user runs it: it synthesizes the platform, trains on the ISLR Default
data, serves, drifts, alarms, retrains through the synthesized state machine and redeploys blue/green.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from mlops.cli import demo as demo_cli
from mlops.cli.main import _Parser
from mlops.errors import UserError
from mlops.twin.story.demo import new_run_dir
from mlops.twin.story.traffic import SHIFTED_FEATURES, UNSHIFTED_FEATURES
from platform_config.platform import load_config
from tests.twin.test_report_browser import check_in_browser

A_MIN = load_config().min_accuracy


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    parser = _Parser(prog="mlops")
    demo_cli.register(parser.add_subparsers(dest="group", required=True, parser_class=_Parser))
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            args = parser.parse_args(argv)
            code = int(args.handler(args))
        except SystemExit as exc:  # argparse's usage errors
            code = int(exc.code or 0)
        except UserError as exc:  # as mlops.cli.main reports them
            print(f"mlops: error: {exc}", file=sys.stderr)
            code = 2
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("demo")
    code, stdout, stderr = run_cli(["demo", "--fast", "--json", "--out", str(out)])
    result = json.loads(stdout.strip().splitlines()[-1])  # --json: the last line is the result
    return {"code": code, "result": result, "stdout": stdout, "stderr": stderr, "out": out}


@pytest.mark.slow
def test_the_story_completes(demo: dict[str, Any]) -> None:
    result = demo["result"]
    assert demo["code"] == 0, (result["reasons"], demo["stderr"][-3000:])
    assert result["completed"] and result["reasons"] == []


@pytest.mark.slow
def test_drift_alarms_fire_only_after_the_drift_began_and_only_for_shifted_features(demo: dict[str, Any]) -> None:
    result = demo["result"]
    feature_alarms = [a for a in result["alarms"] if a["feature"]]
    assert {a["feature"] for a in feature_alarms} & {"income"}, result["alarms"]  # the shifted feature alarmed
    assert all(a["first_alarm_step"] >= result["drift_started_step"] for a in result["alarms"]), result["alarms"]
    assert all(a["feature"] in SHIFTED_FEATURES for a in feature_alarms), result["alarms"]
    assert not [a for a in feature_alarms if a["feature"] in UNSHIFTED_FEATURES]


@pytest.mark.slow
def test_exactly_one_retraining_registers_a_better_model_that_serves_all_traffic(demo: dict[str, Any]) -> None:
    result = demo["result"]
    assert result["retrainings"] == 1
    champion, challenger = result["models"]
    assert challenger["holdout_accuracy"] > A_MIN
    assert result["final_model_accuracy"] == challenger["holdout_accuracy"]
    assert result["final_package"] == challenger["package"] != champion["package"]
    assert result["new_model_traffic_share"] == 1.0
    comparison = result["comparison"]
    assert comparison["better"] and comparison["challenger_accuracy"] > comparison["champion_accuracy"]
    (states,) = [s for s in result["retraining_states"] if "StartPipeline" in s]
    assert states[-5:] == ["ApproveChallenger", "Deploy", "NotifyPromoted", "Release", "Done"]


@pytest.mark.slow
def test_lost_accuracy_starts_retraining_and_the_new_model_clearly_wins_on_drifted_traffic(
    demo: dict[str, Any],
) -> None:
    """Issue #16's acceptance: the accuracy alarm (ground truth, `label_delay` steps late) fires after the drift and
    starts the one retraining; on the drifted traffic the new model is above A_min and better than the champion
    with non-overlapping 95% intervals."""
    result = demo["result"]
    assert result["label_delay"] == 2
    drift, alarm = result["drift_started_step"], result["accuracy_alarm_step"]
    assert drift + result["label_delay"] <= alarm == result["retraining_started_step"]  # once drifted labels exist
    assert any("Accuracy" in name for name in result["retraining_trigger"]), result["retraining_trigger"]
    assert "mlops-model-degraded" in result["retraining_trigger"]
    champion, new_model = result["champion_served_accuracy"], result["new_model_served_accuracy"]
    assert champion["accuracy"] < A_MIN < new_model["accuracy"]
    assert champion["ci95"][1] < new_model["ci95"][0], (champion, new_model)
    assert min(champion["requests"], new_model["requests"]) >= 100
    kinds = {a["name"]: a["kind"] for a in result["alarms"]}
    assert kinds[next(n for n in result["retraining_trigger"] if "Accuracy" in n)] == "realised"
    # The estimated-accuracy alarm is an early warning: it never starts retraining.
    assert all(kinds.get(name) != "estimated" for name in result["retraining_trigger"])


@pytest.mark.slow
def test_the_estimated_accuracy_warns_before_the_labels_can(demo: dict[str, Any]) -> None:
    """Issue #16's early warning: the balances move into the champion's unsure region, so the accuracy estimated
    from its calibrated confidences (CBPE, no labels) falls below A_min after the drift begins and before the
    realised accuracy's alarm, which waits `label_delay` steps for ground truth."""
    result = demo["result"]
    drift, estimated = result["drift_started_step"], result["estimated_accuracy_alarm_step"]
    assert estimated is not None, result["alarms"]
    assert drift <= estimated < result["accuracy_alarm_step"], result["alarms"]
    assert estimated < result["retraining_started_step"]


@pytest.mark.slow
def test_no_request_failed_over_the_whole_run(demo: dict[str, Any]) -> None:
    result = demo["result"]
    assert result["requests"] > 0 and result["failed_requests"] == 0


@pytest.mark.slow
def test_every_deployed_handler_is_exercised(demo: dict[str, Any]) -> None:
    """A Lambda function added to the stacks must be driven by the twin's story, or this fails."""
    (run_dir,) = [p for p in demo["out"].iterdir() if p.is_dir()]
    synthesized = set()
    for template in (run_dir / "cdk.out").glob("*.template.json"):
        resources = json.loads(template.read_text())["Resources"]
        # Python functions are the project's handlers; CDK's Node.js providers (the create-once AwsCustomResource)
        # are played by the twin itself (mlops/twin/emulators/stack_updates.py).
        synthesized |= {
            k
            for k, v in resources.items()
            if v["Type"] == "AWS::Lambda::Function" and v["Properties"]["Runtime"].startswith("python")
        }
    assert synthesized and synthesized == set(demo["result"]["handlers_deployed"])
    assert synthesized <= set(demo["result"]["handlers_called"]), synthesized - set(demo["result"]["handlers_called"])
    assert demo["result"]["batch_transform_job"]
    assert demo["result"]["batch_transform_records"] > 0  # scored by the package's own code/ in the twin


@pytest.mark.slow
def test_the_report_names_the_drifted_features(demo: dict[str, Any]) -> None:
    result = demo["result"]
    page = Path(result["report"])
    text = page.read_text()
    drifted = {a["feature"] for a in result["alarms"] if a["feature"]}
    for feature in drifted:
        assert feature in text
        assert (page.parent / f"distribution_{feature}.png").stat().st_size > 1000
    assert (page.parent / "psi_over_time.png").exists()
    assert (page.parent / "accuracy_over_time.png").stat().st_size > 1000
    assert text.index("accuracy_over_time.png") < min(text.index(f"distribution_{f}.png") for f in drifted)
    assert "Retraining started at step" in text and "Retraining started at step" in demo["stdout"]
    assert "Timeline" in demo["stdout"] and "Story: completed" in demo["stdout"]


@pytest.mark.slow
def test_the_run_s_report_shows_its_accuracy_plot_first_in_chromium(demo: dict[str, Any], tmp_path: Path) -> None:
    folder = shutil.copytree(Path(demo["result"]["report"]).parent, tmp_path / "report")
    images = check_in_browser(folder / "drift_report.html", tmp_path)
    assert len(images) >= 3  # accuracy, the income distribution, PSI and mean shift over time


def test_each_run_gets_its_own_folder_under_a_reused_out(tmp_path: Path) -> None:
    first, second = new_run_dir(tmp_path), new_run_dir(tmp_path)
    assert first != second and first.is_dir() and second.is_dir() and first.parent == second.parent == tmp_path


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["demo", "--steps", "2"], "--steps"),
        (["demo", "--drift-share", "-1"], "--drift-share"),
        (["demo", "--drift-share", "nan"], "--drift-share"),
        (["demo", "--seed", "-3"], "--seed"),
        (["demo", "--steps", "many"], "--steps"),
        (["demo", "--label-delay", "-1"], "--label-delay"),
        (["demo", "--label-delay", "13"], "--label-delay"),
        (["demo", "--balance-increase", "-5"], "--balance-increase"),
        (["demo", "--balance-increase", "inf"], "--balance-increase"),
        (["demo", "--balance-increase", "9000"], "--balance-increase"),
    ],
)
def test_bad_input_exits_2_with_one_line_naming_the_option(argv: list[str], option: str, tmp_path: Path) -> None:
    code, _, stderr = run_cli([*argv, "--out", str(tmp_path / "out")])
    assert code == 2
    assert stderr.count("\n") == 1 and option in stderr
    assert not (tmp_path / "out").exists()  # nothing ran


def test_out_must_be_a_folder(tmp_path: Path) -> None:
    afile = tmp_path / "file"
    afile.write_text("x")
    code, _, stderr = run_cli(["demo", "--out", str(afile)])
    assert code == 2 and "--out" in stderr
