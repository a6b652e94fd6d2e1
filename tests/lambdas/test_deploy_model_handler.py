"""The deploy function against moto (SageMaker registry, SSM, CloudFormation).

moto runs the registry, the parameter and a stack with the serving stack's parameter/output contract. It does
not re-resolve SSM-typed parameters on update (it answers "No updates are to be performed"), so these tests
check what the function asks CloudFormation to do (recorded from the real boto3 calls), and the template test
checks that the serving stack resolves the parameter.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from importlib import import_module
from typing import Any

import boto3
import pytest
from moto import mock_aws

from mlops.twin.emulators.deploy_timing import ServingStackModel, Timeline
from tests.lambdas.packages import READY

GROUP = "mlops-models"
PARAMETER = "/mlops/serving/approved-model-package-arn"
STACK = "Mlops-serving"
# The serving stack's contract with the deploy function (asserted against the synthesized template in
# tests/infra/test_serving_stack.py).
CONTRACT_TEMPLATE = {
    "Parameters": {"ApprovedModelPackageArn": {"Type": "AWS::SSM::Parameter::Value<String>", "Default": PARAMETER}},
    "Resources": {"Placeholder": {"Type": "AWS::SNS::Topic"}},
    "Outputs": {"DeployedModelPackageArn": {"Value": {"Ref": "ApprovedModelPackageArn"}}},
}


@pytest.fixture()
def handler() -> Any:
    return import_module("lambdas.deploy_model.handler")


@pytest.fixture()
def aws(handler: Any) -> Iterator[Any]:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        region = "us-east-1"
        clients = handler.Clients(
            sagemaker=boto3.client("sagemaker", region_name=region),
            ssm=boto3.client("ssm", region_name=region),
            cloudformation=boto3.client("cloudformation", region_name=region),
        )
        clients.ssm.put_parameter(Name=PARAMETER, Value="none", Type="String")
        clients.cloudformation.create_stack(StackName=STACK, TemplateBody=json.dumps(CONTRACT_TEMPLATE))
        clients.sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
        clients.updates = []

        def record(params: dict[str, Any], **_: Any) -> None:
            clients.updates.append(dict(params))

        clients.cloudformation.meta.events.register("before-parameter-build.cloudformation.UpdateStack", record)
        yield clients


def register(aws: Any, status: str, group: str = GROUP, metadata: dict[str, str] | None = READY) -> str:
    if group != GROUP:
        aws.sagemaker.create_model_package_group(ModelPackageGroupName=group)
    spec = {
        "Containers": [{"Image": "image"}],
        "SupportedContentTypes": ["text/csv"],
        "SupportedResponseMIMETypes": ["text/csv"],
    }
    extra = {"CustomerMetadataProperties": metadata} if metadata else {}
    arn = aws.sagemaker.create_model_package(
        ModelPackageGroupName=group, InferenceSpecification=spec, ModelApprovalStatus=status, **extra
    )["ModelPackageArn"]
    return str(arn)


def approval_event(arn: str) -> dict[str, Any]:
    return {
        "detail-type": "SageMaker Model Package State Change",
        "source": "aws.sagemaker",
        "detail": {"ModelPackageArn": arn, "ModelPackageGroupName": GROUP, "ModelApprovalStatus": "Approved"},
    }


def desired(aws: Any) -> str:
    return str(aws.ssm.get_parameter(Name=PARAMETER)["Parameter"]["Value"])


def test_approved_package_becomes_the_desired_one_and_the_stack_is_updated(handler: Any, aws: Any) -> None:
    arn = register(aws, "Approved")
    decision = handler.on_approval(approval_event(arn), aws, GROUP, PARAMETER, STACK)
    assert decision.action == "deploy"
    assert desired(aws) == arn
    (update,) = aws.updates
    assert update["StackName"] == STACK and update["UsePreviousTemplate"] is True
    assert update["Parameters"] == [{"ParameterKey": "ApprovedModelPackageArn", "UsePreviousValue": True}]


@pytest.mark.parametrize("status", ["PendingManualApproval", "Rejected"])
def test_a_package_that_is_not_approved_is_never_deployed(handler: Any, aws: Any, status: str) -> None:
    arn = register(aws, status)
    # Even if an event claims approval, the registry's own status decides.
    assert handler.on_approval(approval_event(arn), aws, GROUP, PARAMETER, STACK).action == "skip"
    assert desired(aws) == "none" and aws.updates == []


@pytest.mark.parametrize(
    ("metadata", "reason"),
    [
        (None, "no lineage recorded in the package metadata; no readiness verdict recorded"),
        ({**READY, "readiness_verdict": "not_ready", "readiness_failed": "beats_majority_class"},
         "readiness failed (checks: beats_majority_class)"),
        ({**READY, "lineage_complete": "false", "lineage_missing": "code.commit"},
         "lineage incomplete (missing: code.commit)"),
    ],
)  # fmt: skip
def test_a_manually_approved_package_that_is_not_ready_is_rejected_not_deployed(
    handler: Any, aws: Any, metadata: dict[str, str] | None, reason: str
) -> None:
    arn = register(aws, "Approved", metadata=metadata)
    decision = handler.on_approval(approval_event(arn), aws, GROUP, PARAMETER, STACK)
    assert decision.action == "refuse" and reason in decision.reason
    assert desired(aws) == "none" and aws.updates == []
    described = aws.sagemaker.describe_model_package(ModelPackageName=arn)
    assert described["ModelApprovalStatus"] == "Rejected"
    assert described["ApprovalDescription"].startswith("deploy refused: ")
    assert reason in described["ApprovalDescription"]


def test_a_package_of_another_group_is_not_deployed(handler: Any, aws: Any) -> None:
    arn = register(aws, "Approved", group="someone-else")
    assert handler.on_approval(approval_event(arn), aws, GROUP, PARAMETER, STACK).action == "skip"
    assert desired(aws) == "none" and aws.updates == []


def test_the_same_approval_twice_deploys_once(handler: Any, aws: Any) -> None:
    # moto does not re-resolve the SSM parameter on an update: the twin's stack model does (and takes its time).
    timeline = Timeline()
    aws.cloudformation = ServingStackModel(timeline, aws.ssm, aws.sagemaker, STACK, PARAMETER, "endpoint")
    arn = register(aws, "Approved")
    first = handler.on_approval(approval_event(arn), aws, GROUP, PARAMETER, STACK)
    timeline.run()
    second = handler.on_approval(approval_event(arn), aws, GROUP, PARAMETER, STACK)
    assert (first.action, second.action) == ("deploy", "skip")
    assert len(aws.cloudformation.updates) == 1


def test_a_malformed_event_is_rejected_with_the_field_and_changes_nothing(handler: Any, aws: Any, monkeypatch) -> None:
    monkeypatch.setattr(handler, "Clients", lambda: aws)  # what lambda_handler uses
    monkeypatch.setenv("MODEL_PACKAGE_GROUP", GROUP)
    monkeypatch.setenv("APPROVED_PACKAGE_PARAMETER", PARAMETER)
    monkeypatch.setenv("SERVING_STACK_NAME", STACK)
    event = {"detail-type": "SageMaker Model Package State Change", "detail": {"ModelPackageArn": 42}}
    result = handler.lambda_handler(event, _Context())
    assert result["action"] == "rejected" and "ModelPackageArn" in result["reason"]
    assert desired(aws) == "none" and aws.updates == []


def test_the_handler_entry_point_deploys_an_approval(handler: Any, aws: Any, monkeypatch) -> None:
    monkeypatch.setattr(handler, "Clients", lambda: aws)  # what lambda_handler uses
    monkeypatch.setenv("MODEL_PACKAGE_GROUP", GROUP)
    monkeypatch.setenv("APPROVED_PACKAGE_PARAMETER", PARAMETER)
    monkeypatch.setenv("SERVING_STACK_NAME", STACK)
    arn = register(aws, "Approved")
    assert handler.lambda_handler(approval_event(arn), _Context()) == {
        "action": "deploy",
        "package_arn": arn,
        "reason": "replacing 'none'",
    }


def test_a_rolled_back_deployment_resets_the_desired_package(handler: Any, aws: Any) -> None:
    arn = register(aws, "Approved")
    handler.on_approval(approval_event(arn), aws, GROUP, PARAMETER, STACK)
    event = {
        "detail-type": "CloudFormation Stack Status Change",
        "detail": {"status-details": {"status": "UPDATE_ROLLBACK_COMPLETE"}},
    }
    decision = handler.on_stack_status(event, aws, PARAMETER, STACK)
    # The stack still serves what its output says (here: no model yet), so that becomes the desired state again.
    assert decision.action == "reset" and desired(aws) == "none"


class _Context:
    function_name = "deploy"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:111111111111:function:deploy"
    aws_request_id = "test"


def test_multi_model_deploy_copies_the_artifact_under_the_prefix_without_a_stack_update(handler: Any, aws: Any) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="artifacts")
    s3.put_object(Bucket="artifacts", Key="models/v1/model.tar.gz", Body=b"model bytes")
    spec = {"Containers": [{"Image": "image", "ModelDataUrl": "s3://artifacts/models/v1/model.tar.gz"}],
            "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]}  # fmt: skip
    arn = aws.sagemaker.create_model_package(
        ModelPackageGroupName=GROUP,
        InferenceSpecification=spec,
        ModelApprovalStatus="Approved",
        CustomerMetadataProperties=READY,
    )["ModelPackageArn"]
    aws.s3 = s3
    decision = handler.on_approval(approval_event(arn), aws, GROUP, PARAMETER, STACK, "s3://artifacts/multi-model/")
    assert decision.action == "deploy" and "TargetModel mlops-models-1.tar.gz" in decision.reason
    assert s3.get_object(Bucket="artifacts", Key="multi-model/mlops-models-1.tar.gz")["Body"].read() == b"model bytes"
    assert desired(aws) == arn and aws.updates == []


def test_a_manual_approval_publishes_the_packages_model_card(handler: Any, aws: Any) -> None:
    aws.s3.create_bucket(Bucket="artifacts")
    card = {"model_overview": {"model_name": GROUP}, "intended_uses": {"risk_rating": "Medium"}}
    aws.s3.put_object(Bucket="artifacts", Key="pipelines/e1/governance/model_card.json", Body=json.dumps(card))
    uri = "s3://artifacts/pipelines/e1/governance/model_card.json"
    arn = register(aws, "Approved", metadata={**READY, "model_card_uri": uri})
    decision = handler.on_approval(approval_event(arn), aws, GROUP, PARAMETER, STACK)
    assert decision.action == "deploy" and "model card arn:aws:sagemaker:" in decision.reason
    published = aws.sagemaker.describe_model_card(ModelCardName=f"{GROUP}-1")
    assert published["ModelCardStatus"] == "Approved"
    content = json.loads(published["Content"])
    assert content["model_package_details"]["model_package_arn"] == arn
    assert content["intended_uses"]["risk_rating"] == "Medium"
    assert desired(aws) == arn  # and deployed as usual


def test_the_update_names_the_resource_types_the_iam_policy_allows(handler: Any, aws: Any) -> None:
    """Issue #15 item 7: the function's UpdateStack is allowed only with these ResourceTypes (see the stack)."""
    arn = register(aws, "Approved")
    types = ("AWS::SageMaker::Model", "AWS::SageMaker::EndpointConfig", "AWS::SageMaker::Endpoint")
    update = handler.StackUpdate(resource_types=types)
    handler.on_approval(approval_event(arn), aws, GROUP, PARAMETER, STACK, update=update)
    (request,) = aws.updates
    assert request["ResourceTypes"] == list(types) and request["UsePreviousTemplate"] is True
    assert "TemplateBody" not in request and "TemplateURL" not in request
