"""The twin's EventBridge: pattern matching per AWS's rules, target input shaping and delivery, synthesized rules."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from mlops.twin.cloud import TwinCloud
from mlops.twin.emulators.alarms import TwinAlarms
from mlops.twin.emulators.events import (
    EventRouter,
    InvalidEventPattern,
    Rule,
    Target,
    check_pattern,
    json_path,
    matches,
    new_event,
    rate_seconds,
    transform_input,
)
from mlops.twin.emulators.lambdas import DeployedFunction, LambdaDispatcher
from mlops.twin.templates import Assembly
from platform_config.platform import load_config
from tests.conftest import Synthesized

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
EVENT = {
    "source": "aws.test",
    "detail-type": "Thing Changed",
    "resources": ["arn:aws:s3:::bucket-a", "arn:aws:s3:::bucket-b"],
    "detail": {
        "name": "Model-Alpha",
        "count": 5,
        "ratio": 0.25,
        "flag": False,
        "nothing": None,
        "tags": ["red", "blue"],
        "ip": "10.0.3.7",
        "nested": {"state": {"value": "ALARM"}},
        "items": [{"kind": "a", "size": 1}, {"kind": "b", "size": 9}],
    },
}


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ({"source": ["aws.test"]}, True),
        ({"source": ["aws.other", "aws.test"]}, True),
        ({"source": ["AWS.TEST"]}, False),
        ({"detail": {"count": [5.0]}}, True),  # numbers compare as numbers
        ({"detail": {"count": ["5"]}}, False),  # ...but a string is not a number
        ({"detail": {"flag": [False]}}, True),
        ({"detail": {"flag": [0]}}, False),
        ({"detail": {"nothing": [None]}}, True),
        ({"detail": {"absent": [None]}}, False),  # null matches a null value, not a missing field
        ({"detail": {"tags": ["blue"]}}, True),  # an event array matches when any element does
        ({"resources": ["arn:aws:s3:::bucket-b"]}, True),
        ({"detail": {"nested": {"state": {"value": ["ALARM"]}}}}, True),
        ({"detail": {"nested": {"state": {"value": ["OK"]}}}}, False),
        ({"detail": {"name": [{"prefix": "Model-"}]}}, True),
        ({"detail": {"name": [{"prefix": "model-"}]}}, False),
        ({"detail": {"name": [{"prefix": {"equals-ignore-case": "model-"}}]}}, True),
        ({"detail": {"name": [{"suffix": "Alpha"}]}}, True),
        ({"detail": {"name": [{"suffix": {"equals-ignore-case": "ALPHA"}}]}}, True),
        ({"detail": {"name": [{"equals-ignore-case": "MODEL-ALPHA"}]}}, True),
        ({"detail": {"name": [{"wildcard": "Model-*a"}]}}, True),
        ({"detail": {"name": [{"wildcard": "Model*Beta"}]}}, False),
        ({"detail": {"name": [{"anything-but": "Model-Beta"}]}}, True),
        ({"detail": {"name": [{"anything-but": ["Model-Alpha", "x"]}]}}, False),
        ({"detail": {"name": [{"anything-but": {"prefix": "Model"}}]}}, False),
        ({"detail": {"name": [{"anything-but": {"suffix": "Beta"}}]}}, True),
        ({"detail": {"name": [{"anything-but": {"equals-ignore-case": ["model-alpha"]}}]}}, False),
        ({"detail": {"count": [{"anything-but": [1, 2]}]}}, True),
        ({"detail": {"absent": [{"anything-but": "x"}]}}, False),  # anything-but needs the field
        ({"detail": {"count": [{"numeric": [">", 0, "<=", 5]}]}}, True),
        ({"detail": {"count": [{"numeric": [">", 5]}]}}, False),
        ({"detail": {"ratio": [{"numeric": ["=", 0.25]}]}}, True),
        ({"detail": {"name": [{"numeric": [">", 0]}]}}, False),
        ({"detail": {"count": [{"exists": True}]}}, True),
        ({"detail": {"absent": [{"exists": False}]}}, True),
        ({"detail": {"count": [{"exists": False}]}}, False),
        ({"detail": {"absent": [{"exists": True}]}}, False),
        ({"detail": {"nested": [{"exists": True}]}}, False),  # exists works on leaves only
        ({"detail": {"ip": [{"cidr": "10.0.0.0/16"}]}}, True),
        ({"detail": {"ip": [{"cidr": "10.1.0.0/16"}]}}, False),
        ({"detail": {"items": {"kind": ["b"], "size": [{"numeric": [">", 5]}]}}}, True),  # arrays of objects
        ({"detail": {"items": {"kind": ["c"]}}}, False),
        ({"detail": {"$or": [{"count": [1]}, {"name": [{"prefix": "Model"}]}]}}, True),
        ({"detail": {"$or": [{"count": [1]}, {"name": ["x"]}]}}, False),
        ({"source": ["aws.test"], "detail": {"count": [6]}}, False),  # every field must match
    ],
)
def test_pattern_matching(pattern: dict[str, Any], expected: bool) -> None:
    assert matches(pattern, EVENT) is expected


@pytest.mark.parametrize(
    "pattern",
    [
        {"source": "aws.test"},
        {"detail": {"name": [{"contains": "x"}]}},
        {"detail": {"count": [{"numeric": [">>", 1]}]}},
        {"detail": {"count": [{"numeric": [">", "1"]}]}},
        {"detail": {"count": [{"exists": "yes"}]}},
        {"$or": [{"source": ["a"]}]},
    ],
)
def test_invalid_patterns_are_rejected(pattern: dict[str, Any]) -> None:
    with pytest.raises(InvalidEventPattern):
        check_pattern(pattern)


def rule(pattern: dict[str, Any] | None = None, **props: Any) -> Rule:
    properties = {"EventPattern": pattern, "Targets": [], **props}
    return Rule.from_properties(properties, name="r", arn="arn:aws:events:us-east-1:111111111111:rule/r")


def test_only_enabled_pattern_rules_on_the_bus_match() -> None:
    pattern = {"source": ["aws.test"]}
    assert rule(pattern).matches(EVENT)
    assert not rule(pattern, State="DISABLED").matches(EVENT)
    assert not rule(None, ScheduleExpression="rate(1 hour)").matches(EVENT)
    assert not rule(pattern, EventBusName="custom").matches(EVENT)
    assert rule(pattern, EventBusName="arn:aws:events:us-east-1:1:event-bus/custom").matches(EVENT, bus="custom")
    assert rule(json.dumps(pattern)).matches(EVENT)  # type: ignore[arg-type]  # a pattern given as JSON text


def test_json_paths() -> None:
    assert json_path(EVENT, "$") is EVENT
    assert json_path(EVENT, "$.detail-type") == "Thing Changed"
    assert json_path(EVENT, "$.detail.items[1].kind") == "b"
    assert json_path(EVENT, "$['detail']['nested'].state") == {"value": "ALARM"}
    assert json_path(EVENT, "$.detail.absent.x") is None
    assert json_path(EVENT, "$.resources[7]") is None


def test_target_input_input_path_and_transformer() -> None:
    r = rule({"source": ["aws.test"]})
    assert Target("t", "arn").payload(EVENT, r) == EVENT
    assert Target("t", "arn", input='{"fixed": 1}').payload(EVENT, r) == {"fixed": 1}
    assert Target("t", "arn", input_path="$.detail.nested").payload(EVENT, r) == {"state": {"value": "ALARM"}}
    transformer = {
        "InputPathsMap": {"name": "$.detail.name", "count": "$.detail.count", "tags": "$.detail.tags", "x": "$.no"},
        "InputTemplate": '{"text": "<name> has <count> \\"items\\"", "count": <count>, "tags": <tags>, '
        '"missing": <x>, "rule": "<aws.events.rule-name>", "original": <aws.events.event>}',
    }
    assert transform_input(transformer, EVENT, r) == {
        "text": 'Model-Alpha has 5 "items"',
        "count": 5,
        "tags": ["red", "blue"],
        "missing": None,
        "rule": "r",
        "original": EVENT,
    }
    plain = {"InputPathsMap": {"name": "$.detail.name"}, "InputTemplate": "<name> changed"}
    assert transform_input(plain, EVENT, r) == '"Model-Alpha" changed'  # not JSON: delivered as text


# -- delivery ----------------------------------------------------------------------------------------------------


@pytest.fixture()
def aws() -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in ("MOTO_ACCOUNT_ID", "AWS_DEFAULT_REGION")}
    os.environ.update({"MOTO_ACCOUNT_ID": "111111111111", "AWS_DEFAULT_REGION": "us-east-1"})
    try:
        with mock_aws():
            yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def dispatcher_with(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LambdaDispatcher:
    # The twin imports a handler by its module name, as Lambda does with the asset on sys.path: a module name of
    # this test's own, so no other test's `handler` module is taken from the import cache.
    name = f"events_probe_{tmp_path.name.replace('-', '_')}"
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / f"{name}.py").write_text(
        "def handler(event, context):\n"
        "    if event.get('fail'):\n"
        "        raise ValueError('asked to fail')\n"
        "    return {'seen': event, 'function': context.function_name}\n"
    )
    dispatcher = LambdaDispatcher()
    dispatcher.add(DeployedFunction("fn", "Fn", "stack", tmp_path, f"{name}.handler", {}))
    return dispatcher


def test_lambda_and_state_machine_targets_get_the_event(
    aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stepfunctions = boto3.client("stepfunctions", region_name="us-east-1")
    definition = {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}
    machine = stepfunctions.create_state_machine(
        name="loop", definition=json.dumps(definition), roleArn="arn:aws:iam::111111111111:role/states"
    )["stateMachineArn"]
    targets = [
        {"Id": "fn", "Arn": "arn:aws:lambda:us-east-1:111111111111:function:fn", "InputPath": "$.detail"},
        {"Id": "sm", "Arn": machine},
        {"Id": "q", "Arn": "arn:aws:sqs:us-east-1:111111111111:queue"},
    ]
    router = EventRouter(
        [rule({"source": ["aws.test"]}, Targets=targets), rule({"source": ["aws.other"]}, Targets=targets[:1])],
        dispatcher=dispatcher_with(tmp_path, monkeypatch),
        stepfunctions=stepfunctions,
    )
    event = new_event("aws.test", "Thing Changed", {"n": 1}, time=T0)
    lambda_delivery, states_delivery, unsupported = router.put_event(event)
    assert lambda_delivery.kind == "lambda" and lambda_delivery.error is None
    assert lambda_delivery.result == {"seen": {"n": 1}, "function": "fn"}
    assert states_delivery.kind == "states" and states_delivery.error is None
    execution = stepfunctions.describe_execution(executionArn=states_delivery.result)
    assert json.loads(execution["input"]) == event
    assert unsupported.kind == "unsupported" and unsupported.error
    # EventBridge does not deduplicate: the same event again starts another execution.
    assert router.put_event(event)[1].result != states_delivery.result
    assert router.put_event(new_event("aws.nobody", "x", {}, time=T0)) == []


def test_a_handler_error_is_reported_in_the_delivery(
    aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    targets = [{"Id": "fn", "Arn": "arn:aws:lambda:us-east-1:111111111111:function:fn", "InputPath": "$.detail"},
               {"Id": "gone", "Arn": "arn:aws:lambda:us-east-1:111111111111:function:gone"}]  # fmt: skip
    dispatcher = dispatcher_with(tmp_path, monkeypatch)
    router = EventRouter([rule({"source": ["aws.test"]}, Targets=targets)], dispatcher=dispatcher, stepfunctions=None)
    failed, missing = router.put_event(new_event("aws.test", "x", {"fail": True}, time=T0))
    assert failed.error == "ValueError: asked to fail"
    assert missing.error == "function not deployed"


def test_rate_schedules_fire_on_the_twins_clock(aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert [rate_seconds(e) for e in ("rate(1 minute)", "rate(5 minutes)", "rate(2 hours)", "rate(1 day)")] == [
        60,
        300,
        7200,
        86400,
    ]
    for bad in ("cron(0 * * * ? *)", "rate(0 hours)", "rate(1 fortnight)"):
        with pytest.raises(ValueError, match="rate"):
            rate_seconds(bad)
    hourly = rule(
        None, ScheduleExpression="rate(1 hour)", Targets=[{"Id": "fn", "Arn": "arn:aws:lambda:::function:fn"}]
    )
    off = rule(None, ScheduleExpression="rate(1 minute)", State="DISABLED")
    router = EventRouter([hourly, off], dispatcher=dispatcher_with(tmp_path, monkeypatch), stepfunctions=None)
    deliveries = router.run_schedules(T0, T0 + timedelta(hours=2, minutes=30))  # fires at 11:00 and 12:00
    assert [d.payload["time"] for d in deliveries] == ["2026-11-27T11:00:00Z", "2026-11-27T12:00:00Z"]
    first = deliveries[0].payload
    assert (first["source"], first["detail-type"], first["resources"]) == (
        "aws.events",
        "Scheduled Event",
        [hourly.arn],
    )
    assert router.run_schedules(T0 + timedelta(minutes=1), T0 + timedelta(minutes=59)) == []


# -- the synthesized rules ---------------------------------------------------------------------------------------


@pytest.fixture()
def cloud(twin_assembly: Synthesized) -> Iterator[TwinCloud]:
    twin = TwinCloud(Assembly.load(twin_assembly.outdir))
    with twin.running():
        yield twin


def rule_names(router: EventRouter, event: dict[str, Any]) -> list[str]:
    return [r.logical_id.rstrip("0123456789ABCDEF") for r in router.matching(event)]


def test_the_synthesized_rules_route_alarm_approval_rollback_and_capture_events(cloud: TwinCloud) -> None:
    config = load_config()
    alarms = TwinAlarms.from_cloud(cloud)  # first: rules reference the alarms' ARNs
    router = EventRouter.from_cloud(cloud)
    names = {r.logical_id.rstrip("0123456789ABCDEF") for r in router.rules}
    assert {"ModelDegraded", "ModelApproved", "DeploymentRolledBack", "CaptureObjectCreated"} <= names

    # A drifted feature: its alarm and the data-drift composite change state, and neither starts retraining.
    alarms.evaluate(T0)
    (income,) = [a for a in alarms.metric_alarms if a.logical_id.startswith("IncomeMeanShiftAlarm")]
    (accuracy,) = [a for a in alarms.metric_alarms if a.logical_id.startswith("AccuracyAlarm")]
    put = cloud.client("cloudwatch").put_metric_data
    for alarm, value, minute in ((income, income.threshold + 1, 5), (accuracy, accuracy.threshold - 0.1, 65)):
        dimensions = [{"Name": k, "Value": v} for k, v in alarm.dimensions.items()]
        put(Namespace=alarm.namespace, MetricData=[{"MetricName": alarm.metric_name, "Dimensions": dimensions,
            "Value": value, "Timestamp": T0 + timedelta(minutes=minute)}])  # fmt: skip
    feature, warning = alarms.evaluate(T0 + timedelta(hours=1))
    assert rule_names(router, feature.event()) == rule_names(router, warning.event()) == []
    # Accuracy against ground truth below A_min: the model-degraded composite's ALARM event starts retraining.
    lost, *_, composite = alarms.evaluate(T0 + timedelta(hours=2))
    assert composite.alarm_name == "mlops-model-degraded"
    assert rule_names(router, composite.event()) == ["ModelDegraded"]
    assert rule_names(router, lost.event()) == []
    ok_again = composite.event() | {"detail": {**composite.event()["detail"], "state": {"value": "OK"}}}
    assert rule_names(router, ok_again) == []

    # A model package of this project approved: the serving stack's approval rule, nothing else.
    detail = {
        "ModelPackageGroupName": config.resource_name("models"),
        "ModelPackageArn": "arn:aws:sagemaker:us-east-1:111111111111:model-package/models/2",
        "ModelApprovalStatus": "Approved",
    }
    approved = new_event("aws.sagemaker", "SageMaker Model Package State Change", detail, time=T0)
    assert rule_names(router, approved) == ["ModelApproved"]
    pending = {**detail, "ModelApprovalStatus": "PendingManualApproval"}
    assert (
        rule_names(router, new_event("aws.sagemaker", "SageMaker Model Package State Change", pending, time=T0)) == []
    )
    other_group = {**detail, "ModelPackageGroupName": "someone-else"}
    assert rule_names(router, approved | {"detail": other_group}) == []

    # The serving stack (its id in moto) rolled back: the rollback rule.
    serving, _ = cloud.assembly.stack("-serving")
    stack_id = cloud.client("cloudformation").describe_stacks(StackName=serving)["Stacks"][0]["StackId"]
    rollback = {"stack-id": stack_id, "status-details": {"status": "UPDATE_ROLLBACK_COMPLETE"}}
    rolled_back = new_event("aws.cloudformation", "CloudFormation Stack Status Change", rollback, time=T0)
    assert rule_names(router, rolled_back) == ["DeploymentRolledBack"]
    assert rule_names(router, rolled_back | {"detail": {**rollback, "stack-id": "another"}}) == []

    # A new capture file: the drift monitor's rule, delivered to the real handler through the dispatcher.
    data, _ = cloud.assembly.stack("-data")
    capture = {"bucket": {"name": _capture_bucket(cloud, data)}, "object": {"key": "capture/mlops-endpoint/a.jsonl"}}
    created = new_event("aws.s3", "Object Created", capture, time=T0)
    assert rule_names(router, created) == ["CaptureObjectCreated"]
    (delivery,) = router.put_event(created)
    assert delivery.kind == "lambda" and delivery.target.startswith("DriftMonitorFunction")
    assert delivery.error is None and isinstance(delivery.result, dict), delivery
    assert cloud.dispatcher.calls[-1][1] == created

    # The drift check's schedule fires on the twin's clock, into the same function.
    (schedule,) = [r for r in router.rules if r.logical_id.startswith("DriftSchedule")]
    fired = [d for d in router.run_schedules(T0, T0 + timedelta(hours=1)) if d.rule == schedule.name]
    assert len(fired) == 3600 // rate_seconds(str(schedule.schedule)) and all(d.error is None for d in fired), fired


def _capture_bucket(cloud: TwinCloud, data_stack: str) -> str:
    (logical,) = [
        k
        for k, v in cloud.assembly.templates[data_stack]["Resources"].items()
        if v["Type"] == "AWS::S3::Bucket" and k.startswith("DataCapture")
    ]
    return cloud.resolver.physical[(data_stack, logical)]
