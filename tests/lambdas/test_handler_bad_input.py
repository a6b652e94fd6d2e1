"""Issue #17, Lambda rows: every handler in lambdas/* refuses an event that is not a JSON object the way it refuses
a malformed object, before any AWS call; the guard's lock records and the comparison's evaluation reports that
are broken; numeric settings checked at cold start, naming the variable."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from importlib import import_module
from typing import Any

import boto3
import pytest
from botocore.client import BaseClient
from moto import mock_aws

from tests.conftest import REPO

NON_OBJECTS = [([], "a list"), ("x", "a string"), (None, "null"), (7, "a number"), ([{"action": "acquire"}], "a list")]

# How each handler answers a malformed event. "raises": a Step Functions task (the state machine's Catch turns the
# ValueError into a failed task). A dict: an EventBridge target that returns the rejection (raising would only make
# Lambda retry the same event), the key that carries the reason. "scheduled": a schedule's event, whose content
# the function does not read, so `{}` is a valid event; a non-object is still refused.
HANDLERS: dict[str, Any] = {
    "batch_transform": {"key": "reason"},
    "deploy_model": {"key": "reason", "action": "rejected"},
    "drift_monitor": "scheduled",
    "retrain_check_pipeline": "raises",
    "retrain_compare": "raises",
    "retrain_guard": "raises",
    "retrain_recheck": "scheduled",
    "retrain_set_approval": "raises",
    "retrain_start_pipeline": "raises",
}
ENV = {
    "APPROVED_PACKAGE_PARAMETER": "/mlops/serving/approved-model-package-arn",
    "SERVING_STACK_NAME": "Mlops-serving",
    "MODEL_PACKAGE_GROUP": "mlops-models",
    "GUARD_TABLE": "guard",
    "PIPELINE_NAME": "pipeline",
    "ALARM_NAME": "degraded",
    "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:111111111111:stateMachine:loop",
    "COOLDOWN_HOURS": "6",
    "MAX_PER_DAY": "2",
    "TIMEOUT_HOURS": "6",
    "MIN_IMPROVEMENT": "0.0",
    "MIN_ACCURACY": "0.85",
    "ENDPOINT_NAME": "endpoint",
    "VARIANT_NAME": "AllTraffic",
    "CAPTURE_BUCKET": "capture",
    "CAPTURE_PREFIX": "capture",
    "MARKER_PREFIX": "drift-monitor/processed",
    "POWERTOOLS_METRICS_NAMESPACE": "mlops",
    "DRIFT_SIGMA": "3",
    "PSI_THRESHOLD": "0.2",
}


class _Context:
    function_name = "handler"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:111111111111:function:handler"
    aws_request_id = "test"


def test_the_table_names_every_handler() -> None:
    """A new handler folder must be added to the table (and so to the rows below)."""
    folders = sorted(p.name for p in (REPO / "lambdas").iterdir() if (p / "handler.py").is_file())
    assert folders == sorted(HANDLERS)


@pytest.fixture()
def no_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """A rejection must come before any AWS call: an API call (through any boto3 client) fails the row."""
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")

    def refused(client: Any, operation: str, params: Any) -> Any:
        raise AssertionError(f"AWS called for a malformed event: {operation}")

    monkeypatch.setattr(BaseClient, "_make_api_call", refused)


def _outcome(folder: str, event: Any) -> tuple[str, str]:
    """("raised", message) or ("returned", reason) of one call on a freshly loaded handler (no cached clients)."""
    handler = import_module(f"lambdas.{folder}.handler")
    try:
        result = handler.lambda_handler(event, _Context())
    except ValueError as exc:
        return "raised", str(exc)
    expected = HANDLERS[folder]
    assert isinstance(expected, dict), f"{folder} returned {result!r} for {event!r}"
    assert all(result.get(k) == v for k, v in expected.items() if k != "key"), result
    return "returned", str(result[expected["key"]])


@pytest.mark.parametrize(("event", "kind"), NON_OBJECTS, ids=[f"{k}-{i}" for i, (_, k) in enumerate(NON_OBJECTS)])
@pytest.mark.parametrize("folder", sorted(HANDLERS))
def test_a_non_object_event_gets_the_same_rejection_as_a_malformed_object(
    no_aws: None, folder: str, event: Any, kind: str
) -> None:
    how, message = _outcome(folder, event)
    assert message == f"input: expected a JSON object, got {kind}"
    if HANDLERS[folder] == "scheduled":
        assert how == "raised"
        return
    # `{}` is a malformed object for every event-driven handler: refused the same way, with a message that
    # names the input.
    empty_how, empty_message = _outcome(folder, {})
    assert how == empty_how, (how, empty_how)
    assert empty_message.startswith(("input", "event")), empty_message


# ---- retrain_guard: lock records it cannot read --------------------------------------------------------------

NOW = datetime(2026, 12, 6, 3, tzinfo=UTC)
KEY = {"pk": "retraining"}


@pytest.fixture()
def guard_table() -> Iterator[Any]:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        yield boto3.resource("dynamodb", region_name="us-east-1").create_table(
            TableName="guard", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
        )  # fmt: skip


def _guard() -> tuple[Any, Any]:
    handler = import_module("lambdas.retrain_guard.handler")
    return handler, import_module("lambdas.retrain_guard.guard_logic").Limits(
        cooldown=timedelta(hours=6), max_per_day=2, timeout=timedelta(hours=6)
    )


@pytest.mark.parametrize("later", [timedelta(0), timedelta(hours=7), timedelta(days=30)])
def test_a_lock_record_without_started_at_is_never_taken(guard_table: Any, later: timedelta) -> None:
    """No start time: nothing proves the holder dead, so no second run takes the lock, however late it asks."""
    handler, limits = _guard()
    guard_table.put_item(Item={**KEY, "running": "first", "version": 3})
    verdict = handler.run({"action": "acquire", "execution": "second"}, guard_table, limits, NOW + later)
    assert not verdict.proceed and "no started_at" in verdict.reason
    assert guard_table.get_item(Key=KEY)["Item"]["running"] == "first"


@pytest.mark.parametrize("stamp", ["yesterday", "", "2026-13-45T99:00:00", 1733454000])
def test_an_unparseable_started_at_is_a_stale_lock_not_a_permanent_error(guard_table: Any, stamp: Any) -> None:
    handler, limits = _guard()
    guard_table.put_item(Item={**KEY, "running": "dead", "started_at": stamp, "version": 3})
    verdict = handler.run({"action": "acquire", "execution": "second"}, guard_table, limits, NOW)
    assert verdict.proceed, verdict.reason
    item = guard_table.get_item(Key=KEY)["Item"]
    assert (item["running"], item["started_at"], int(item["version"])) == ("second", NOW.isoformat(), 4)


# ---- retrain_compare: evaluation reports it cannot use ---------------------------------------------------------

GROUP, PARAMETER = "mlops-models", "/mlops/serving/approved-model-package-arn"
REPORT_URI = "s3://artifacts/run/evaluation.json"


@pytest.fixture()
def registry() -> Iterator[tuple[Any, Any, Any]]:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        sagemaker, s3, ssm = (boto3.client(s, region_name="us-east-1") for s in ("sagemaker", "s3", "ssm"))
        sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
        s3.create_bucket(Bucket="artifacts")
        ssm.put_parameter(Name=PARAMETER, Value="none", Type="String")
        yield sagemaker, s3, ssm


def _package(sagemaker: Any, metrics: bool = True) -> str:
    spec = {"Containers": [{"Image": "i"}], "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"]}  # fmt: skip
    extra = (
        {"ModelMetrics": {"ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": REPORT_URI}}}}
        if metrics
        else {}
    )
    created = sagemaker.create_model_package(ModelPackageGroupName=GROUP, InferenceSpecification=spec, **extra)
    return str(created["ModelPackageArn"])


REPORTS = [
    ("report object missing", None, "not readable (NoSuchKey)"),
    ("empty file", b"", "is malformed"),
    ("not JSON", b"{junk", "is malformed"),
    ("a list", b"[1, 2]", "is malformed"),
    ("no summary", b'{"metrics": {}}', "is malformed"),
    ("summary is a list", b'{"summary": [0.9]}', "is malformed"),
    ("accuracy missing", b'{"summary": {"f1": 0.9}}', "is malformed"),
    ("accuracy is text", b'{"summary": {"accuracy": "0.9"}}', "summary.accuracy is not a number"),
    ("accuracy is true", b'{"summary": {"accuracy": true}}', "summary.accuracy is not a number"),
]


@pytest.mark.parametrize(("name", "body", "says"), REPORTS, ids=[r[0] for r in REPORTS])
def test_a_missing_or_malformed_evaluation_report_names_the_package_and_uri(
    registry: tuple[Any, Any, Any], name: str, body: bytes | None, says: str
) -> None:
    sagemaker, s3, ssm = registry
    handler = import_module("lambdas.retrain_compare.handler")
    if body is not None:
        s3.put_object(Bucket="artifacts", Key="run/evaluation.json", Body=body)
    arn = _package(sagemaker)
    with pytest.raises(handler.EvaluationReportError) as raised:
        handler.run(
            {"model_package_arn": arn}, handler.Clients(sagemaker=sagemaker, s3=s3, ssm=ssm), PARAMETER, 0.0, 0.85
        )
    assert str(raised.value).startswith(f"{arn}: evaluation report {REPORT_URI}") and says in str(raised.value)


def test_a_package_without_an_evaluation_report_is_named(registry: tuple[Any, Any, Any]) -> None:
    sagemaker, s3, ssm = registry
    handler = import_module("lambdas.retrain_compare.handler")
    arn = _package(sagemaker, metrics=False)
    with pytest.raises(handler.EvaluationReportError) as raised:
        handler.run(
            {"model_package_arn": arn}, handler.Clients(sagemaker=sagemaker, s3=s3, ssm=ssm), PARAMETER, 0.0, 0.85
        )
    assert str(raised.value) == f"{arn}: no ModelMetrics.ModelQuality.Statistics (evaluation report)"


def test_the_champions_malformed_report_is_named_too(registry: tuple[Any, Any, Any]) -> None:
    sagemaker, s3, ssm = registry
    handler = import_module("lambdas.retrain_compare.handler")
    s3.put_object(Bucket="artifacts", Key="run/evaluation.json", Body=json.dumps({"summary": {"accuracy": 0.9}}))
    challenger = _package(sagemaker)
    champion = _package(sagemaker, metrics=False)
    ssm.put_parameter(Name=PARAMETER, Value=champion, Type="String", Overwrite=True)
    with pytest.raises(handler.EvaluationReportError) as raised:
        handler.run(
            {"model_package_arn": challenger},
            handler.Clients(sagemaker=sagemaker, s3=s3, ssm=ssm),
            PARAMETER,
            0.0,
            0.85,
        )
    assert str(raised.value).startswith(champion)


# ---- numeric settings, checked when the module loads in Lambda -------------------------------------------------

SETTINGS = [
    ("drift_monitor", "DRIFT_SIGMA", ["abc", "inf", "nan", "0", "-1", ""]),
    ("drift_monitor", "PSI_THRESHOLD", ["x", "-inf", "0"]),
    ("drift_monitor", "MIN_ROWS", ["0", "2.5", "1e400"]),
    ("drift_monitor", "LOOKBACK_HOURS", ["0", "nan"]),
    ("drift_monitor", "MAX_OBJECTS", ["-3", "many"]),
    ("retrain_guard", "COOLDOWN_HOURS", ["-1", "inf"]),
    ("retrain_guard", "MAX_PER_DAY", ["0", "1.5"]),
    ("retrain_guard", "TIMEOUT_HOURS", ["0", "nan"]),
    ("retrain_compare", "MIN_IMPROVEMENT", ["-0.1", "inf", "a"]),
    ("retrain_compare", "MIN_ACCURACY", ["nan", "-1"]),
]
SETTING_ROWS = [(folder, name, value) for folder, name, values in SETTINGS for value in values]


@pytest.mark.parametrize(("folder", "name", "value"), SETTING_ROWS, ids=[f"{f}-{n}={v!r}" for f, n, v in SETTING_ROWS])
def test_a_bad_numeric_setting_fails_the_cold_start_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, folder: str, name: str, value: str
) -> None:
    for key, good in ENV.items():
        monkeypatch.setenv(key, good)
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", folder)  # inside Lambda: the check runs at import
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=f"^{name}: ") as raised:
        _cold_start(folder)
    assert type(raised.value).__name__ == "ConfigurationError"


@pytest.mark.parametrize("folder", sorted({folder for folder, _, _ in SETTINGS}))
def test_good_settings_load(monkeypatch: pytest.MonkeyPatch, folder: str) -> None:
    """The rows above fail because of the one bad value: the same environment with it loads."""
    for key, good in ENV.items():
        monkeypatch.setenv(key, good)
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", folder)
    assert _cold_start(folder).lambda_handler


def _cold_start(folder: str) -> Any:
    """The handler module run again, as in a new Lambda container (its settings check at import included)."""
    name = f"lambdas.{folder}.handler"
    sys.modules.pop(name, None)
    return import_module(name)
