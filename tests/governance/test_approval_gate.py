"""The retraining loop's approval refuses a package whose metadata says lineage incomplete or readiness failed."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from importlib import import_module
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from pipeline_code.lineage_fields import registry_metadata
from tests.governance.conftest import Run

gate = import_module("lambdas.shared.readiness_gate")
ARN = "arn:aws:sagemaker:us-east-1:111111111111:model-package/mlops-models/1"
READY = {"lineage_complete": "true", "readiness_verdict": "ready"}


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        (None, "no lineage recorded"),
        ({"pipeline_execution_arn": "x"}, "no lineage recorded in the package metadata; no readiness verdict"),
        ({**READY, "lineage_complete": "false", "lineage_missing": "code.commit"}, "missing: code.commit"),
        ({**READY, "readiness_verdict": "not_ready", "readiness_failed": "beats_majority_class"}, "beats_majority"),
    ],
)
def test_refusal_names_the_reason(metadata: dict[str, str] | None, expected: str) -> None:
    reason = gate.refusal(ARN, metadata)
    assert reason is not None and reason.startswith(f"{ARN}: not approvable") and expected in reason


def test_a_complete_ready_package_is_not_refused() -> None:
    assert gate.refusal(ARN, READY) is None


@pytest.fixture()
def sagemaker() -> Iterator[Any]:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        client = boto3.client("sagemaker", region_name="us-east-1")
        client.create_model_package_group(ModelPackageGroupName="mlops-models")
        yield client


def _package(client: Any, metadata: dict[str, str]) -> str:
    return str(
        client.create_model_package(
            ModelPackageGroupName="mlops-models",
            InferenceSpecification={"Containers": [{"Image": "i"}], "SupportedContentTypes": ["text/csv"],
                                    "SupportedResponseMIMETypes": ["text/csv"]},
            CustomerMetadataProperties=metadata,
            ModelApprovalStatus="PendingManualApproval",
        )["ModelPackageArn"]
    )  # fmt: skip


def test_the_handler_approves_the_real_run_and_refuses_the_prior_only_one(
    sagemaker: Any, real_run: Run, prior_only_run: Path
) -> None:
    from mlops.governance import package
    from tests.governance.conftest import CONFIG

    handler = import_module("lambdas.retrain_set_approval.handler")
    ready = _package(sagemaker, real_run.package["CustomerMetadataProperties"])
    event = {"model_package_arn": ready, "approve": True, "reason": "better"}
    assert handler.set_approval(event, sagemaker)["status"] == "Approved"

    prior = package.prepare(prior_only_run, Path(real_run.result.lineage["data"]["location"]), CONFIG)
    refused = _package(sagemaker, registry_metadata(prior.lineage, prior.verdict.to_json()))
    with pytest.raises(handler.PackageNotReady, match="readiness failed \\(checks: beats_majority_class\\)"):
        handler.set_approval({"model_package_arn": refused, "approve": True, "reason": "better"}, sagemaker)
    described = sagemaker.describe_model_package(ModelPackageName=refused)
    assert described["ModelApprovalStatus"] == "Rejected"
    assert "beats_majority_class" in described["ApprovalDescription"]


def test_the_handler_refuses_a_package_without_lineage(sagemaker: Any) -> None:
    handler = import_module("lambdas.retrain_set_approval.handler")
    bare = _package(sagemaker, {"pipeline_execution_arn": "run"})
    with pytest.raises(handler.PackageNotReady, match="no lineage recorded"):
        handler.set_approval({"model_package_arn": bare, "approve": True, "reason": "better"}, sagemaker)
    # Rejecting needs no readiness: the loop keeps the champion whatever the challenger's metadata says.
    assert handler.set_approval({"model_package_arn": bare, "approve": False}, sagemaker)["status"] == "Rejected"


def test_approval_publishes_the_package_model_card_built_at_build_time(sagemaker: Any, real_run: Run) -> None:
    handler = import_module("lambdas.retrain_set_approval.handler")
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="artifacts")
    s3.put_object(Bucket="artifacts", Key="v1/model_card.json", Body=(real_run.folder / "model_card.json").read_bytes())
    metadata = {**real_run.package["CustomerMetadataProperties"], "model_card_uri": "s3://artifacts/v1/model_card.json"}
    arn = _package(sagemaker, metadata)
    event = {"model_package_arn": arn, "approve": True, "reason": "better"}
    result = handler.set_approval(event, sagemaker, s3)
    assert result["status"] == "Approved" and result["model_card_arn"].endswith(":model-card/mlops-models-1")
    card = sagemaker.describe_model_card(ModelCardName="mlops-models-1")
    content = json.loads(card["Content"])
    assert card["ModelCardStatus"] == "Approved" and content["intended_uses"]["risk_rating"] == "Medium"
    assert content["model_package_details"] == {**content["model_package_details"], "model_package_arn": arn,
                                                "model_approval_status": "Approved"}  # fmt: skip
    lineage = real_run.result.lineage
    assert content["additional_information"]["custom_details"]["git_commit"] == lineage["code"]["commit"]
    # A retried approval task updates the card (a new version) instead of failing on the existing name. (Called
    # directly: moto's update_model_package drops the package's metadata, which AWS keeps.)
    publisher = import_module("lambdas.shared.model_card_publisher")
    publisher.publish_model_card(sagemaker, s3, arn, metadata)
    assert sagemaker.describe_model_card(ModelCardName="mlops-models-1")["ModelCardVersion"] == 2


def test_card_names_follow_the_model_card_name_pattern() -> None:
    publisher = import_module("lambdas.shared.model_card_publisher")
    assert publisher.card_name(ARN) == "mlops-models-1"
    long = publisher.card_name(f"arn:aws:sagemaker:us-east-1:1:model-package/{'g_' * 40}/12")
    assert len(long) <= 63 and long.endswith("-12") and long[0].isalnum()
    assert publisher.publish_model_card(None, None, ARN, READY) is None  # no card recorded: nothing to publish
