"""The SDK-built pipeline definition is offline and deterministic: same spec, same bytes."""

from __future__ import annotations

import dataclasses
import json

import pytest

from pipeline_code.definition import PipelineSpec, build_definition


@pytest.fixture(scope="module")
def spec() -> PipelineSpec:
    return PipelineSpec(
        pipeline_name="p",
        region="eu-west-1",
        role_arn="arn:aws:iam::111111111111:role/job",
        raw_data_uri="s3://raw/raw/",
        artifact_uri="s3://artifacts/pipelines",
        preprocess_code_uri="s3://a/p.py",
        evaluate_code_uri="s3://a/e.py",
        baseline_code_uri="s3://a/b.py",
        step_library_uri="s3://a/lib.zip",
        step_library_file="lib.zip",
        training_source_uri="s3://a/t.tar.gz",
        inference_source_uri="s3://a/i.tar.gz",
        model_package_group="g",
        target="default",
        features=("a", "b"),
        feature_group_name="fg",
        mlflow_tracking_arn="arn:aws:sagemaker:eu-west-1:111111111111:mlflow-tracking-server/m",
        min_accuracy=0.9,
        approval_status="Approved",
        framework_version="1.2-1",
        processing_instance_type="ml.m5.xlarge",
        processing_instance_count=2,
        training_instance_type="ml.m5.2xlarge",
        training_instance_count=1,
        inference_instance_type="ml.m5.large",
        holdout_fraction=0.25,
        seed=7,
        kms_key_arn="arn:aws:kms:eu-west-1:1:key/k",
    )


def test_same_spec_same_bytes(spec: PipelineSpec) -> None:
    assert build_definition(spec) == build_definition(spec)


def test_spec_values_reach_the_definition(spec: PipelineSpec) -> None:
    definition = json.loads(build_definition(spec))
    steps = {s["Name"]: s for s in definition["Steps"]}
    cluster = steps["Preprocess"]["Arguments"]["ProcessingResources"]["ClusterConfig"]
    assert (cluster["InstanceType"], cluster["InstanceCount"]) == ("ml.m5.xlarge", 2)
    assert steps["Train"]["Arguments"]["ResourceConfig"]["InstanceType"] == "ml.m5.2xlarge"
    # The image comes from the SDK's region table, not a hand-kept map.
    assert ".dkr.ecr.eu-west-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3" in json.dumps(steps["Train"])
    assert {p["Name"]: p["DefaultValue"] for p in definition["Parameters"]}["MinAccuracy"] == 0.9
    arguments = steps["Preprocess"]["Arguments"]["AppSpecification"]["ContainerArguments"]
    assert arguments[arguments.index("--features") + 1] == "a,b"


def test_a_changed_threshold_changes_the_definition(spec: PipelineSpec) -> None:
    assert build_definition(spec) != build_definition(dataclasses.replace(spec, min_accuracy=0.8))
