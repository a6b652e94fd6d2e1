"""Issue #15 item 5: the schedule starts the retraining loop again while the model-degraded alarm stays in ALARM.

CloudWatch sends an alarm event only on a state change (the twin's alarms do the same:
tests/twin/test_alarms.py::test_only_state_changes_are_transitions_and_each_has_the_aws_event_shape), so after a
guard refusal nothing else would ever start the loop. moto has no composite alarms: a stand-in answers
DescribeAlarms with the state; moto's Step Functions records the started execution.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib import import_module
from typing import Any

import boto3
import pytest
from moto import mock_aws

ALARM = "mlops-model-degraded"
NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


class CompositeAlarmState:
    """DescribeAlarms for one composite alarm in `state` (the response shape of the CloudWatch API)."""

    def __init__(self, state: str) -> None:
        self.state = state

    def describe_alarms(self, AlarmNames: list[str], AlarmTypes: list[str]) -> dict[str, Any]:
        assert AlarmTypes == ["CompositeAlarm"]  # a metric-alarm-only call would not see it
        arn = f"arn:aws:cloudwatch:us-east-1:111111111111:alarm:{ALARM}"
        alarms = [{"AlarmName": ALARM, "AlarmArn": arn, "StateValue": self.state}] if ALARM in AlarmNames else []
        return {"CompositeAlarms": alarms, "MetricAlarms": []}


@pytest.fixture()
def loop() -> Iterator[tuple[Any, str]]:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        definition = {"StartAt": "Guard", "States": {"Guard": {"Type": "Pass", "End": True}}}
        arn = sfn.create_state_machine(
            name="loop", definition=json.dumps(definition), roleArn="arn:aws:iam::111111111111:role/states"
        )["stateMachineArn"]
        yield sfn, arn


@pytest.mark.parametrize(("state", "started"), [("ALARM", True), ("OK", False), ("INSUFFICIENT_DATA", False)])
def test_the_loop_starts_again_only_while_the_alarm_is_in_alarm(loop, state: str, started: bool) -> None:
    sfn, arn = loop
    module = import_module("lambdas.retrain_recheck.handler")
    aws = module.Clients(cloudwatch=CompositeAlarmState(state), stepfunctions=sfn)
    result = module.recheck(aws, ALARM, arn, NOW)
    assert result["started"] is started
    executions = sfn.list_executions(stateMachineArn=arn)["executions"]
    assert len(executions) == int(started)
    if started:
        payload = json.loads(sfn.describe_execution(executionArn=executions[0]["executionArn"])["input"])
        # The alarm rule's event shape, so the loop (and its guard) treat it like the first alarm.
        assert payload["detail-type"] == "CloudWatch Alarm State Change"
        assert payload["detail"]["state"]["value"] == "ALARM"


def test_a_missing_alarm_starts_nothing(loop) -> None:
    sfn, arn = loop
    module = import_module("lambdas.retrain_recheck.handler")
    aws = module.Clients(cloudwatch=CompositeAlarmState("ALARM"), stepfunctions=sfn)
    assert module.recheck(aws, "another-alarm", arn, NOW)["started"] is False


def test_a_schedule_runs_the_recheck_on_the_degraded_alarm_and_the_loop(synthesized) -> None:
    template = synthesized.template("-retraining")
    (function_id, function) = next(
        (k, r) for k, r in template["Resources"].items()
        if r["Type"] == "AWS::Lambda::Function" and "ALARM_NAME" in json.dumps(r["Properties"])
    )  # fmt: skip
    variables = function["Properties"]["Environment"]["Variables"]
    assert "ModelDegraded" in json.dumps(variables["ALARM_NAME"])
    assert "RetrainingLoop" in json.dumps(variables["STATE_MACHINE_ARN"])
    rules = [
        r["Properties"] for r in template["Resources"].values()
        if r["Type"] == "AWS::Events::Rule" and function_id in json.dumps(r["Properties"].get("Targets", []))
    ]  # fmt: skip
    assert [r["ScheduleExpression"] for r in rules] == ["rate(1 hour)"]
