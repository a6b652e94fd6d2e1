"""The XGBoost engine through the whole app: config keys, the synthesized pipeline, and the image grants."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from platform_config.platform import ConfigError, load_config
from tests.conftest import Synthesized, cdk_context, synth_app

XGBOOST = {"training_engine": "xgboost", "training_instance_count": "2", "train_shard_count": "4"}


def test_engine_keys_have_defaults_and_are_validated() -> None:
    config = load_config()
    assert (config.training_engine, config.xgboost_framework_version) == ("sklearn", "3.0-5")
    assert config.xgboost_hyperparameters == {
        "num_round": 50,
        "max_depth": 3,
        "eta": 0.1,
        "min_child_weight": 1.0,
        "subsample": 1.0,
    }
    assert load_config(overrides=XGBOOST).training_instance_count == 2
    with pytest.raises(ConfigError, match="'training_engine'"):
        load_config(overrides={"training_engine": "lightgbm"})
    with pytest.raises(ConfigError, match=r"'training_instance_count'.*xgboost"):
        load_config(overrides={"training_instance_count": "2", "train_shard_count": "2"})
    with pytest.raises(ConfigError, match="'xgboost_eta'"):
        load_config(overrides={"xgboost_eta": "0"})


@pytest.fixture(scope="module")
def synthesized_xgboost(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synth_app(tmp_path_factory.mktemp("cdk.out"), {**cdk_context(), **XGBOOST})


def _pulls(template: dict[str, Any]) -> str:
    return json.dumps(
        [r for r in template["Resources"].values() if r["Type"] == "AWS::IAM::Policy"],
    )


@pytest.mark.slow
def test_synthesized_pipeline_trains_on_two_sharded_instances(synthesized_xgboost: Synthesized) -> None:
    build = synthesized_xgboost.template("-build")
    (pipeline,) = [r for r in build["Resources"].values() if r["Type"] == "AWS::SageMaker::Pipeline"]
    body, _ = pipeline["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"]["Fn::Sub"]
    steps = {s["Name"]: s for s in json.loads(body)["Steps"]}
    train = steps["Train"]["Arguments"]
    assert train["ResourceConfig"]["InstanceCount"] == 2
    assert "sagemaker-xgboost:3.0-5" in train["AlgorithmSpecification"]["TrainingImage"]
    (channel,) = train["InputDataConfig"]
    assert channel["DataSource"]["S3DataSource"]["S3DataDistributionType"] == "ShardedByS3Key"
    assert "sagemaker-xgboost:3.0-5" in steps["Evaluate"]["Arguments"]["AppSpecification"]["ImageUri"]
    # The job role may pull the XGBoost image (train, evaluate); so may the serving model's role.
    assert "repository/sagemaker-xgboost" in _pulls(build)
    assert "repository/sagemaker-xgboost" in _pulls(synthesized_xgboost.template("-serving"))


def test_training_archive_ships_the_xgboost_entry_point() -> None:
    import tarfile

    from stacks.constructs import step_code

    archive = Path(step_code.BUILD_DIR) / "training_source.tar.gz"
    if not archive.exists():
        pytest.skip("no synth has run in this checkout yet")
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert "train_xgboost.py" in names and "pipeline_code/tables.py" in names
