"""The SDK-built pipeline definition is offline and deterministic: same spec, same bytes."""

from __future__ import annotations

import dataclasses
import json

import pytest

from pipeline_definition.pipeline import build_definition
from pipeline_definition.spec import PipelineSpec


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
        governance_code_uri="s3://a/g.py",
        step_library_uri="s3://a/lib.zip",
        step_library_file="lib.zip",
        training_source_uri="s3://a/t.tar.gz",
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


def test_xgboost_engine_trains_on_n_instances_with_sharded_input(spec: PipelineSpec) -> None:
    xgb = dataclasses.replace(
        _with_governance(spec),
        training_engine="xgboost",
        training_instance_count=2,
        xgboost_hyperparameters=(("num_round", 50), ("max_depth", 3)),
    )
    steps = {s["Name"]: s for s in json.loads(build_definition(xgb))["Steps"]}
    train = steps["Train"]["Arguments"]
    assert train["ResourceConfig"]["InstanceCount"] == 2
    image = ".dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:3.0-5"
    assert train["AlgorithmSpecification"]["TrainingImage"].endswith(image)
    channel = {c["ChannelName"]: c for c in train["InputDataConfig"]}["train"]
    assert channel["DataSource"]["S3DataSource"]["S3DataDistributionType"] == "ShardedByS3Key"
    hyper = train["HyperParameters"]
    assert json.loads(hyper["sagemaker_program"]) == "train_xgboost.py"
    assert (hyper["num_round"], hyper["max_depth"]) == ("50", "3")
    # The model is evaluated and served in the same framework image that trained it.
    assert steps["Evaluate"]["Arguments"]["AppSpecification"]["ImageUri"].endswith(image)
    register = next(s for s in json.loads(build_definition(xgb))["Steps"] if s["Name"] == "AccuracyAboveMinimum")
    assert image in json.dumps(register)


def test_sklearn_engine_keeps_one_replicated_channel(spec: PipelineSpec) -> None:
    steps = {s["Name"]: s for s in json.loads(build_definition(_with_governance(spec)))["Steps"]}
    train = steps["Train"]["Arguments"]
    assert train["ResourceConfig"]["InstanceCount"] == 1
    assert "sagemaker-scikit-learn" in train["AlgorithmSpecification"]["TrainingImage"]
    channel = {c["ChannelName"]: c for c in train["InputDataConfig"]}["train"]
    assert channel["DataSource"]["S3DataSource"]["S3DataDistributionType"] == "FullyReplicated"
    assert json.loads(train["HyperParameters"]["sagemaker_program"]) == "train.py"


def _with_governance(spec: PipelineSpec) -> PipelineSpec:
    return spec if spec.governance_code_uri else dataclasses.replace(spec, governance_code_uri="s3://a/g.py")


def test_several_processing_instances_split_the_raw_files_and_chunk_arguments_reach_the_steps(
    spec: PipelineSpec,
) -> None:
    chunked = dataclasses.replace(
        _with_governance(spec), preprocess_chunk_rows=5000, train_shard_count=4, feature_ingest_batch_size=200
    )
    steps = {s["Name"]: s for s in json.loads(build_definition(chunked))["Steps"]}
    inputs = {i["InputName"]: i for i in steps["Preprocess"]["Arguments"]["ProcessingInputs"]}
    assert inputs["raw"]["S3Input"]["S3DataDistributionType"] == "ShardedByS3Key"
    assert inputs["steplibrary"]["S3Input"]["S3DataDistributionType"] == "FullyReplicated"
    outputs = {o["OutputName"] for o in steps["Preprocess"]["Arguments"]["ProcessingOutputConfig"]["Outputs"]}
    assert outputs == {"train", "test", "report"}
    arguments = steps["Preprocess"]["Arguments"]["AppSpecification"]["ContainerArguments"]
    for flag, value in (("--chunk-rows", "5000"), ("--train-shards", "4"), ("--feature-batch-size", "200")):
        assert arguments[arguments.index(flag) + 1] == value
    baseline = steps["Baseline"]["Arguments"]["AppSpecification"]["ContainerArguments"]
    assert baseline[baseline.index("--chunk-rows") + 1] == "5000"
    # Only Preprocess is spread over the instances; the jobs after it need the whole split or model at once.
    counts = {
        name: step["Arguments"]["ProcessingResources"]["ClusterConfig"]["InstanceCount"]
        for name, step in steps.items()
        if step["Type"] == "Processing"
    }
    assert counts == {"Preprocess": 2, "Evaluate": 1, "Baseline": 1, "Governance": 1}
    single = dataclasses.replace(chunked, processing_instance_count=1)
    steps = {s["Name"]: s for s in json.loads(build_definition(single))["Steps"]}
    inputs = {i["InputName"]: i for i in steps["Preprocess"]["Arguments"]["ProcessingInputs"]}
    assert inputs["raw"]["S3Input"]["S3DataDistributionType"] == "FullyReplicated"
