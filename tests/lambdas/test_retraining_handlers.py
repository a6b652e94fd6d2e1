"""The retraining loop's handlers: pure logic, and each handler against moto."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from importlib import import_module
from typing import Any

import boto3
import pytest
from moto import mock_aws

from mlops.moto_fixes import atomic_dynamodb_writes

guard_logic = import_module("lambdas.retrain_guard.guard_logic")
comparison = import_module("lambdas.retrain_compare.comparison")
LIMITS = guard_logic.Limits(cooldown=timedelta(hours=6), max_per_day=2, timeout=timedelta(hours=6))
NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
GROUP = "mlops-models"
PARAMETER = "/mlops/serving/approved-model-package-arn"


def test_guard_allows_one_run_then_refuses_while_it_runs_and_during_cooldown() -> None:
    first = guard_logic.acquire(guard_logic.GuardState(), "a", NOW, LIMITS)
    assert first.proceed and first.state.running == "a" and first.state.runs_today == 1
    assert not guard_logic.acquire(first.state, "b", NOW + timedelta(minutes=5), LIMITS).proceed
    released = guard_logic.release(first.state, "a").state
    cooling = guard_logic.acquire(released, "b", NOW + timedelta(hours=1), LIMITS)
    assert not cooling.proceed and "cooldown" in cooling.reason
    assert guard_logic.acquire(released, "b", NOW + timedelta(hours=7), LIMITS).proceed


def test_guard_daily_budget_and_stale_locks() -> None:
    state = guard_logic.GuardState(
        last_started=(NOW - timedelta(hours=7)).isoformat(), day=NOW.date().isoformat(), runs_today=2
    )
    assert "budget" in guard_logic.acquire(state, "c", NOW, LIMITS).reason
    assert guard_logic.acquire(state, "c", NOW + timedelta(days=1), LIMITS).proceed  # a new day, a new budget
    stale = guard_logic.GuardState(running="dead", started_at=(NOW - timedelta(hours=7)).isoformat())
    assert guard_logic.acquire(stale, "d", NOW, LIMITS).proceed  # its execution died without releasing


def test_a_lock_is_released_only_by_its_holder() -> None:
    held = guard_logic.GuardState(running="a", started_at=NOW.isoformat())
    assert not guard_logic.release(held, "b").proceed


@pytest.mark.parametrize(
    ("challenger", "champion", "margin", "better"),
    [
        (0.97, 0.96, 0.0, True),
        (0.96, 0.96, 0.0, False),
        (0.965, 0.96, 0.01, False),
        (0.90, None, 0.0, True),
        (0.80, None, 0.0, False),
    ],
)
def test_challenger_must_beat_champion_by_the_margin(challenger, champion, margin, better) -> None:
    assert comparison.compare(challenger, champion, margin, 0.85).better is better


@pytest.fixture()
def aws() -> Iterator[None]:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        yield


def test_guard_handler_lets_exactly_one_of_two_simultaneous_starts_through(aws) -> None:
    handler = import_module("lambdas.retrain_guard.handler")
    dynamodb = boto3.resource("dynamodb", region_name="us-east-1")
    table = dynamodb.create_table(
        TableName="guard", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
    )  # fmt: skip
    verdicts: list[Any] = []
    barrier = threading.Barrier(2)

    def start(name: str) -> None:
        barrier.wait()
        verdicts.append(handler.run({"action": "acquire", "execution": name}, table, LIMITS, NOW))

    # DynamoDB checks a write's condition and writes as one step; moto does not (mlops/moto_fixes.py). Reads stay
    # concurrent: a guard that read, decided and then wrote unconditionally would still let both through.
    with atomic_dynamodb_writes():
        threads = [threading.Thread(target=start, args=(n,)) for n in ("x", "y")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sorted(v.proceed for v in verdicts) == [False, True]
    with pytest.raises(ValueError, match="action"):
        handler.run({"action": "steal"}, table, LIMITS, NOW)


def _package(sagemaker: Any, s3: Any, accuracy: float, run: str = "run", champion_accuracy: float | None = None) -> str:
    summary: dict[str, Any] = {"accuracy": accuracy}
    if champion_accuracy is not None:
        summary["champion_accuracy"] = champion_accuracy
    body = json.dumps({"summary": summary})
    s3.put_object(Bucket="artifacts", Key=f"{run}/evaluation.json", Body=body)
    spec = {
        "Containers": [{"Image": "i"}],
        "SupportedContentTypes": ["text/csv"],
        "SupportedResponseMIMETypes": ["text/csv"],
    }
    report = {"ContentType": "application/json", "S3Uri": f"s3://artifacts/{run}/evaluation.json"}
    return str(
        sagemaker.create_model_package(
            ModelPackageGroupName=GROUP,
            InferenceSpecification=spec,
            ModelMetrics={"ModelQuality": {"Statistics": report}},
            CustomerMetadataProperties={"pipeline_execution_arn": run},
            ModelApprovalStatus="PendingManualApproval",
        )["ModelPackageArn"]
    )


@pytest.fixture()
def registry(aws) -> tuple[Any, Any, Any]:
    sagemaker, s3, ssm = (boto3.client(s, region_name="us-east-1") for s in ("sagemaker", "s3", "ssm"))
    sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
    s3.create_bucket(Bucket="artifacts")
    ssm.put_parameter(Name=PARAMETER, Value="none", Type="String")
    return sagemaker, s3, ssm


def test_compare_handler_reads_both_evaluation_reports(registry) -> None:
    sagemaker, s3, ssm = registry
    handler = import_module("lambdas.retrain_compare.handler")
    aws = handler.Clients(sagemaker=sagemaker, s3=s3, ssm=ssm)
    champion = _package(sagemaker, s3, 0.95, "champion")
    challenger = _package(sagemaker, s3, 0.97, "challenger")
    assert handler.run({"model_package_arn": challenger}, aws, PARAMETER, 0.0, 0.85)["better"] is True  # no champion
    ssm.put_parameter(Name=PARAMETER, Value=champion, Type="String", Overwrite=True)
    result = handler.run({"model_package_arn": challenger}, aws, PARAMETER, 0.03, 0.85)
    assert result["better"] is False and result["champion_accuracy"] == 0.95 and result["challenger_accuracy"] == 0.97
    assert "each on its own holdout set" in result["reason"]


def test_compare_prefers_the_champion_scored_on_the_challengers_holdout(registry) -> None:
    sagemaker, s3, ssm = registry
    handler = import_module("lambdas.retrain_compare.handler")
    aws = handler.Clients(sagemaker=sagemaker, s3=s3, ssm=ssm)
    champion = _package(sagemaker, s3, 0.97, "champion")  # its own, older holdout said 0.97
    challenger = _package(sagemaker, s3, 0.93, "challenger", champion_accuracy=0.90)  # on the new holdout: 0.90
    ssm.put_parameter(Name=PARAMETER, Value=champion, Type="String", Overwrite=True)
    result = handler.run({"model_package_arn": challenger}, aws, PARAMETER, 0.0, 0.85)
    assert result["better"] is True and result["champion_accuracy"] == 0.90
    assert "both on the challenger's holdout set" in result["reason"]


def test_check_handler_finds_the_package_its_run_registered(registry) -> None:
    sagemaker, s3, _ = registry
    handler = import_module("lambdas.retrain_check_pipeline.handler")
    sagemaker.create_pipeline(PipelineName="p", PipelineDefinition="{}", RoleArn="arn:aws:iam::123456789012:role/r")
    run = sagemaker.start_pipeline_execution(PipelineName="p")["PipelineExecutionArn"]
    _package(sagemaker, s3, 0.9, "another-run")
    assert (
        handler.check({"pipeline_execution_arn": run}, sagemaker, GROUP)["status"] == "Failed"
    )  # no package of its own
    mine = _package(sagemaker, s3, 0.9, run)
    result = handler.check({"pipeline_execution_arn": run}, sagemaker, GROUP)
    assert result == {
        "status": "Succeeded",
        "pipeline_execution_arn": run,
        "model_package_arn": mine,
        "failure_reason": "",
    }


def test_start_and_set_approval_handlers(registry) -> None:
    sagemaker, s3, _ = registry
    start = import_module("lambdas.retrain_start_pipeline.handler")
    sagemaker.create_pipeline(PipelineName="p", PipelineDefinition="{}", RoleArn="arn:aws:iam::123456789012:role/r")
    ssm = boto3.client("ssm", region_name="us-east-1")
    assert start.champion_model_data(sagemaker, ssm, PARAMETER) == "none"
    run = start.start({"execution": "e1"}, sagemaker, "p", ssm, PARAMETER)["pipeline_execution_arn"]
    assert run.startswith("arn:aws:sagemaker:")
    approval = import_module("lambdas.retrain_set_approval.handler")
    package = _package(sagemaker, s3, 0.9)
    assert (
        approval.set_approval({"model_package_arn": package, "approve": False, "reason": "worse"}, sagemaker)["status"]
        == "Rejected"
    )
    assert sagemaker.describe_model_package(ModelPackageName=package)["ModelApprovalStatus"] == "Rejected"
    with pytest.raises(ValueError, match="approve"):
        approval.set_approval({"model_package_arn": package, "approve": "yes"}, sagemaker)
