"""The SageMaker pipeline's governance step (pipeline_code/governance.py) on a real run's outputs.

The step reads what the pipeline's jobs wrote (model artifact, holdout set, evaluation, baseline, preprocess
report) and the input data's S3 versions (moto here), and writes the metadata the Register step puts on the
package. The approval paths read exactly that metadata (lambdas' readiness_gate).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib import import_module
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from contracts.metadata_codec import decode_list
from pipeline_code import governance
from tests.governance.conftest import Run

BUCKET = "raw-data"


@pytest.fixture()
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def _versioned(s3: Any) -> None:
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})


def _run_step(run: Path, out: Path, data_uri: str, s3: Any, *, commit: str = "a" * 40) -> dict[str, Any]:
    args = [
        "--model-dir", str(run / "evaluate" / "model"), "--test-dir", str(run / "preprocess" / "test"),
        "--evaluation-dir", str(run / "evaluate" / "evaluation"), "--baseline-dir", str(run / "baseline"),
        "--report-dir", str(run / "preprocess" / "report"), "--output-dir", str(out / "governance"),
        "--code-commit", commit, "--code-dirty", "false", "--config-sha256", "c" * 64, "--project-name", "mlops",
        "--data-uri", data_uri, "--baseline-uri", "s3://artifacts/exec/baseline",
        "--output-uri", "s3://artifacts/exec/governance", "--model-name", "mlops-models", "--risk-rating", "medium",
        "--min-accuracy", "0.85",
    ]  # fmt: skip
    assert governance.main(args, s3=s3) == 0
    return json.loads((out / "governance" / governance.METADATA_FILE).read_text())


def test_versioned_s3_data_gives_complete_lineage_and_a_ready_package(
    real_run: Run, demo_csv: Path, tmp_path: Path, s3: Any
) -> None:
    _versioned(s3)
    version = s3.put_object(Bucket=BUCKET, Key="raw/credit.csv", Body=demo_csv.read_bytes())["VersionId"]
    metadata = _run_step(real_run.folder, tmp_path, f"s3://{BUCKET}/raw/credit.csv", s3)
    assert set(metadata) == set(governance.PACKAGE_METADATA_KEYS)
    assert all(isinstance(v, str) and 0 < len(v) <= 256 for v in metadata.values())
    assert metadata["lineage_complete"] == "true", metadata["lineage_missing"]
    assert metadata["readiness_verdict"] == "ready", metadata["readiness_failed"]
    assert metadata["data_s3_version_id"] == version
    assert metadata["data_rows"] == "10000"  # the preprocess step's report: ISLR Default has 10,000 rows
    assert metadata["model_card_uri"] == "s3://artifacts/exec/governance/model_card.json"
    card = json.loads((tmp_path / "governance" / "model_card.json").read_text())
    assert card["additional_information"]["custom_details"]["data_s3_version_id"] == version
    # The approval paths accept it.
    gate = import_module("lambdas.shared.readiness_gate")
    assert gate.refusal("arn:pkg", metadata) is None


def test_a_prefix_is_identified_by_the_digest_of_its_object_versions(
    real_run: Run, demo_csv: Path, tmp_path: Path, s3: Any
) -> None:
    _versioned(s3)
    for key in ("raw/part-1.csv", "raw/part-2.csv", "raw-other/x.csv"):
        s3.put_object(Bucket=BUCKET, Key=key, Body=demo_csv.read_bytes())
    first = _run_step(real_run.folder, tmp_path / "1", f"s3://{BUCKET}/raw", s3)["data_s3_version_id"]
    lineage = json.loads((tmp_path / "1" / "governance" / "lineage.json").read_text())
    assert sorted(lineage["data"]["s3_objects"]) == ["raw/part-1.csv", "raw/part-2.csv"]
    assert first.startswith("manifest-sha256:")
    s3.put_object(Bucket=BUCKET, Key="raw/part-2.csv", Body=b"changed")
    assert _run_step(real_run.folder, tmp_path / "2", f"s3://{BUCKET}/raw", s3)["data_s3_version_id"] != first


def test_unversioned_data_or_an_unknown_commit_leaves_the_package_unapprovable(
    real_run: Run, demo_csv: Path, tmp_path: Path, s3: Any
) -> None:
    s3.put_object(Bucket=BUCKET, Key="raw/credit.csv", Body=demo_csv.read_bytes())
    metadata = _run_step(real_run.folder, tmp_path / "u", f"s3://{BUCKET}/raw/credit.csv", s3)
    assert metadata["lineage_complete"] == "false"
    assert "data.content_sha256|data.s3_version_id" in decode_list(metadata["lineage_missing"])
    assert metadata["readiness_verdict"] == "not_ready" and "lineage" in decode_list(metadata["readiness_failed"])
    gate = import_module("lambdas.shared.readiness_gate")
    assert "missing: data.content_sha256|data.s3_version_id" in gate.refusal("arn:pkg", metadata)
    _versioned(s3)
    s3.put_object(Bucket=BUCKET, Key="raw/credit.csv", Body=demo_csv.read_bytes())
    metadata = _run_step(real_run.folder, tmp_path / "c", f"s3://{BUCKET}/raw/credit.csv", s3, commit="unknown")
    assert metadata["lineage_missing"] == "code.commit"
    assert "lineage incomplete (missing: code.commit)" in gate.refusal("arn:pkg", metadata)


def test_a_model_that_only_learned_the_prior_is_not_ready(
    prior_only_run: Path, demo_csv: Path, tmp_path: Path, s3: Any
) -> None:
    _versioned(s3)
    s3.put_object(Bucket=BUCKET, Key="raw/credit.csv", Body=demo_csv.read_bytes())
    metadata = _run_step(prior_only_run, tmp_path, f"s3://{BUCKET}/raw/credit.csv", s3)
    assert metadata["lineage_complete"] == "true"
    assert metadata["readiness_verdict"] == "not_ready"
    assert metadata["readiness_failed"] == "beats_majority_class"
    readiness = json.loads((tmp_path / "governance" / "readiness.json").read_text())
    assert "imbalanced classes" in next(c["reason"] for c in readiness["checks"] if not c["passed"])


def test_rows_read_sums_the_reports_of_every_processing_instance(tmp_path: Path) -> None:
    assert governance.rows_read(tmp_path) is None
    (tmp_path / "preprocess-algo-1.json").write_text(json.dumps({"rows_read": 600}))
    (tmp_path / "preprocess-algo-2.json").write_text(json.dumps({"rows_read": 400}))
    assert governance.rows_read(tmp_path) == 1000
    (tmp_path / "preprocess-algo-3.json").write_text("{}")  # a report without the count: unknown, not a guess
    assert governance.rows_read(tmp_path) is None
