"""The synthesized retraining state machine, executed in moto's Step Functions engine with the real handlers.

Paths: better challenger -> approved and deployed; worse challenger -> rejected, champion stays; pipeline failure
-> caught, notified, champion stays; a second alarm during a run -> no second retraining.
"""

from __future__ import annotations

import json
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mlops.local.sample_data import load_dataset
from mlops.twin.cloud import TwinCloud
from mlops.twin.emulators.pipeline_runner import TwinPipelineRunner
from mlops.twin.templates import Assembly
from pipeline_code import preprocess, train
from platform_config.platform import load_config

CONFIG = load_config()
ALARM_EVENT = {"detail-type": "CloudWatch Alarm State Change", "detail": {"state": {"value": "ALARM"}}}


@pytest.fixture()
def cloud(twin_assembly, tmp_path: Path) -> Iterator[TwinCloud]:
    twin = TwinCloud(Assembly.load(twin_assembly.outdir))
    with twin.running():
        twin.pipeline_runner = TwinPipelineRunner(twin, CONFIG, tmp_path / "runs")
        yield twin


def raw_bucket(cloud: TwinCloud) -> str:
    stack, template = cloud.assembly.stack("-data")
    (logical,) = [
        k for k, v in template["Resources"].items() if v["Type"] == "AWS::S3::Bucket" and k.startswith("RawData")
    ]
    return cloud.resolver.physical[(stack, logical)]


def upload_raw(cloud: TwinCloud, frame: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "raw.csv"
    frame.to_csv(path, index=False)
    cloud.client("s3").upload_file(str(path), raw_bucket(cloud), "raw/credit.csv")


def desired_package(cloud: TwinCloud) -> str:
    return str(cloud.client("ssm").get_parameter(Name=CONFIG.approved_package_parameter)["Parameter"]["Value"])


def champion(cloud: TwinCloud, tmp_path: Path, regularisation: float, pipeline_split: bool = False) -> str:
    """A serving model: really trained (inverse regularisation C), packed and registered like the pipeline does.

    Its registered report claims an accuracy of 0.999 on purpose: the loop must compare on the challenger's holdout
    set (the evaluate step scores the champion there), not trust a number measured on other data.
    """
    data = load_dataset("ISLR", "Default")
    channel = tmp_path / "champion-train"
    channel.mkdir()
    data.to_csv(channel / "train.csv", index=False)
    if pipeline_split:  # exactly the training split the pipeline will make (same seed): the same model
        raw = tmp_path / "champion-raw.csv"
        data.to_csv(raw, index=False)
        split = ["--holdout-fraction", str(CONFIG.holdout_fraction), "--seed", str(CONFIG.random_seed)]
        preprocess.main(
            ["--input-dir", str(raw), "--output-dir", str(tmp_path / "champion-split"), "--target", "default", *split]
        )
        channel = tmp_path / "champion-split" / "train"
    model_dir = tmp_path / "champion-model"
    train.main(
        ["--target", "default", "--C", str(regularisation)],
        {"SM_CHANNEL_TRAIN": str(channel), "SM_MODEL_DIR": str(model_dir)},
    )
    with tarfile.open(tmp_path / "champion.tar.gz", "w:gz") as tar:
        for item in model_dir.iterdir():
            tar.add(item, arcname=item.name)
    s3, sagemaker = cloud.client("s3"), cloud.client("sagemaker")
    bucket = raw_bucket(cloud)
    s3.upload_file(str(tmp_path / "champion.tar.gz"), bucket, "champion/model.tar.gz")
    s3.put_object(Bucket=bucket, Key="champion/evaluation.json", Body=json.dumps({"summary": {"accuracy": 0.999}}))
    arn = sagemaker.create_model_package(
        ModelPackageGroupName=CONFIG.resource_name("models"),
        InferenceSpecification={"Containers": [{"Image": "image", "ModelDataUrl": f"s3://{bucket}/champion/model.tar.gz"}],
                                "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]},
        ModelMetrics={"ModelQuality": {"Statistics": {"ContentType": "application/json",
                                                      "S3Uri": f"s3://{bucket}/champion/evaluation.json"}}},
        ModelApprovalStatus="Approved",
    )["ModelPackageArn"]  # fmt: skip
    cloud.client("ssm").put_parameter(Name=CONFIG.approved_package_parameter, Value=arn, Overwrite=True, Type="String")
    return str(arn)


def run_loop(cloud: TwinCloud, name: str) -> tuple[dict[str, Any], list[str]]:
    arn = cloud.start_execution(cloud.state_machine_arn("RetrainingLoop"), ALARM_EVENT, name)
    result = cloud.wait_execution(arn, timeout_s=180)
    states = cloud.visited_states(arn)
    errors = [
        (logical, str(outcome)) for logical, _, outcome in cloud.dispatcher.calls if isinstance(outcome, Exception)
    ]
    # Shown when an assertion fails: where the run went and which handler raised what.
    result["trace"] = {
        "states": states,
        "handler_errors": errors,
        "pipeline_failures": cloud.pipeline_failures,
        "tb": cloud.pipeline_tracebacks,
        "iam": cloud.iam.report.lines() if cloud.iam else "not enforced",
    }
    return result, states


def package_status(cloud: TwinCloud, arn: str) -> str:
    return str(cloud.client("sagemaker").describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"])


@pytest.mark.slow
def test_better_challenger_is_approved_and_deployed(cloud: TwinCloud, tmp_path: Path) -> None:
    upload_raw(cloud, load_dataset("ISLR", "Default"), tmp_path)
    old = champion(cloud, tmp_path, regularisation=1e-5)  # so regularised it only learns the class prior
    result, states = run_loop(cloud, "better")
    assert result["status"] == "SUCCEEDED", result["trace"]
    assert states[-3:] == ["NotifyPromoted", "Release", "Done"]
    # Every handler, task and pipeline call ran under its role's synthesized policies, and none was refused.
    assert cloud.iam is not None and cloud.iam.report.evaluated_calls > 0 and cloud.iam.report.denials == []
    (run,) = cloud.pipeline_runner.runs  # type: ignore[union-attr]
    assert package_status(cloud, run["package"]) == "Approved"
    assert desired_package(cloud) == run["package"] != old  # the deploy function made it the served package
    # The twin registered what the synthesized Register step registers: the same CustomerMetadataProperties keys.
    described = cloud.client("sagemaker").describe_model_package(ModelPackageName=run["package"])
    assert set(described["CustomerMetadataProperties"]) == register_metadata_keys(cloud)
    assert described["CustomerMetadataProperties"]["pipeline_execution_arn"] == run["execution"]


def register_metadata_keys(cloud: TwinCloud) -> set[str]:
    steps = cloud.pipeline_runner.definition()["Steps"]  # type: ignore[union-attr]
    branches = [s for step in steps if step["Type"] == "Condition" for s in step["Arguments"]["IfSteps"]]
    (register,) = [step for step in branches if step["Type"] == "RegisterModel"]
    return set(register["Arguments"]["CustomerMetadataProperties"])


@pytest.mark.slow
def test_worse_challenger_is_rejected_and_the_champion_stays(cloud: TwinCloud, tmp_path: Path) -> None:
    upload_raw(cloud, load_dataset("ISLR", "Default"), tmp_path)
    # The very model the pipeline will train (same split, seed and hyperparameters): a tie is not "better".
    old = champion(cloud, tmp_path, regularisation=1.0, pipeline_split=True)
    result, states = run_loop(cloud, "worse")
    assert result["status"] == "SUCCEEDED" and "RejectChallenger" in states and "Deploy" not in states
    (run,) = cloud.pipeline_runner.runs  # type: ignore[union-attr]
    assert package_status(cloud, run["package"]) == "Rejected"
    assert desired_package(cloud) == old


@pytest.mark.slow
def test_pipeline_failure_is_caught_notified_and_the_champion_stays(cloud: TwinCloud, tmp_path: Path) -> None:
    data = load_dataset("ISLR", "Default")
    data["default"] = "No"  # one class: the preprocess step rejects it, the pipeline run fails
    upload_raw(cloud, data, tmp_path)
    old = champion(cloud, tmp_path, regularisation=1e-5)
    result, states = run_loop(cloud, "broken")
    assert result["status"] == "FAILED"
    assert "PipelineDidNotRegister" in states and "NotifyFailure" in states and "ReleaseAfterFailure" in states
    assert desired_package(cloud) == old
    # The lock was released: a later alarm may retrain again (the guard then refuses only for the cooldown).
    guard_calls = [c for c in cloud.dispatcher.calls if c[0].startswith("GuardFunction")]
    assert guard_calls[-1][1]["action"] == "release" and guard_calls[-1][2]["proceed"] is True


@pytest.mark.slow
def test_a_second_alarm_during_a_run_starts_no_second_retraining(cloud: TwinCloud, tmp_path: Path) -> None:
    upload_raw(cloud, load_dataset("ISLR", "Default"), tmp_path)
    champion(cloud, tmp_path, regularisation=1e-5)
    machine = cloud.state_machine_arn("RetrainingLoop")
    first = cloud.start_execution(machine, ALARM_EVENT, "first")
    second = cloud.start_execution(machine, ALARM_EVENT, "second")
    first_result, second_result = cloud.wait_execution(first, 180), cloud.wait_execution(second, 180)
    trace = {
        "states": [cloud.visited_states(first), cloud.visited_states(second)],
        "handler_errors": [(c[0], str(c[2])) for c in cloud.dispatcher.calls if isinstance(c[2], Exception)],
        "pipeline_failures": cloud.pipeline_failures,
    }
    assert first_result["status"] == second_result["status"] == "SUCCEEDED", trace
    skipped = [name for name, arn in (("first", first), ("second", second)) if "Skipped" in cloud.visited_states(arn)]
    assert len(skipped) == 1
    assert len(cloud.pipeline_runner.runs) == 1  # type: ignore[union-attr]
