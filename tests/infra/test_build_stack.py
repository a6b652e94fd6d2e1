"""BuildStack: the SageMaker Pipeline definition (steps, gate, registration), registry, MLflow and roles."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from contracts.package_metadata import PACKAGE_METADATA_KEYS
from platform_config.platform import config_sha256, load_config
from stacks.nag_review import UNSCOPED_ACTIONS


def _definition(template: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    (pipeline,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::SageMaker::Pipeline"]
    body, variables = pipeline["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"]["Fn::Sub"]
    return json.loads(body), variables


@pytest.fixture(scope="module")
def build(synthesized) -> dict[str, Any]:
    return synthesized.template("-build")


@pytest.fixture(scope="module")
def steps(build) -> dict[str, dict[str, Any]]:
    definition, _ = _definition(build)
    return {step["Name"]: step for step in definition["Steps"]}


def test_pipeline_steps_in_lifecycle_order(steps) -> None:
    assert list(steps) == ["Preprocess", "Train", "Evaluate", "Baseline", "Governance", "AccuracyAboveMinimum"]
    assert steps["Train"]["Arguments"]["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] == {
        "Get": "Steps.Preprocess.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri"
    }


def test_gate_is_accuracy_strictly_above_the_min_accuracy_parameter(build, steps) -> None:
    definition, _ = _definition(build)
    parameters = {p["Name"]: p for p in definition["Parameters"]}
    assert parameters["MinAccuracy"] == {"Name": "MinAccuracy", "Type": "Float", "DefaultValue": 0.85}
    gate = steps["AccuracyAboveMinimum"]
    (condition,) = gate["Arguments"]["Conditions"]
    assert condition["Type"] == "GreaterThan"
    assert condition["LeftValue"]["Std:JsonGet"]["Path"] == "summary.accuracy"
    assert condition["RightValue"] == {"Get": "Parameters.MinAccuracy"}
    assert [s["Name"] for s in gate["Arguments"]["IfSteps"]] == ["Register-RegisterModel"]
    (fail,) = gate["Arguments"]["ElseSteps"]
    assert fail["Type"] == "Fail" and "is not above the minimum" in json.dumps(fail["Arguments"]["ErrorMessage"])


def test_registration_is_pending_manual_approval_with_metrics_and_baseline(build, steps) -> None:
    definition, _ = _definition(build)
    (register,) = steps["AccuracyAboveMinimum"]["Arguments"]["IfSteps"]
    args = register["Arguments"]
    assert args["ModelApprovalStatus"] == {"Get": "Parameters.ModelApprovalStatus"}
    parameters = {p["Name"]: p for p in definition["Parameters"]}
    assert parameters["ModelApprovalStatus"]["DefaultValue"] == "PendingManualApproval"
    assert args["ModelPackageGroupName"] == load_config().resource_name("models")
    metrics = args["ModelMetrics"]
    assert "evaluation.json" in json.dumps(metrics["ModelQuality"]["Statistics"])
    assert "statistics.json" in json.dumps(metrics["ModelDataQuality"]["Statistics"])
    assert "constraints.json" in json.dumps(metrics["ModelDataQuality"]["Constraints"])
    container = args["InferenceSpecification"]["Containers"][0]
    assert container["Environment"]["SAGEMAKER_PROGRAM"] == "inference.py"


def test_governance_step_feeds_lineage_and_readiness_into_the_package_metadata(build, steps) -> None:
    governance = steps["Governance"]
    inputs = {i["InputName"]: i["S3Input"]["S3Uri"] for i in governance["Arguments"]["ProcessingInputs"]}
    assert inputs["model"] == {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}
    assert inputs["report"] == {"Get": "Steps.Preprocess.ProcessingOutputConfig.Outputs['report'].S3Output.S3Uri"}
    assert {"test", "evaluation", "baseline", "steplibrary"} <= set(inputs)
    arguments = governance["Arguments"]["AppSpecification"]["ContainerArguments"]
    given = dict(zip(arguments[::2], arguments[1::2], strict=True))
    # The synth's code version (fixed by the tests' context) and the effective config's digest.
    assert (given["--code-commit"], given["--code-dirty"]) == ("0" * 40, "false")
    assert given["--config-sha256"] == config_sha256(load_config())
    assert given["--data-uri"] == {"Get": "Parameters.InputDataUri"}
    (register,) = steps["AccuracyAboveMinimum"]["Arguments"]["IfSteps"]
    metadata = register["Arguments"]["CustomerMetadataProperties"]
    assert set(metadata) == {"pipeline_execution_arn", *PACKAGE_METADATA_KEYS}
    assert metadata["readiness_verdict"] == {
        "Std:JsonGet": {
            "PropertyFile": {"Get": "Steps.Governance.PropertyFiles.GovernanceMetadata"},
            "Path": "readiness_verdict",
        }
    }
    assert "Governance" in steps["AccuracyAboveMinimum"]["DependsOn"]


def test_job_role_may_list_the_raw_data_versions_and_no_more(build) -> None:
    template = Template.from_json(build)
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Action": "s3:ListBucketVersions", "Resource": Match.any_value()})]
                )
            }
        },
    )


def test_evaluate_writes_the_property_file_the_gate_reads(steps) -> None:
    (property_file,) = steps["Evaluate"]["PropertyFiles"]
    assert property_file == {
        "PropertyFileName": "EvaluationReport",
        "OutputName": "evaluation",
        "FilePath": "evaluation.json",
    }


def test_code_comes_from_cdk_assets_and_every_placeholder_is_bound(build, steps) -> None:
    definition, variables = _definition(build)
    body = json.dumps(definition)
    import re

    placeholders = set(re.findall(r"\$\{([A-Za-z]+)\}", body))
    assert placeholders <= set(variables), placeholders - set(variables)
    assert "AWS::" not in "".join(variables)
    code = next(i for i in steps["Preprocess"]["Arguments"]["ProcessingInputs"] if i["InputName"] == "code")
    assert code["S3Input"]["S3Uri"] == "s3://${AssetBucket}/${PreprocessKey}"
    assert variables["PreprocessKey"].endswith(".py")
    env = steps["Preprocess"]["Arguments"]["Environment"]
    assert env["PYTHONPATH"] == "/opt/ml/processing/input/lib/${LibraryKey}"
    hyper = steps["Train"]["Arguments"]["HyperParameters"]
    assert hyper["sagemaker_submit_directory"] == '"s3://${AssetBucket}/${TrainingSourceKey}"'


def test_jobs_encrypt_with_the_platform_key(steps) -> None:
    assert steps["Train"]["Arguments"]["OutputDataConfig"]["KmsKeyId"] == "${KeyArn}"
    assert steps["Preprocess"]["Arguments"]["ProcessingOutputConfig"]["KmsKeyId"] == "${KeyArn}"


def test_train_step_logs_to_the_managed_mlflow_server(build, steps) -> None:
    assert steps["Train"]["Arguments"]["Environment"]["MLFLOW_TRACKING_URI"] == "${MlflowArn}"
    Template.from_json(build).has_resource_properties(
        "AWS::SageMaker::MlflowTrackingServer",
        {
            "TrackingServerSize": "Small",
            "ArtifactStoreUri": Match.any_value(),
            "AutomaticModelRegistration": False,
        },
    )


def test_model_package_group_exists(build) -> None:
    Template.from_json(build).has_resource_properties(
        "AWS::SageMaker::ModelPackageGroup", {"ModelPackageGroupName": load_config().resource_name("models")}
    )


def _statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        statement
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::IAM::Policy"
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
    ]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_no_wildcard_action_and_no_all_resource_except_unscoped_actions(synthesized) -> None:
    for template in synthesized.templates.values():
        for statement in _statements(template):
            actions = _as_list(statement["Action"])
            assert "*" not in actions and not any(a.endswith(":*") for a in actions), statement
            if "*" in _as_list(statement["Resource"]):
                assert set(actions) <= UNSCOPED_ACTIONS, statement


def test_pipeline_role_may_pass_only_the_job_role_to_sagemaker(build) -> None:
    passes = [s for s in _statements(build) if "iam:PassRole" in _as_list(s["Action"])]
    (statement,) = passes
    assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
    assert statement["Resource"]["Fn::GetAtt"][0].startswith("JobRole")


def test_job_role_reads_code_objects_not_the_whole_asset_bucket(build) -> None:
    reads = [s for s in _statements(build) if _as_list(s["Action"]) == ["s3:GetObject"]]
    resources = [json.dumps(r) for s in reads for r in _as_list(s["Resource"])]
    assert resources and all("cdk-" in r and not r.endswith('/*"') for r in resources)
