"""The twin's Step Functions retries: every attempt of the definition's Retrier, with the waits scaled."""

from __future__ import annotations

import json
import time

import boto3
import pytest
from moto import mock_aws

from mlops.twin.emulators.retry_clock import scaled_retry_waits

# A publish to a topic that does not exist fails every time: two retries at 1 s then 2 s (backoff 2), then the Catch.
DEFINITION = {
    "StartAt": "Publish",
    "States": {
        "Publish": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sns:publish",
            "Parameters": {"TopicArn": "arn:aws:sns:us-east-1:111111111111:missing", "Message": "m"},
            "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 2, "BackoffRate": 2.0}],
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "GaveUp"}],
            "End": True,
        },
        "GaveUp": {"Type": "Pass", "End": True},
    },
}


def _run() -> tuple[float, list[str]]:
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    machine = sfn.create_state_machine(
        name="retries", definition=json.dumps(DEFINITION), roleArn="arn:aws:iam::111111111111:role/r"
    )["stateMachineArn"]
    started = time.monotonic()
    execution = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    while sfn.describe_execution(executionArn=execution)["status"] == "RUNNING":
        time.sleep(0.05)
    events = [e["type"] for e in sfn.get_execution_history(executionArn=execution)["events"]]
    return time.monotonic() - started, events


def test_every_attempt_runs_and_the_waits_are_scaled() -> None:
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}), scaled_retry_waits(0.1):
        seconds, events = _run()
    assert events.count("TaskFailed") == 3  # the first attempt and both retries
    assert "PassStateEntered" in events  # then the Catch, as in AWS
    assert seconds < 1.5  # 0.1 s + 0.2 s of waits; unscaled, 3 s


@pytest.mark.parametrize("scale", [0, -1, 1.5])
def test_a_scale_outside_zero_to_one_is_refused(scale: float) -> None:
    with pytest.raises(ValueError, match="retry wait scale"), scaled_retry_waits(scale):
        pass
