"""The readiness policy as pure functions: each check refuses with a reason, and all pass for a complete package."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from pipeline_code import readiness_policy as readiness
from pipeline_code.lineage_fields import missing_fields

POLICY = readiness.Policy(min_accuracy=0.85)
BASELINE = {"statistics.json": True, "constraints.json": True}
LINEAGE: dict[str, Any] = {
    "code": {"commit": "a" * 40, "dirty": False},
    "config": {"sha256": "c" * 64},
    "data": {"location": "s3://raw/credit.csv", "s3_version_id": "v1", "content_sha256": None, "rows": 10000},
    "training": {"mlflow_run_id": "run", "engine": "sklearn", "hyperparameters": {"C": 1.0}},
    "evaluation": {"metrics": {"accuracy": 0.973}},
    "baseline": {"location": "s3://b/baseline", "sha256": {"statistics.json": "s", "constraints.json": "c"}},
}
CARD = {
    "model_overview": {"model_description": "d", "problem_type": "Binary Classification"},
    "intended_uses": {"purpose_of_model": "p", "intended_uses": "u", "risk_rating": "Medium"},
    "training_details": {"training_job_details": {"training_datasets": ["s3://raw/credit.csv"]}},
    "evaluation_details": [{"name": "holdout", "metric_groups": [{"name": "m", "metric_data": [{"name": "a"}]}]}],
    "additional_information": {"custom_details": {"git_commit": "a", "config_sha256": "c", "data_location": "s3://"}},
}


def verdict(summary: dict[str, Any], **changes: Any) -> readiness.Verdict:
    inputs = {"lineage": LINEAGE, "card": CARD, "contract_rows": 50, "contract_errors": [], "baseline": BASELINE}
    inputs.update(changes)
    return readiness.evaluate(
        changes.get("policy", POLICY), summary, inputs["baseline"], inputs["lineage"], inputs["contract_rows"],
        inputs["contract_errors"], inputs["card"],
    )  # fmt: skip


GOOD = {"accuracy": 0.973, "majority_class_accuracy": 0.9665}


def reason(v: readiness.Verdict, name: str) -> str:
    return next(c.reason for c in v.checks if c.name == name)


def test_a_complete_package_passes_every_check() -> None:
    result = verdict(GOOD)
    assert result.ready and result.failed == []
    assert [c.name for c in result.checks] == [
        "accuracy", "beats_majority_class", "baseline", "lineage", "inference_contract", "model_card"
    ]  # fmt: skip


def test_a_failing_metric_is_refused_with_the_reason() -> None:
    result = verdict({"accuracy": 0.80, "majority_class_accuracy": 0.70})
    assert not result.ready and result.failed == ["accuracy"]
    assert reason(result, "accuracy") == "holdout accuracy 0.8000 < A_min 0.8500"


def test_a_prior_only_model_above_a_min_is_refused() -> None:
    # The ISLR Default case: predicting "No" for everyone scores 0.9665, far above A_min 0.85.
    result = verdict({"accuracy": 0.9665, "majority_class_accuracy": 0.9665})
    assert result.failed == ["beats_majority_class"]
    assert "imbalanced classes" in reason(result, "beats_majority_class")


def test_the_majority_margin_is_configurable() -> None:
    strict = readiness.Policy(min_accuracy=0.85, majority_margin=0.01)
    assert verdict(GOOD, policy=strict).failed == ["beats_majority_class"]
    assert verdict({"accuracy": 0.98, "majority_class_accuracy": 0.9665}, policy=strict).ready


def test_accuracy_equal_to_a_min_passes_but_equal_to_the_prior_does_not() -> None:
    assert verdict({"accuracy": 0.85, "majority_class_accuracy": 0.5}).ready
    assert verdict({"accuracy": 0.9, "majority_class_accuracy": 0.9}).failed == ["beats_majority_class"]


def test_a_report_without_metrics_is_refused() -> None:
    assert verdict({}).failed == ["accuracy", "beats_majority_class"]
    assert "majority_class_accuracy" in reason(verdict({"accuracy": 0.9}), "beats_majority_class")


def test_a_package_without_lineage_is_refused_with_the_reason() -> None:
    result = verdict(GOOD, lineage=None)
    assert result.failed == ["lineage"] and "no lineage recorded" in reason(result, "lineage")


@pytest.mark.parametrize(
    ("path", "value", "missing"),
    [
        (("code", "commit"), "unknown", "code.commit"),
        (("training", "mlflow_run_id"), None, "training.mlflow_run_id"),
        (("data", "s3_version_id"), None, "data.content_sha256|data.s3_version_id"),
        (("baseline", "sha256"), {}, "baseline.statistics.json"),
    ],
)
def test_incomplete_lineage_is_refused_naming_the_field(path: tuple[str, str], value: Any, missing: str) -> None:
    lineage = copy.deepcopy(LINEAGE)
    lineage[path[0]][path[1]] = value
    assert missing in missing_fields(lineage)
    result = verdict(GOOD, lineage=lineage)
    assert result.failed == ["lineage"] and missing in reason(result, "lineage")


def test_missing_baseline_contract_failure_and_empty_card_are_refused() -> None:
    result = verdict(
        GOOD,
        baseline={"statistics.json": True, "constraints.json": False},
        contract_errors=["text/csv -> application/json: PayloadError: row 1 has 2 values"],
        card={**CARD, "intended_uses": {**CARD["intended_uses"], "risk_rating": "Unknown"}},
    )
    assert result.failed == ["baseline", "inference_contract", "model_card"]
    assert "constraints.json" in reason(result, "baseline")
    assert "row 1 has 2 values" in reason(result, "inference_contract")
    assert "risk_rating" in reason(result, "model_card")
    assert verdict(GOOD, contract_rows=0).failed == ["inference_contract"]
    assert verdict(GOOD, card=None).failed == ["model_card"]


def test_verdict_json_lists_the_failed_checks_and_the_policy() -> None:
    document = verdict({"accuracy": 0.9665, "majority_class_accuracy": 0.9665}).to_json()
    assert document["ready"] is False and document["failed"] == ["beats_majority_class"]
    assert document["policy"] == {"min_accuracy": 0.85, "majority_margin": 0.0, "contract_rows": 50}
