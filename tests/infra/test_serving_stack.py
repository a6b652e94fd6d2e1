"""ServingStack: the endpoint for the approved package, blue/green guardrails, scaling, capture, deploy path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from mlops.twin.emulators.blue_green_rules import routing_problem
from platform_config.platform import load_config
from tests.conftest import cdk_context, synth_app
from tests.lambdas.test_deploy_model_handler import CONTRACT_TEMPLATE

CONFIG = load_config()
GUARDED = ["AWS::SageMaker::Model", "AWS::SageMaker::EndpointConfig", "AWS::SageMaker::Endpoint"]


def _only(template: dict[str, Any], kind: str) -> dict[str, Any]:
    (resource,) = [r for r in template["Resources"].values() if r["Type"] == kind]
    return resource


@pytest.fixture(scope="module")
def serving(synthesized) -> dict[str, Any]:
    return synthesized.template("-serving")


def test_the_stack_resolves_the_approved_package_from_ssm_on_every_deploy(serving, synthesized) -> None:
    parameter = serving["Parameters"]["ApprovedModelPackageArn"]
    contract = CONTRACT_TEMPLATE["Parameters"]["ApprovedModelPackageArn"]  # what the deploy function's tests use
    assert (parameter["Type"], parameter["Default"]) == (contract["Type"], contract["Default"])
    assert contract["Default"] == CONFIG.approved_package_parameter
    model = _only(serving, "AWS::SageMaker::Model")["Properties"]
    assert model["Containers"] == [{"ModelPackageName": {"Ref": "ApprovedModelPackageArn"}}]
    assert serving["Outputs"]["DeployedModelPackageArn"]["Value"] == {"Ref": "ApprovedModelPackageArn"}
    # The desired-state parameter is created once with "none" by the build stack (never updated: see
    # tests/twin/test_desired_state_ownership.py).
    (creator,) = (
        Template.from_json(synthesized.template("-build")).find_resources("Custom::DesiredModelPackage").values()
    )
    create = json.loads(creator["Properties"]["Create"])
    assert (create["action"], create["parameters"]["Name"]) == ("putParameter", CONFIG.approved_package_parameter)
    assert (create["parameters"]["Value"], create["parameters"]["Overwrite"]) == ("none", False)


def test_without_an_approved_package_no_model_or_endpoint_is_created(serving) -> None:
    condition = serving["Conditions"]["HasApprovedModel"]
    assert condition == {"Fn::Not": [{"Fn::Equals": [{"Ref": "ApprovedModelPackageArn"}, "none"]}]}
    guarded = [*GUARDED, "AWS::ApplicationAutoScaling::ScalableTarget", "AWS::ApplicationAutoScaling::ScalingPolicy"]
    for kind in guarded:
        assert _only(serving, kind)["Condition"] == "HasApprovedModel", kind


@pytest.fixture(scope="module")
def two_instances(tmp_path_factory: pytest.TempPathFactory) -> Any:
    context = cdk_context()
    context["platform"] = {**context["platform"], "endpoint_min_instances": 2}
    return synth_app(tmp_path_factory.mktemp("two-instances"), context)


def _routing_problem(template: dict[str, Any]) -> str | None:
    endpoint = _only(template, "AWS::SageMaker::Endpoint")["Properties"]
    fleet = _only(template, "AWS::ApplicationAutoScaling::ScalableTarget")["Properties"]["MinCapacity"]
    routing = endpoint["DeploymentConfig"]["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    return routing_problem(routing, fleet)


def test_one_instance_shifts_all_at_once_with_a_bake_and_says_so(serving, tmp_path) -> None:
    """Issue #15 item 4: a canary on a one-instance fleet is the whole fleet (SageMaker allows at most 50%)."""
    assert CONFIG.endpoint_min_instances == 1
    assert _routing_problem(serving) is None  # the canary it replaced failed this check
    policy = _only(serving, "AWS::SageMaker::Endpoint")["Properties"]["DeploymentConfig"]["BlueGreenUpdatePolicy"]
    assert policy["TrafficRoutingConfiguration"] == {
        "Type": "ALL_AT_ONCE",
        "WaitIntervalInSeconds": CONFIG.canary_bake_seconds,
    }
    import aws_cdk as cdk

    from platform_config.platform import config_from_app_context
    from stacks.platform import add_platform

    app = cdk.App(outdir=str(tmp_path), context=cdk_context())
    platform = add_platform(app, config_from_app_context(app.node.try_get_context))
    messages = [m.entry.data for m in app.synth().get_stack_by_name(platform.serving.stack_name).messages]
    assert any("a canary needs at least 2 instances" in str(m) for m in messages), messages


def test_updates_are_blue_green_canary_with_automatic_rollback_on_alarms(two_instances) -> None:
    serving = two_instances.template("-serving")
    assert _routing_problem(serving) is None
    endpoint = _only(serving, "AWS::SageMaker::Endpoint")["Properties"]
    policy = endpoint["DeploymentConfig"]["BlueGreenUpdatePolicy"]
    assert policy["TrafficRoutingConfiguration"] == {
        "Type": "CANARY",
        "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": CONFIG.canary_percent},
        "WaitIntervalInSeconds": CONFIG.canary_bake_seconds,
    }
    assert policy["TerminationWaitInSeconds"] == CONFIG.termination_wait_seconds
    alarms = endpoint["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]
    alarm_ids = {a["AlarmName"]["Ref"] for a in alarms}
    metrics = {serving["Resources"][i]["Properties"]["MetricName"] for i in alarm_ids}
    assert metrics == {"Invocation5XXErrors", "ModelLatency"}
    # New models roll out on the instance count auto scaling has reached.
    assert endpoint["RetainAllVariantProperties"] is True


def test_data_capture_is_kms_encrypted_into_the_capture_bucket(serving) -> None:
    config = _only(serving, "AWS::SageMaker::EndpointConfig")["Properties"]
    capture = config["DataCaptureConfig"]
    assert capture["EnableCapture"] is True and capture["InitialSamplingPercentage"] == CONFIG.data_capture_percent
    assert capture["CaptureOptions"] == [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}]
    assert "DataCapture" in json.dumps(capture["DestinationS3Uri"]) and "KmsKeyId" in capture
    assert "KmsKeyId" in config
    (variant,) = config["ProductionVariants"]
    assert (variant["InstanceType"], variant["InitialInstanceCount"]) == (
        CONFIG.endpoint_instance_type,
        CONFIG.endpoint_min_instances,
    )


def test_auto_scaling_tracks_invocations_per_instance_within_config_bounds(serving) -> None:
    target = _only(serving, "AWS::ApplicationAutoScaling::ScalableTarget")["Properties"]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (
        CONFIG.endpoint_min_instances,
        CONFIG.endpoint_max_instances,
    )
    assert target["ResourceId"] == f"endpoint/{CONFIG.resource_name('endpoint')}/variant/AllTraffic"
    tracking = _only(serving, "AWS::ApplicationAutoScaling::ScalingPolicy")["Properties"][
        "TargetTrackingScalingPolicyConfiguration"
    ]
    assert tracking["TargetValue"] == CONFIG.invocations_per_instance_target
    assert tracking["PredefinedMetricSpecification"]["PredefinedMetricType"] == "SageMakerVariantInvocationsPerInstance"
    assert tracking["ScaleInCooldown"] == CONFIG.scale_in_cooldown_seconds


def test_approvals_and_rollbacks_reach_the_deploy_function(serving) -> None:
    template = Template.from_json(serving)
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.sagemaker"],
                "detail-type": ["SageMaker Model Package State Change"],
                "detail": {
                    "ModelPackageGroupName": [CONFIG.resource_name("models")],
                    "ModelApprovalStatus": ["Approved"],
                },
            }
        },
    )
    template.has_resource_properties(
        "AWS::Events::Rule",
        {"EventPattern": Match.object_like({"detail-type": ["CloudFormation Stack Status Change"]})},
    )
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "lambdas.deploy_model.handler.lambda_handler",
            "ReservedConcurrentExecutions": 1,
            "TracingConfig": {"Mode": "Active"},
            "Environment": {
                "Variables": Match.object_like({"APPROVED_PACKAGE_PARAMETER": CONFIG.approved_package_parameter})
            },
        },
    )
    # It may set a not-ready package back to Rejected: update rights on this group's packages only.
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Action": ["sagemaker:DescribeModelPackage", "sagemaker:UpdateModelPackage"],
                                "Resource": f"arn:aws:sagemaker:{CONFIG.region}:{CONFIG.account}:model-package/"
                                f"{CONFIG.resource_name('models')}/*",
                            }
                        )
                    ]
                )
            }
        },
    )


@pytest.fixture(scope="module")
def mode_templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    templates = {}
    for mode in ("serverless", "async", "multi_model"):
        context = cdk_context()
        context["platform"] = {**context["platform"], "serving_mode": mode}
        out: Path = tmp_path_factory.mktemp(mode)
        templates[mode] = synth_app(out, context).template("-serving")
    return templates


def test_serverless_option(mode_templates) -> None:
    template = mode_templates["serverless"]
    (variant,) = _only(template, "AWS::SageMaker::EndpointConfig")["Properties"]["ProductionVariants"]
    assert variant["ServerlessConfig"] == {
        "MemorySizeInMB": CONFIG.serverless_memory_mb,
        "MaxConcurrency": CONFIG.serverless_max_concurrency,
    }
    assert "InstanceType" not in variant
    assert not [r for r in template["Resources"].values() if r["Type"].startswith("AWS::ApplicationAutoScaling")]
    routing = _only(template, "AWS::SageMaker::Endpoint")["Properties"]["DeploymentConfig"]["BlueGreenUpdatePolicy"]
    assert routing["TrafficRoutingConfiguration"]["Type"] == "ALL_AT_ONCE"


def test_async_option(mode_templates) -> None:
    config = _only(mode_templates["async"], "AWS::SageMaker::EndpointConfig")["Properties"]
    output = config["AsyncInferenceConfig"]["OutputConfig"]
    assert "async/output" in json.dumps(output["S3OutputPath"]) and "KmsKeyId" in output
    notifications = output["NotificationConfig"]
    assert notifications["SuccessTopic"] == notifications["ErrorTopic"]
    assert (
        config["AsyncInferenceConfig"]["ClientConfig"]["MaxConcurrentInvocationsPerInstance"]
        == CONFIG.async_max_concurrent_invocations
    )


def test_batch_transform_option_scores_files_with_the_approved_package(serving) -> None:
    template = Template.from_json(serving)
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.s3"],
                "detail-type": ["Object Created"],
                "detail": {"bucket": {"name": Match.any_value()}, "object": {"key": [{"prefix": "batch/input/"}]}},
            }
        },
    )
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Environment": {
                "Variables": Match.object_like(
                    {
                        "APPROVED_PACKAGE_PARAMETER": CONFIG.approved_package_parameter,
                        "INSTANCE_TYPE": CONFIG.batch_instance_type,
                    }
                )
            }
        },
    )


def test_multi_model_option(mode_templates) -> None:
    template = mode_templates["multi_model"]
    model = _only(template, "AWS::SageMaker::Model")
    container = model["Properties"]["PrimaryContainer"]
    assert container["Mode"] == "MultiModel" and "multi-model/" in json.dumps(container["ModelDataUrl"])
    assert container["Environment"]["SAGEMAKER_PROGRAM"] == "inference.py"
    assert "Condition" not in model  # the endpoint exists before any model: versions are copied in on approval
    deploy = [
        r for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function" and "MULTI_MODEL_URL" in r["Properties"]["Environment"]["Variables"]
    ]  # fmt: skip
    assert len(deploy) == 1


def test_batch_transform_failures_land_in_an_encrypted_queue(serving) -> None:
    """Issue #14 defect 5: the batch function's asynchronous invocations have retries, a max age and an on-failure
    destination (an encrypted queue)."""
    functions = [k for k, v in serving["Resources"].items() if v["Type"] == "AWS::Lambda::Function"]
    (batch,) = [k for k in functions if k.startswith("BatchTransformFunction")]
    configs = [
        r["Properties"]
        for r in serving["Resources"].values()
        if r["Type"] == "AWS::Lambda::EventInvokeConfig" and r["Properties"]["FunctionName"] == {"Ref": batch}
    ]
    assert len(configs) == 1
    config = configs[0]
    assert config["MaximumRetryAttempts"] == 2 and config["MaximumEventAgeInSeconds"] == 6 * 3600
    queue = config["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
    assert serving["Resources"][queue]["Properties"]["KmsMasterKeyId"] == "alias/aws/sqs"


def test_every_pass_role_grant_names_the_service(synthesized) -> None:
    """Issue #14 defect 5: no role of the platform may pass a role to any service: iam:PassedToService on each."""
    for name, template in synthesized.templates.items():
        for logical, resource in template["Resources"].items():
            if resource["Type"] != "AWS::IAM::Policy":
                continue
            for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
                if "iam:PassRole" in json.dumps(statement["Action"]):
                    assert "iam:PassedToService" in statement.get("Condition", {}).get("StringEquals", {}), (
                        name,
                        logical,
                    )


def test_the_deploy_function_may_update_its_stack_only_with_the_previous_template_and_serving_types(serving) -> None:
    """Issue #15 item 7: no TemplateURL, and ResourceTypes required and limited to the endpoint's resources."""
    from stacks.serving.names import DEPLOY_RESOURCE_TYPES

    statements = [
        st
        for policy in serving["Resources"].values()
        if policy["Type"] == "AWS::IAM::Policy"
        for st in policy["Properties"]["PolicyDocument"]["Statement"]
        if "cloudformation:UpdateStack" in (st["Action"] if isinstance(st["Action"], list) else [st["Action"]])
    ]
    (statement,) = statements
    assert statement["Action"] == "cloudformation:UpdateStack"
    assert statement["Condition"] == {
        "Null": {"cloudformation:TemplateUrl": "true", "cloudformation:ResourceTypes": "false"},
        "ForAllValues:StringEquals": {"cloudformation:ResourceTypes": list(DEPLOY_RESOURCE_TYPES)},
    }
    assert not any(t.startswith("AWS::IAM::") or t.startswith("AWS::Lambda::") for t in DEPLOY_RESOURCE_TYPES)
    function = next(
        r for r in serving["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function" and "UPDATE_RESOURCE_TYPES" in json.dumps(r["Properties"])
    )  # fmt: skip
    variables = function["Properties"]["Environment"]["Variables"]
    assert variables["UPDATE_RESOURCE_TYPES"].split(",") == list(DEPLOY_RESOURCE_TYPES)
    assert variables["ENDPOINT_CONFIG_LOGICAL_ID"] in serving["Resources"]
    mismatch = [
        r for r in serving["Resources"].values()
        if r["Type"] == "AWS::CloudWatch::Alarm" and r["Properties"].get("MetricName") == "LiveConfigMismatch"
    ]  # fmt: skip
    assert len(mismatch) == 1 and mismatch[0]["Properties"]["AlarmActions"]
