"""RetrainingStack: the alarm-triggered loop, with Retry and Catch on every task, logging and tracing on."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from platform_config.platform import PlatformConfig


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


def test_every_task_state_has_retry_and_catch(states) -> None:
    """Issue #14 defect 3: every Task state, the notifications and both releases included, retries and is caught."""
    tasks = {name: s for name, s in states.items() if s["Type"] == "Task"}
    assert {"AcquireLock", "StartPipeline", "CheckPipeline", "CompareWithChampion", "Deploy", "NotifyPromoted",
            "NotifyKept", "NotifyFailure", "Release", "ReleaseAfterFailure",
            "ReleaseAfterNoticeFailed"} <= set(tasks)  # fmt: skip
    for name, task in tasks.items():
        assert task.get("Retry") and all(r["BackoffRate"] >= 2 for r in task["Retry"]), name
        # Transient failures are retried after retraining_retry_seconds (the deploy's RetryLater waits longer).
        first = {r["IntervalSeconds"] for r in task["Retry"] if r["ErrorEquals"] != ["RetryLater"]}
        assert first == {PlatformConfig().retraining_retry_seconds}, (name, task["Retry"])
        assert task.get("Catch") and task["Catch"][0]["ErrorEquals"] == ["States.ALL"], name


def test_the_lock_is_released_whatever_fails(states) -> None:
    """A failing notice still reaches a release; a failing release ends in a visible Fail state, not silence."""
    for name in ("AcquireLock", "StartPipeline", "CheckPipeline", "CompareWithChampion", "Deploy", "Release"):
        assert states[name]["Catch"][0]["Next"] == "NotifyFailure", name
    assert states["NotifyFailure"]["Next"] == states["NotifyFailure"]["Catch"][0]["Next"] == "ReleaseAfterFailure"
    assert states["ReleaseAfterFailure"]["Next"] == "RetrainingFailed"
    assert states["ReleaseAfterFailure"]["Catch"][0]["Next"] == "ReleaseFailed"
    assert states["ReleaseFailed"]["Type"] == "Fail"
    for notice in ("NotifyPromoted", "NotifyKept"):
        assert states[notice]["Next"] == "Release", notice
        assert states[notice]["Catch"][0]["Next"] == "ReleaseAfterNoticeFailed", notice
    assert states["Release"]["Next"] == "Done"
    assert states["ReleaseAfterNoticeFailed"]["Next"] == "NotificationFailed"
    assert states["ReleaseAfterNoticeFailed"]["Catch"][0]["Next"] == "ReleaseFailed"
    assert states["NotificationFailed"]["Type"] == "Fail"


def test_the_state_machine_may_use_the_topic_key_through_sns_only(retraining) -> None:
    """Issue #14 defect 3: publishing to the SSE-KMS topic needs kms:GenerateDataKey* and kms:Decrypt on its key."""
    (topic,) = [r for r in retraining["Resources"].values() if r["Type"] == "AWS::SNS::Topic"]
    key = topic["Properties"]["KmsMasterKeyId"]
    (machine,) = [r for r in retraining["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine"]
    role = machine["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    (policy,) = [
        r["Properties"]["PolicyDocument"]
        for r in retraining["Resources"].values()
        if r["Type"] == "AWS::IAM::Policy" and r["Properties"]["Roles"] == [{"Ref": role}]
    ]
    grants = [s for s in policy["Statement"] if s.get("Resource") == key]
    assert len(grants) == 1
    assert sorted(grants[0]["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert grants[0]["Condition"] == {"StringEquals": {"kms:ViaService": "sns.us-east-1.amazonaws.com"}}


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
