"""The package metadata fits SageMaker's CustomerMetadataProperties rules (issue #14, defect 2), on both sides."""

from __future__ import annotations

import json
from importlib import import_module
from typing import Any

import boto3
from moto import mock_aws

from contracts.metadata_codec import decode_list, decode_mapping, decode_text
from contracts.package_metadata import PACKAGE_METADATA_KEYS
from pipeline_code import governance
from pipeline_code.lineage_fields import missing_fields
from tests.governance.conftest import CONFIG, Run

# A lineage as the governance step sees it when the data is unversioned and the commit unknown: incomplete, with
# list-valued fields and hyperparameters whose text has every character JSON brings.
INCOMPLETE = {
    "code": {"commit": "unknown", "dirty": False},
    "config": {"sha256": "c" * 64},
    "data": {"location": "s3://raw/credit data, 2024/*.csv", "rows": 10000},
    "training": {
        "mlflow_run_id": "r" * 32,
        "engine": "sklearn",
        "algorithm": "logistic_regression",
        "hyperparameters": {"C": 1.0, "class_weight": None, "penalty": "l2", "solver": "lbfgs (default)"},
    },
    "evaluation": {"metrics": {"accuracy": 0.97}, "majority_class_accuracy": 0.9665},
    "baseline": {"location": "s3://artifacts/baseline", "sha256": {}},
}


def test_register_accepts_the_metadata_of_an_incomplete_lineage() -> None:
    """What the governance step's metadata.json holds is what the Register step registers, unchecked in between.

    Before the encoding, lineage_missing and readiness_failed were comma-joined (with `|` inside) and the
    hyperparameters JSON: moto stored them, CreateModelPackage in AWS answers ValidationException. The suite's and
    the twin's enforcement of the service model (mlops/aws_rules/service_model.py) is what makes that fail offline.
    """
    verdict = {"ready": False, "failed": ["lineage", "baseline_present"]}
    metadata = governance.package_metadata(INCOMPLETE, verdict, {"lineage_uri": "s3://artifacts/run 1/lineage.json"})
    assert set(metadata) == set(PACKAGE_METADATA_KEYS)
    with mock_aws():
        sagemaker = boto3.client("sagemaker", region_name=CONFIG.region)
        sagemaker.create_model_package_group(ModelPackageGroupName="models")
        arn = sagemaker.create_model_package(
            ModelPackageGroupName="models",
            InferenceSpecification={
                "Containers": [{"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/sklearn:1"}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
            CustomerMetadataProperties=metadata,
        )["ModelPackageArn"]
        stored = sagemaker.describe_model_package(ModelPackageName=arn)["CustomerMetadataProperties"]
    # Every reader decodes what was written.
    assert decode_list(stored["lineage_missing"]) == missing_fields(INCOMPLETE)
    assert "data.content_sha256|data.s3_version_id" in decode_list(stored["lineage_missing"])
    assert decode_list(stored["readiness_failed"]) == ["lineage", "baseline_present"]
    assert decode_mapping(stored["hyperparameters"]) == {
        "C": "1.0", "class_weight": "None", "penalty": "l2", "solver": "lbfgs (default)"
    }  # fmt: skip
    assert decode_text(stored["data_location"]) == "s3://raw/credit data, 2024/*.csv"
    assert decode_text(stored["lineage_uri"]) == "s3://artifacts/run 1/lineage.json"
    assert decode_text(stored["data_s3_version_id"]) is None  # unknown: "none", never an empty value
    gate = import_module("lambdas.shared.readiness_gate")
    refusal = gate.refusal(arn, stored)
    assert "lineage incomplete (missing: code.commit, data.content_sha256|data.s3_version_id" in refusal
    assert "readiness failed (checks: lineage, baseline_present)" in refusal


def test_the_local_pipeline_registers_what_the_register_step_registers(real_run: Run) -> None:
    """The same CreateModelPackage metadata as the SageMaker pipeline's Register step: the governance step's
    metadata.json for this run's lineage and verdict, every PACKAGE_METADATA_KEYS entry and no other."""
    stored: dict[str, Any] = real_run.package["CustomerMetadataProperties"]
    lineage = json.loads((real_run.folder / "lineage.json").read_text())
    readiness = json.loads((real_run.folder / "readiness.json").read_text())
    where = {
        "lineage_uri": str(real_run.folder / "lineage.json"),
        "model_card_uri": str(real_run.folder / "model_card.json"),
    }
    assert stored == governance.package_metadata(lineage, readiness, where)
    assert decode_mapping(stored["hyperparameters"])["C"] == str(lineage["training"]["hyperparameters"]["C"])
