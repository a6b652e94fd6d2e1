"""serving_mode "triton": config rules, the synthesized Triton multi-model endpoint, its deploy path and pipeline step.

Everything here is synthesized and asserted offline; no Triton server runs (see README "Serving tree models on
Triton" for what is and is not exercised).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template

from platform_config.platform import ConfigError, load_config
from stacks.nag_review import UNSCOPED_ACTIONS
from tests.conftest import cdk_context, synth_app

TRITON = {"serving_mode": "triton", "training_engine": "xgboost"}


def _of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


def _only(template: dict[str, Any], kind: str) -> dict[str, Any]:
    (resource,) = _of_type(template, kind).values()
    return resource


@pytest.fixture(scope="module")
def synthesized_triton(tmp_path_factory: pytest.TempPathFactory) -> Any:
    context = cdk_context()
    context["platform"] = {**context["platform"], **TRITON}
    out: Path = tmp_path_factory.mktemp("triton")
    return synth_app(out, context)


@pytest.fixture(scope="module")
def triton(synthesized_triton: Any) -> dict[str, Any]:
    return synthesized_triton.template("-serving")


# -- config ------------------------------------------------------------------------------------------------------


def test_triton_needs_the_xgboost_engine_and_names_serving_mode() -> None:
    with pytest.raises(ConfigError, match=r"config key 'serving_mode': 'triton' serves XGBoost models"):
        load_config({"serving_mode": "triton"})
    config = load_config(TRITON)
    assert (config.serving_mode, config.triton_image_version) == ("triton", "25.09")


@pytest.mark.parametrize("version", ["25", "latest", "25.9.1"])
def test_triton_image_version_is_validated(version: str) -> None:
    with pytest.raises(ConfigError, match="config key 'triton_image_version'"):
        load_config({**TRITON, "triton_image_version": version})


def test_an_image_version_the_sdk_does_not_know_fails_naming_the_key() -> None:
    from stacks.constructs.triton_endpoint import triton_image_uri

    with pytest.raises(ConfigError, match="config key 'triton_image_version'"):
        triton_image_uri("us-east-1", "19.01", "ml.m5.large")


def test_the_image_comes_from_the_sdks_table_cpu_or_gpu_build() -> None:
    from stacks.constructs.triton_endpoint import triton_image_uri

    cpu = triton_image_uri("us-east-1", "25.09", "ml.m5.large")
    gpu = triton_image_uri("eu-west-1", "24.09", "ml.g5.xlarge")
    assert cpu.endswith(".amazonaws.com/sagemaker-tritonserver:25.09-py3-cpu")
    assert gpu.endswith(".dkr.ecr.eu-west-1.amazonaws.com/sagemaker-tritonserver:24.09-py3")


# -- the endpoint ----------------------------------------------------------------------------------------------------


def test_the_model_is_a_triton_multi_model_container_over_the_artifact_prefix(triton: dict[str, Any]) -> None:
    model = _only(triton, "AWS::SageMaker::Model")
    container = model["Properties"]["PrimaryContainer"]
    assert "sagemaker-tritonserver:25.09-py3-cpu" in container["Image"]
    assert container["Mode"] == "MultiModel"
    url = json.dumps(container["ModelDataUrl"])
    assert "Artifacts" in url and "/triton/" in url
    assert model["Properties"]["EnableNetworkIsolation"] is True
    assert "Condition" not in model  # the endpoint exists before any model: archives are copied in on approval


def test_endpoint_config_is_instance_backed_kms_encrypted_with_json_capture(triton: dict[str, Any]) -> None:
    config = load_config(TRITON)
    props = _only(triton, "AWS::SageMaker::EndpointConfig")["Properties"]
    (variant,) = props["ProductionVariants"]
    assert (variant["VariantName"], variant["InstanceType"], variant["InitialInstanceCount"]) == (
        "AllTraffic",
        config.endpoint_instance_type,
        config.endpoint_min_instances,
    )
    assert "KmsKeyId" in props
    capture = props["DataCaptureConfig"]
    assert capture["EnableCapture"] is True and "KmsKeyId" in capture
    assert capture["CaptureContentTypeHeader"] == {"JsonContentTypes": ["application/json"]}


def test_endpoint_rolls_back_on_alarms_and_keeps_its_scaled_instance_count(triton: dict[str, Any]) -> None:
    endpoint = _only(triton, "AWS::SageMaker::Endpoint")
    assert "Condition" not in endpoint
    props = endpoint["Properties"]
    assert props["EndpointName"] == "mlops-endpoint" and props["RetainAllVariantProperties"] is True
    policy = props["DeploymentConfig"]["BlueGreenUpdatePolicy"]
    assert policy["TrafficRoutingConfiguration"]["Type"] == "ALL_AT_ONCE"
    assert len(props["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]) == 2


def test_auto_scaling_tracks_invocations_like_realtime_and_is_unconditional(triton: dict[str, Any]) -> None:
    config = load_config(TRITON)
    target = _only(triton, "AWS::ApplicationAutoScaling::ScalableTarget")
    assert "Condition" not in target
    assert target["Properties"]["ResourceId"] == "endpoint/mlops-endpoint/variant/AllTraffic"
    assert (target["Properties"]["MinCapacity"], target["Properties"]["MaxCapacity"]) == (
        config.endpoint_min_instances,
        config.endpoint_max_instances,
    )
    policy = _only(triton, "AWS::ApplicationAutoScaling::ScalingPolicy")["Properties"]
    tracking = policy["TargetTrackingScalingPolicyConfiguration"]
    assert tracking["TargetValue"] == config.invocations_per_instance_target
    assert tracking["PredefinedMetricSpecification"]["PredefinedMetricType"] == "SageMakerVariantInvocationsPerInstance"


def _policy_statements(template: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    statements = []
    for policy in _of_type(template, "AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else actions


def test_the_triton_model_role_reads_only_its_prefix_and_pulls_only_the_triton_image(triton: dict[str, Any]) -> None:
    model = _only(triton, "AWS::SageMaker::Model")
    role_id = model["Properties"]["ExecutionRoleArn"]["Fn::GetAtt"][0]
    statements = _policy_statements(triton, role_id)
    assert statements
    for statement in statements:
        assert "*" not in _actions(statement), statement
        assert not (statement["Resource"] == "*" and _actions(statement) != ["ecr:GetAuthorizationToken"]), statement
    text = json.dumps(statements)
    assert "/triton/*" in text and "repository/sagemaker-tritonserver" in text
    assert "sagemaker-scikit-learn" not in text
    s3_reads = [s for s in statements if "s3:GetObject*" in _actions(s)]
    artifact_reads = [s for s in s3_reads if "Artifacts" in json.dumps(s["Resource"])]
    assert artifact_reads and all("/triton/*" in json.dumps(s["Resource"]) for s in artifact_reads)


def test_the_deploy_function_copies_into_the_prefix_and_records_the_live_model(triton: dict[str, Any]) -> None:
    template = Template.from_json(triton)
    template.has_resource_properties(
        "AWS::SSM::Parameter", {"Name": "/mlops/serving/triton-target-model", "Type": "String", "Value": "none"}
    )
    (function,) = [
        r for r in _of_type(triton, "AWS::Lambda::Function").values()
        if "TRITON_MODEL_URL" in r["Properties"]["Environment"]["Variables"]
    ]  # fmt: skip
    env = function["Properties"]["Environment"]["Variables"]
    live = triton["Resources"][env["TRITON_LIVE_MODEL_PARAMETER"]["Ref"]]
    assert live["Properties"]["Name"] == "/mlops/serving/triton-target-model"
    assert "/triton/" in json.dumps(env["TRITON_MODEL_URL"]) and "MULTI_MODEL_URL" not in env
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    statements = _policy_statements(triton, role_id)
    for statement in statements:
        assert "*" not in _actions(statement), statement
        # X-Ray tracing has no resource scope in IAM (the function's existing, reviewed statement).
        assert statement["Resource"] != "*" or all(a.startswith("xray:Put") for a in _actions(statement)), statement
    puts = [s for s in statements if "s3:PutObject" in _actions(s)]
    assert puts and all("/triton/*" in json.dumps(s["Resource"]) for s in puts)
    reads = [s for s in statements if "s3:GetObject*" in _actions(s)]
    assert reads and all("/pipelines/*" in json.dumps(s["Resource"]) for s in reads)
    live_writes = [s for s in statements if "ssm:PutParameter" in _actions(s)]
    assert "TritonLiveModel" in json.dumps(live_writes)


def test_the_other_modes_have_no_triton_resources(synthesized: Any) -> None:
    serving = synthesized.template("-serving")
    text = json.dumps(serving)
    assert "sagemaker-tritonserver" not in text and "TRITON_MODEL_URL" not in text
    assert "triton-target-model" not in text
    model = _only(serving, "AWS::SageMaker::Model")
    assert model["Condition"] == "HasApprovedModel" and "PrimaryContainer" not in model["Properties"]
    for kind in ("AWS::ApplicationAutoScaling::ScalableTarget", "AWS::ApplicationAutoScaling::ScalingPolicy"):
        assert _only(serving, kind)["Condition"] == "HasApprovedModel"
    capture = _only(serving, "AWS::SageMaker::EndpointConfig")["Properties"]["DataCaptureConfig"]
    assert capture["CaptureContentTypeHeader"] == {
        "CsvContentTypes": ["text/csv"],
        "JsonContentTypes": ["application/json"],
    }
    assert "PackageTriton" not in json.dumps(synthesized.template("-build"))


# -- the pipeline ----------------------------------------------------------------------------------------------------


def _definition(build: dict[str, Any]) -> dict[str, Any]:
    pipeline = _only(build, "AWS::SageMaker::Pipeline")
    body = pipeline["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"]["Fn::Sub"][0]
    return json.loads(body)


def test_the_pipeline_packages_the_model_for_triton_and_registers_where_it_is(synthesized_triton: Any) -> None:
    definition = _definition(synthesized_triton.template("-build"))
    steps = {s["Name"]: s for s in definition["Steps"]}
    package = steps["PackageTriton"]
    args = package["Arguments"]
    (model_input,) = [i for i in args["ProcessingInputs"] if i["InputName"] == "model"]
    assert model_input["S3Input"]["S3Uri"] == {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}
    assert args["AppSpecification"]["ContainerArguments"][2:] == ["--instance-kind", "KIND_CPU"]
    assert "PackageTritonKey" in json.dumps(args["ProcessingInputs"])
    gate = steps["AccuracyAboveMinimum"]
    assert "PackageTriton" in gate["DependsOn"]
    (register,) = [s for s in gate["Arguments"]["IfSteps"] if s["Type"] == "RegisterModel"]
    metadata = register["Arguments"]["CustomerMetadataProperties"]
    uri = json.dumps(metadata["triton_model_data_uri"])
    assert "Steps.PackageTriton.ProcessingOutputConfig.Outputs['triton'].S3Output.S3Uri" in uri
    assert "model.tar.gz" in uri


def test_model_monitor_schedules_are_left_out_for_the_multi_model_endpoint(synthesized_triton: Any) -> None:
    monitoring = synthesized_triton.template("-monitoring")
    assert not _of_type(monitoring, "AWS::SageMaker::MonitoringSchedule")
    (drift,) = [
        r for r in _of_type(monitoring, "AWS::Lambda::Function").values()
        if "DRIFT_SIGMA" in r["Properties"].get("Environment", {}).get("Variables", {})
    ]  # fmt: skip
    assert "MONITOR_BASELINE_URI" not in drift["Properties"]["Environment"]["Variables"]


def test_the_triton_templates_pass_cfn_lint(synthesized_triton: Any) -> None:
    from tests.infra.test_cfn_lint import test_templates_have_no_cfn_lint_errors

    test_templates_have_no_cfn_lint_errors(synthesized_triton)


def test_the_drift_function_decodes_triton_tensors_with_reads_it_already_had(synthesized_triton: Any) -> None:
    """SERVING_MODE=triton; feature_encoding.json is read next to the package's archive in the pipeline output:
    the artifact bucket is read under pipelines/* only (not the live triton/ prefix), with no wildcard action."""
    monitoring = synthesized_triton.template("-monitoring")
    (drift,) = [
        r for r in _of_type(monitoring, "AWS::Lambda::Function").values()
        if "DRIFT_SIGMA" in r["Properties"].get("Environment", {}).get("Variables", {})
    ]  # fmt: skip
    assert drift["Properties"]["Environment"]["Variables"]["SERVING_MODE"] == "triton"
    role_id = drift["Properties"]["Role"]["Fn::GetAtt"][0]
    statements = _policy_statements(monitoring, role_id)
    assert statements
    for statement in statements:
        assert all(action != "*" and not action.endswith(":*") for action in _actions(statement))
        if statement["Resource"] == "*":  # only actions IAM cannot scope (the reviewed list)
            assert set(_actions(statement)) <= UNSCOPED_ACTIONS
    artifact_reads = [
        s for s in statements if "s3:GetObject*" in _actions(s) and "Artifacts" in json.dumps(s["Resource"])
    ]
    text = json.dumps(artifact_reads)
    assert artifact_reads and "/pipelines/*" in text and "/triton/" not in text
    (describe,) = [s for s in statements if "sagemaker:DescribeModelPackage" in _actions(s)]
    assert "model-package/" in json.dumps(describe["Resource"]) and "/*" in json.dumps(describe["Resource"])
