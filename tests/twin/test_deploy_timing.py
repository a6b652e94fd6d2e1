"""Issue #15 items 2 and 3: the deploy function under AWS's timing (mlops/twin/emulators/deploy_timing.py).

The real handler runs behind Lambda's asynchronous retries (1 and 2 minutes apart, then the dead-letter queue);
the serving stack takes 20 minutes per blue/green update, refuses updates meanwhile, and reports its end as a
stack status event that reaches the same function. moto holds the registry, SSM, CloudWatch and the endpoint.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from importlib import import_module
from typing import Any

import boto3
import pytest
from moto import mock_aws

from lambdas.shared import clients
from mlops.twin.emulators.deploy_timing import AsyncInvoker, ServingStackModel, Timeline
from tests.lambdas.packages import READY

GROUP = "mlops-models"
PARAMETER = "/mlops/serving/approved-model-package-arn"
PENDING = "/mlops/serving/pending-model-package-arn"
ENDPOINT = "mlops-endpoint"
NAMESPACE = "mlops/deploy"
ENV = {
    "MODEL_PACKAGE_GROUP": GROUP,
    "APPROVED_PACKAGE_PARAMETER": PARAMETER,
    "SERVING_STACK_NAME": "Mlops-serving",
    "PENDING_PACKAGE_PARAMETER": PENDING,
    "ENDPOINT_NAME": ENDPOINT,
    "ENDPOINT_CONFIG_LOGICAL_ID": "EndpointConfig",
    "DEPLOY_METRICS_NAMESPACE": NAMESPACE,
}


class _Context:
    function_name = "deploy"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:111111111111:function:deploy"
    aws_request_id = "twin"


class Twin:
    def __init__(self, handler: Any) -> None:
        region = "us-east-1"
        self.ssm = boto3.client("ssm", region_name=region)
        self.sagemaker = boto3.client("sagemaker", region_name=region)
        self.cloudwatch = boto3.client("cloudwatch", region_name=region)
        self.timeline = Timeline()
        self.stack = ServingStackModel(self.timeline, self.ssm, self.sagemaker, ENV["SERVING_STACK_NAME"], PARAMETER,
                                       ENDPOINT)  # fmt: skip
        clients.inject(sagemaker=self.sagemaker, ssm=self.ssm, cloudformation=self.stack,
                       s3=boto3.client("s3", region_name=region), cloudwatch=self.cloudwatch)  # fmt: skip
        self.function = AsyncInvoker(self.timeline, lambda event: handler.lambda_handler(event, _Context()))
        self.stack.on_status = self.function.invoke  # EventBridge: stack status changes -> the function
        self.ssm.put_parameter(Name=PARAMETER, Value="none", Type="String")
        self.sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)

    def register(self) -> str:
        spec = {"Containers": [{"Image": "image"}], "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"]}  # fmt: skip
        return str(self.sagemaker.create_model_package(
            ModelPackageGroupName=GROUP, InferenceSpecification=spec, ModelApprovalStatus="Approved",
            CustomerMetadataProperties=READY)["ModelPackageArn"])  # fmt: skip

    def approve(self, arn: str, after_s: float = 0.0) -> None:
        detail = {"ModelPackageArn": arn, "ModelPackageGroupName": GROUP, "ModelApprovalStatus": "Approved"}
        event = {"detail-type": "SageMaker Model Package State Change", "source": "aws.sagemaker", "detail": detail}
        self.timeline.at(after_s, lambda: self.function.invoke(event))

    def serving(self, arn: str) -> None:
        """A package already served (the stack's earlier update)."""
        self.ssm.put_parameter(Name=PARAMETER, Value=arn, Type="String", Overwrite=True)
        self.stack.deploy_now(arn)

    def desired(self) -> str:
        return str(self.ssm.get_parameter(Name=PARAMETER)["Parameter"]["Value"])

    def live_package(self) -> str:
        config = self.sagemaker.describe_endpoint(EndpointName=ENDPOINT)["EndpointConfigName"]
        model = self.sagemaker.describe_endpoint_config(EndpointConfigName=config)["ProductionVariants"][0]["ModelName"]
        return str(self.sagemaker.describe_model(ModelName=model)["Containers"][0]["ModelPackageName"])


@pytest.fixture()
def twin(monkeypatch: pytest.MonkeyPatch) -> Iterator[Twin]:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    handler = import_module("lambdas.deploy_model.handler")
    with mock_aws():
        yield Twin(handler)


def test_an_approval_during_a_blue_green_update_is_applied_after_it(twin: Twin) -> None:
    first, second = twin.register(), twin.register()
    twin.serving(twin.register())
    twin.approve(first)
    twin.approve(second, after_s=120)  # the first update lasts 20 minutes: far beyond Lambda's retry window
    twin.timeline.run()
    assert twin.function.dead_letters == []
    assert twin.stack.resolved == second and twin.live_package() == second and twin.desired() == second


def challenger_deployed(twin: Twin, outcome: str = "succeed", refuse_next: str = "") -> tuple[str, str]:
    """A champion serves; a challenger is approved; the update ends with `outcome`. Returns (champion, challenger)."""
    champion, challenger = twin.register(), twin.register()
    twin.serving(champion)
    twin.stack.outcome, twin.stack.refuse_next = outcome, refuse_next
    twin.approve(challenger)
    twin.timeline.run()
    return champion, challenger


def test_a_refused_update_is_retried_not_skipped(twin: Twin) -> None:
    _, challenger = challenger_deployed(twin, refuse_next="Template error: a transient validation failure")
    assert twin.stack.resolved == challenger and twin.live_package() == challenger
    assert twin.desired() == challenger


def test_a_rollback_reported_as_success_is_detected_alarmed_and_the_desired_state_reset(twin: Twin) -> None:
    # SageMaker rolled back; CloudFormation says UPDATE_COMPLETE
    champion, challenger = challenger_deployed(twin, outcome="silent_rollback")
    assert twin.stack.resolved == challenger and twin.live_package() == champion  # the stack is wrong
    assert twin.desired() == champion  # ... and the desired state says what serves
    stats = twin.cloudwatch.get_metric_statistics(
        Namespace=NAMESPACE, MetricName="LiveConfigMismatch", Dimensions=[{"Name": "EndpointName", "Value": ENDPOINT}],
        StartTime="2000-01-01", EndTime="2100-01-01", Period=60, Statistics=["Maximum"])  # fmt: skip
    assert [p["Maximum"] for p in stats["Datapoints"]] == [1.0]


def test_a_rollback_cloudformation_reports_resets_the_desired_state(twin: Twin) -> None:
    champion, _ = challenger_deployed(twin, outcome="rollback")
    assert twin.stack.status == "UPDATE_ROLLBACK_COMPLETE" and twin.desired() == champion
    assert twin.function.dead_letters == []
