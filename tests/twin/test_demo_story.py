"""The demo's story in parts, without a run: the seeded concept drift on the real rows, the ground-truth records,
the served-accuracy intervals, and which alarms count as accuracy alarms (docs/demo-story.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from mlops.local.sample_data import load_dataset
from mlops.twin.story.demo_result import (
    DemoResult,
    DemoSettings,
    ModelInfo,
    ServedAccuracy,
    StepRecord,
)
from mlops.twin.story.demo_summary import metric_kind, story_reasons
from mlops.twin.story.traffic import DriftStory, Population, ground_truth_lines, requests, scored_captures


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return load_dataset("ISLR", "Default")


def test_the_concept_drift_changes_students_labels_only_and_income_and_balance_move(data: pd.DataFrame) -> None:
    population = Population(data, DriftStory(), seed=7)
    drifted = population.drifted_labels
    students = (data["student"] == "Yes").to_numpy()
    assert (drifted[~students] == data["default"].to_numpy()[~students]).all()  # non-students keep their label
    rate_before = (data.loc[students, "default"] == "Yes").mean()
    rate_after = (drifted[students] == "Yes").mean()
    assert rate_before < 0.05 and rate_after > 0.5  # students now default at ~1400 lower balances
    # Every previously defaulting student still defaults at a balance 1400 higher in the fitted model's eyes.
    assert (drifted[students & (data["default"] == "Yes").to_numpy()] == "Yes").mean() > 0.95
    frame = population.sample(4000, drifted=True)
    base = population.sample(4000, drifted=False)
    assert frame["income"].mean() / base["income"].mean() == pytest.approx(1.4, rel=0.05)
    assert frame["balance"].mean() - base["balance"].mean() == pytest.approx(1000.0, abs=60.0)
    assert frame["student"].eq("Yes").mean() == pytest.approx(base["student"].eq("Yes").mean(), abs=0.03)
    assert 0.15 < frame["default"].eq("Yes").mean() < 0.3 and base["default"].eq("Yes").mean() < 0.05


def test_the_balance_increase_moves_the_served_balances_and_no_label(data: pd.DataFrame) -> None:
    """The covariate shift changes what the model sees, not who defaults: each drifted row is its real row with the
    balance `balance_increase` higher and the same label as without the increase."""
    stories = [DriftStory(balance_increase=b) for b in (0.0, 1000.0)]
    without, with_increase = (Population(data, story, seed=7) for story in stories)
    assert (without.drifted_labels == with_increase.drifted_labels).all()
    plain, moved = without.sample(500, drifted=True), with_increase.sample(500, drifted=True)  # same seed: same rows
    assert (moved["balance"] - plain["balance"]).to_numpy() == pytest.approx(1000.0)
    assert (moved["default"] == plain["default"]).all() and (moved["income"] == plain["income"]).all()


def test_the_labels_are_a_seeded_rule_of_the_real_rows(data: pd.DataFrame) -> None:
    first, again = Population(data, DriftStory(), 7), Population(data, DriftStory(), 7)
    other = Population(data, DriftStory(), 8)
    assert (first.drifted_labels == again.drifted_labels).all()
    assert (first.drifted_labels != other.drifted_labels).sum() > 0  # the draws depend on the seed
    shifts = [Population(data, DriftStory(student_balance_shift=s), 7).drifted_labels for s in (0.0, 700.0, 1400.0)]
    rates = [(labels == "Yes").mean() for labels in shifts]
    assert rates[0] < rates[1] < rates[2]  # a larger shift: more students default


def capture_line(event_id: str, body: bytes, label: str, version: str = "v1") -> str:
    output = json.dumps({"predictions": [{"label": label, "model_version": version}]})
    return json.dumps({"captureData": {"endpointInput": {"data": body.decode(), "encoding": "CSV"},
                                       "endpointOutput": {"data": output, "encoding": "JSON"}},
                       "eventMetadata": {"eventId": event_id}, "eventVersion": "0"})  # fmt: skip


def test_ground_truth_records_join_the_captured_requests_by_event_id() -> None:
    frame = pd.DataFrame({"student": ["No", "Yes"], "balance": [100.0, 1200.0], "income": [1.0, 2.0],
                          "default": ["No", "Yes"]})  # fmt: skip
    bodies, labels = requests(frame)
    lines = [capture_line("e1", bodies[0], "No"), capture_line("e2", bodies[1], "No"), capture_line("e3", b"x", "No")]
    records = [json.loads(line) for line in ground_truth_lines(lines, labels)]
    assert [(r["eventMetadata"]["eventId"], r["groundTruthData"]["data"]) for r in records] == [
        ("e1", "No"),
        ("e2", "Yes"),
    ]  # an unknown body has no label, so no record
    assert all(r["groundTruthData"]["encoding"] == "CSV" and r["eventVersion"] == "0" for r in records)
    assert scored_captures(lines, labels) == {"v1": (2, 1)}


def test_served_accuracy_pools_the_drifted_steps_with_a_wilson_interval(tmp_path: Path) -> None:
    assert ServedAccuracy(10, 8).interval() == pytest.approx((0.4902, 0.9433), abs=1e-4)  # Wilson, 95%
    result = DemoResult(tmp_path, None, DemoSettings(out=tmp_path, drift_started_step=3))
    result.models = [ModelInfo("p/1", "old", 0.97, ""), ModelInfo("p/2", "new", 0.94, "")]
    for step, scored in enumerate([{"old": (100, 97)}, {"old": (100, 96)}, {"old": (100, 70)},
                                   {"old": (50, 36), "new": (50, 47)}, {"new": (100, 93)}], start=1):  # fmt: skip
        result.steps.append(StepRecord(step, None, "", scored=scored))  # type: ignore[arg-type]
    champion, new_model = result.served_accuracy()
    assert (champion.requests, champion.correct) == (150, 106)  # type: ignore[union-attr]
    assert (new_model.requests, new_model.correct) == (150, 140)  # type: ignore[union-attr]
    payload = result.to_json()["champion_served_accuracy"]
    assert payload["ci95"][0] < payload["accuracy"] < payload["ci95"][1]


def test_story_reasons_name_a_retraining_started_before_any_accuracy_alarm(tmp_path: Path) -> None:
    result = DemoResult(tmp_path, None, DemoSettings(out=tmp_path), min_accuracy=0.85)
    result.retraining_started_step = 4
    reasons = story_reasons(result)
    assert "neither the accuracy alarm nor the estimated-accuracy alarm entered ALARM" in reasons
    assert "retraining started at step 4, before an accuracy alarm" in reasons
    result.accuracy_alarm_step = 4
    assert not [r for r in story_reasons(result) if "accuracy alarm" in r]


@pytest.mark.parametrize(
    ("metric", "kind"),
    [("Accuracy", "realised"), ("accuracy", "realised"), ("EstimatedAccuracy", "estimated"),
     ("EstimatedAccuracyStdErr", None), ("PSI", None), ("GroundTruthMatched", None)],
)  # fmt: skip
def test_accuracy_alarms_are_told_apart_by_their_metric_name(metric: str, kind: str | None) -> None:
    assert metric_kind(metric) == kind
