"""RetrainingStack: the alarm-triggered loop, with Retry and Catch on every task, logging and tracing on."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template


def _definition(template: dict[str, Any]) -> dict[str, Any]:
    (machine,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine"]
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    return dict(json.loads("".join(p if isinstance(p, str) else "TOKEN" for p in parts)))


@pytest.fixture(scope="module")
def retraining(synthesized) -> dict[str, Any]:
    return synthesized.template("-retraining")


@pytest.fixture(scope="module")
def states(retraining) -> dict[str, dict[str, Any]]:
    return dict(_definition(retraining)["States"])


def test_the_model_degraded_alarm_starts_the_loop(retraining, synthesized) -> None:
    rule = Template.from_json(retraining).find_resources("AWS::Events::Rule")
    (props,) = [r["Properties"] for r in rule.values() if "EventPattern" in r["Properties"]]  # + the re-check schedule
    assert props["EventPattern"]["detail-type"] == ["CloudWatch Alarm State Change"]
    assert props["EventPattern"]["detail"] == {"state": {"value": ["ALARM"]}}
    assert "ImportValue" in json.dumps(props["EventPattern"]["resources"])  # the monitoring stack's composite alarm
    assert "RetrainingLoop" in json.dumps(props["Targets"][0]["Arn"])


def test_the_loop_goes_guard_pipeline_compare_then_approve_or_reject(states) -> None:
    assert states["AcquireLock"]["Next"] == "MayRetrain"
    assert states["MayRetrain"]["Choices"][0]["Next"] == "StartPipeline"
    assert states["MayRetrain"]["Default"] == "Skipped"
    assert states["PipelineState"]["Choices"][0] == {
        "Variable": "$.pipeline.status",
        "StringEquals": "Executing",
        "Next": "WaitForPipeline",
    }
    better = states["ChallengerBetter"]
    assert better["Choices"][0]["Next"] == "ApproveChallenger" and better["Default"] == "RejectChallenger"
    assert states["ApproveChallenger"]["Next"] == "Deploy"


def test_every_task_retries_with_backoff_and_is_caught(states) -> None:
    tasks = {name: s for name, s in states.items() if s["Type"] == "Task" and not name.startswith("Notify")}
    assert {"AcquireLock", "StartPipeline", "CheckPipeline", "CompareWithChampion", "Deploy"} <= set(tasks)
    for name, task in tasks.items():
        assert task["Retry"] and all(r["BackoffRate"] >= 2 for r in task["Retry"]), name
        if name != "ReleaseAfterFailure":
            assert task["Catch"][0]["Next"] == "NotifyFailure", name
    assert states["NotifyFailure"]["Next"] == "ReleaseAfterFailure"
    assert states["ReleaseAfterFailure"]["Next"] == "RetrainingFailed"


def test_logging_tracing_and_the_guard_table(retraining) -> None:
    template = Template.from_json(retraining)
    template.has_resource_properties(
        "AWS::StepFunctions::StateMachine",
        {"TracingConfiguration": {"Enabled": True}, "LoggingConfiguration": Match.object_like({"Level": "ALL"})},
    )
    template.has_resource_properties(
        "AWS::DynamoDB::GlobalTable",
        {"SSESpecification": Match.object_like({"SSEEnabled": True, "SSEType": "KMS"})},
    )
