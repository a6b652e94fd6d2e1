"""The drift monitor against moto (S3, SSM, SageMaker registry), on the real ISLR Default data.

The baseline is written by the pipeline's own baseline step (pipeline_code/baseline.py); captured traffic is
written in SageMaker's data-capture format by the offline endpoint's own record writer
(mlops/local/serving/capture.py); the metrics are the EMF records the function prints, parsed back.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from importlib import import_module
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pandas as pd
import pytest
from moto import mock_aws

from mlops.local.serving.capture import _Event, to_record
from pipeline_code import baseline as baseline_step

REGION = "us-east-1"
CAPTURE_BUCKET = "mlops-capture-test"
ARTIFACT_BUCKET = "mlops-artifacts-test"
PARAMETER = "/mlops/serving/approved-model-package-arn"
ENDPOINT = "mlops-endpoint"
NAMESPACE = "mlops/drift"
SERVICE = "drift_monitor"
NOW = datetime(2026, 11, 27, 12, 30, tzinfo=UTC)
# k of the test: the seed's example drift, applicant income +40%, moves the mean by ~1.0 baseline sigma.
K = 0.5
INCOME_SHIFT = 0.40


@pytest.fixture(scope="module")
def frame(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    from mlops.local.sample_data import load_dataset

    return load_dataset("ISLR", "Default")


@pytest.fixture(scope="module")
def baseline_dir(frame: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    train = tmp_path_factory.mktemp("train")
    frame.to_csv(train / "train.csv", index=False)
    out = tmp_path_factory.mktemp("baseline")
    assert baseline_step.main(["--train-dir", str(train), "--output-dir", str(out), "--target", "default"]) == 0
    return out


@pytest.fixture()
def handler(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", SERVICE)  # as PythonHandler sets it: part of the dimensions
    module = import_module("lambdas.drift_monitor.handler")
    module._baselines.clear()
    return module


@pytest.fixture()
def settings(handler: Any) -> Any:
    return handler.Settings(
        endpoint_name=ENDPOINT,
        variant_name="AllTraffic",
        capture_bucket=CAPTURE_BUCKET,
        capture_prefix="capture",
        marker_prefix="drift-monitor/processed",
        approved_package_parameter=PARAMETER,
        namespace=NAMESPACE,
        sigma=K,
        psi_threshold=0.2,
        lookback_hours=24,
        min_rows=100,
        monitor_baseline_uri=f"s3://{ARTIFACT_BUCKET}/monitoring-baseline",
        ground_truth_prefix="ground-truth",
    )


@pytest.fixture()
def aws(handler: Any) -> Iterator[Any]:
    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        clients = handler.Clients(
            s3=boto3.client("s3", region_name=REGION),
            ssm=boto3.client("ssm", region_name=REGION),
            sagemaker=boto3.client("sagemaker", region_name=REGION),
        )
        for bucket in (CAPTURE_BUCKET, ARTIFACT_BUCKET):
            clients.s3.create_bucket(Bucket=bucket)
        clients.ssm.put_parameter(Name=PARAMETER, Value="none", Type="String")
        clients.sagemaker.create_model_package_group(ModelPackageGroupName="mlops-models")
        yield clients


def approve(aws: Any, baseline_dir: Path | None, prefix: str = "pipelines/run-1/baseline") -> str:
    """Register an approved package whose data-quality metrics point at the baseline (uploaded if given)."""
    if baseline_dir is not None:
        for name in ("statistics.json", "constraints.json"):
            aws.s3.put_object(Bucket=ARTIFACT_BUCKET, Key=f"{prefix}/{name}", Body=(baseline_dir / name).read_bytes())
    metrics = {
        "ModelDataQuality": {
            kind: {"ContentType": "application/json", "S3Uri": f"s3://{ARTIFACT_BUCKET}/{prefix}/{name}"}
            for kind, name in (("Statistics", "statistics.json"), ("Constraints", "constraints.json"))
        }
    }
    spec = {"Containers": [{"Image": "i"}], "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": []}
    arn = aws.sagemaker.create_model_package(
        ModelPackageGroupName="mlops-models",
        InferenceSpecification=spec,
        ModelApprovalStatus="Approved",
        ModelMetrics=metrics,
    )["ModelPackageArn"]
    aws.ssm.put_parameter(Name=PARAMETER, Value=arn, Type="String", Overwrite=True)
    return str(arn)


def capture_lines(rows: pd.DataFrame) -> list[str]:
    """One captured invocation per row: CSV request in the model's feature order, JSON response."""
    lines = []
    for row in rows.itertuples(index=False):
        body = f"{row.student},{row.balance},{row.income}".encode()
        response = json.dumps({"predictions": [{"label": row.default, "probability": 0.9, "model_version": "1"}]})
        event = _Event(body, "text/csv", response.encode(), "application/json", str(uuid.uuid4()), NOW)
        lines.append(json.dumps(to_record(event), separators=(",", ":")))
    return lines


def put_capture(aws: Any, lines: list[str], minute: int = 0, hour: datetime = NOW) -> str:
    key = f"capture/{ENDPOINT}/AllTraffic/{hour:%Y/%m/%d/%H}/{minute:02d}-00-000-{uuid.uuid4()}.jsonl"
    aws.s3.put_object(Bucket=CAPTURE_BUCKET, Key=key, Body=("\n".join(lines) + "\n").encode())
    return key


def emf(out: str) -> list[dict[str, Any]]:
    """The EMF records printed by the function: (name, dimensions, value) as plain dicts."""
    records = []
    for line in out.splitlines():
        if not line.startswith('{"_aws"'):
            continue
        doc = json.loads(line)
        (directive,) = doc["_aws"]["CloudWatchMetrics"]
        (metric,) = directive["Metrics"]
        (dimensions,) = directive["Dimensions"]
        records.append(
            {
                "namespace": directive["Namespace"],
                "name": metric["Name"],
                "unit": metric["Unit"],
                "dimensions": {d: doc[d] for d in dimensions},
                "value": doc[metric["Name"]][0] if isinstance(doc[metric["Name"]], list) else doc[metric["Name"]],
            }
        )
    return records


def by_feature(records: list[dict[str, Any]], name: str) -> dict[str, float]:
    return {r["dimensions"]["Feature"]: r["value"] for r in records if r["name"] == name}


def single(records: list[dict[str, Any]], name: str) -> float:
    (value,) = [r["value"] for r in records if r["name"] == name]
    return float(value)


def sample(frame: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    return frame.sample(n=n, random_state=seed).reset_index(drop=True)


def test_a_normal_window_stays_below_k_for_every_feature(handler, aws, settings, frame, baseline_dir, capsys) -> None:
    package = approve(aws, baseline_dir)
    put_capture(aws, capture_lines(sample(frame, 1000, 1)), minute=0)
    put_capture(aws, capture_lines(sample(frame, 1000, 2)), minute=5)
    result = handler.run(aws, settings, triggered_by_object=False, now=NOW)
    kinds = result.pop("drift_kinds")
    assert result == {
        "status": "analyzed",
        "package": package,
        "objects": 2,
        "records": 2000,
        "malformed": 0,
        "skipped": {},
        "rows": 2000,
        "drifted_features": [],
        "unparseable": {},
        "estimated_accuracy": None,  # this baseline holds no calibration
        "multivariate_ratio": pytest.approx(1.0, abs=0.15),
    }
    assert kinds["detected"] == [] and kinds["multivariate_drift"] is False
    records = emf(capsys.readouterr().out)
    assert {r["namespace"] for r in records} == {NAMESPACE}
    for r in records:
        assert r["dimensions"]["EndpointName"] == ENDPOINT and r["dimensions"]["service"] == SERVICE
    sigma = by_feature(records, "MeanShiftSigma")
    assert set(sigma) == {"balance", "income"}  # student is categorical: no mean
    assert max(sigma.values()) < K
    assert set(by_feature(records, "PSI")) == {"student", "balance", "income"}
    assert max(by_feature(records, "PSI").values()) < settings.psi_threshold
    assert set(by_feature(records, "KS")) == {"balance", "income"}
    assert (single(records, "RowsAnalyzed"), single(records, "CaptureObjectsProcessed")) == (2000, 2)
    assert (single(records, "MalformedRecords"), single(records, "DriftedFeatures")) == (0, 0)
    # Predicted labels (here: the true ones) against the training labels' priors.
    assert single(records, "LabelShiftLinf") < 0.02
    assert single(records, "MultivariateDriftRatio") == pytest.approx(result["multivariate_ratio"])
    assert single(records, "MultivariateReconstructionError") > 0
    assert not [r for r in records if r["name"].startswith("EstimatedAccuracy")]


def test_calibrated_probabilities_give_the_estimated_accuracy(
    handler, aws, settings, frame, baseline_dir, tmp_path, capsys
) -> None:
    # The baseline with the evaluate step's calibration: the model's 0.9 means right 80% of the time ("No") or
    # 60% ("Yes"; per predicted label).
    calibrated = tmp_path / "baseline"
    shutil.copytree(baseline_dir, calibrated)
    statistics = json.loads((calibrated / "statistics.json").read_text())
    statistics["mlops_drift"]["calibration"] = {
        "method": "isotonic",
        "pooled": {"x": [0.5, 1.0], "y": [0.5, 0.9]},
        "per_label": {"No": {"x": [0.9], "y": [0.8]}, "Yes": {"x": [0.9], "y": [0.6]}},
    }
    (calibrated / "statistics.json").write_text(json.dumps(statistics))
    approve(aws, calibrated)
    rows = sample(frame, 1000, 4)
    put_capture(aws, capture_lines(rows))
    result = handler.run(aws, settings, triggered_by_object=False, now=NOW)
    share_yes = float((rows["default"] == "Yes").mean())
    expected = 0.8 * (1 - share_yes) + 0.6 * share_yes
    assert result["estimated_accuracy"] == pytest.approx(expected)
    records = emf(capsys.readouterr().out)
    assert single(records, "EstimatedAccuracy") == pytest.approx(expected)
    n_yes = round(share_yes * 1000)
    stderr = np.sqrt((1000 - n_yes) * 0.8 * 0.2 + n_yes * 0.6 * 0.4) / 1000
    assert single(records, "EstimatedAccuracyStdErr") == pytest.approx(stderr)


def test_income_up_40_percent_crosses_k_only_for_income(handler, aws, settings, frame, baseline_dir, capsys) -> None:
    approve(aws, baseline_dir)
    drifted = sample(frame, 2000, 3)
    drifted["income"] = drifted["income"] * (1 + INCOME_SHIFT)
    put_capture(aws, capture_lines(drifted))
    result = handler.run(aws, settings, triggered_by_object=True, now=NOW)
    assert result["status"] == "analyzed" and "income" in result["drifted_features"]
    records = emf(capsys.readouterr().out)
    sigma = by_feature(records, "MeanShiftSigma")
    base_income = frame["income"]
    expected = INCOME_SHIFT * base_income.mean() / base_income.std()  # ~1.0 sigma
    assert sigma["income"] > K and sigma["income"] == pytest.approx(expected, rel=0.1)
    assert sigma["balance"] < K
    assert by_feature(records, "PSI")["student"] < settings.psi_threshold  # the categorical feature is calm
    assert by_feature(records, "PSI")["income"] > settings.psi_threshold
    assert {"balance", "student"}.isdisjoint(result["drifted_features"])


def test_malformed_records_are_counted_and_skipped(handler, aws, settings, frame, baseline_dir, capsys) -> None:
    approve(aws, baseline_dir)
    good = capture_lines(sample(frame, 300, 4))
    width = json.loads(good[0])
    width["captureData"]["endpointInput"]["data"] = "No,1.0"  # two values for three features
    base64 = json.loads(good[1])
    base64["captureData"]["endpointInput"]["encoding"] = "BASE64"
    unpaired = json.loads(good[2])
    unpaired["captureData"]["endpointOutput"]["data"] = '{"predictions": []}'
    bad = ["{not json", '{"eventVersion": "0"}', "[1, 2]", *(json.dumps(r) for r in (width, base64, unpaired))]
    put_capture(aws, good[3:] + bad)
    result = handler.run(aws, settings, triggered_by_object=False, now=NOW)
    assert (result["status"], result["records"], result["malformed"], result["rows"]) == ("analyzed", 303, 6, 297)
    assert sum(result["skipped"].values()) == 6 and result["skipped"]["not a JSON line"] == 1
    records = emf(capsys.readouterr().out)
    assert single(records, "MalformedRecords") == 6 and single(records, "RowsAnalyzed") == 297


def test_an_unparseable_number_is_counted_by_the_drift_core_not_as_a_malformed_record(
    handler, aws, settings, frame, baseline_dir
) -> None:
    approve(aws, baseline_dir)
    lines = capture_lines(sample(frame, 200, 5))
    record = json.loads(lines[0])
    record["captureData"]["endpointInput"]["data"] = "No,n/a,1000"
    put_capture(aws, [json.dumps(record), *lines[1:]])
    result = handler.run(aws, settings, triggered_by_object=False, now=NOW)
    assert (result["malformed"], result["rows"], result["unparseable"]) == (0, 200, {"balance": 1})


def test_an_empty_prefix_is_no_new_data_and_emits_nothing(handler, aws, settings, baseline_dir, capsys) -> None:
    package = approve(aws, baseline_dir)
    assert handler.run(aws, settings, triggered_by_object=False, now=NOW) == {
        "status": "no_new_data",
        "package": package,
    }
    assert emf(capsys.readouterr().out) == []


def test_nothing_approved_yet_is_no_model(handler, aws, settings, capsys) -> None:
    assert handler.run(aws, settings, triggered_by_object=False, now=NOW) == {"status": "no_model"}
    assert emf(capsys.readouterr().out) == []


@pytest.mark.parametrize("case", ["files_missing", "no_model_metrics"])
def test_a_missing_baseline_is_reported_and_nothing_is_claimed(
    handler, aws, settings, frame, case: str, capsys
) -> None:
    if case == "files_missing":
        approve(aws, None)  # metrics point at files that do not exist
    else:
        spec = {"Containers": [{"Image": "i"}], "SupportedContentTypes": [], "SupportedResponseMIMETypes": []}
        arn = aws.sagemaker.create_model_package(
            ModelPackageGroupName="mlops-models", InferenceSpecification=spec, ModelApprovalStatus="Approved"
        )["ModelPackageArn"]
        aws.ssm.put_parameter(Name=PARAMETER, Value=arn, Type="String", Overwrite=True)
    put_capture(aws, capture_lines(sample(frame, 200, 6)))
    result = handler.run(aws, settings, triggered_by_object=False, now=NOW)
    assert result["status"] == "baseline_missing"
    assert ("NoSuchKey" if case == "files_missing" else "ModelDataQuality") in result["reason"]
    records = emf(capsys.readouterr().out)
    assert [(r["name"], r["value"]) for r in records] == [("BaselineMissing", 1.0)]
    markers = aws.s3.list_objects_v2(Bucket=CAPTURE_BUCKET, Prefix="drift-monitor/").get("KeyCount")
    assert markers == 0  # the files wait for a baseline


def test_a_retry_does_not_count_a_file_twice(handler, aws, settings, frame, baseline_dir, capsys) -> None:
    approve(aws, baseline_dir)
    first = put_capture(aws, capture_lines(sample(frame, 500, 7)))
    assert handler.run(aws, settings, triggered_by_object=False, now=NOW)["objects"] == 1
    assert handler.run(aws, settings, triggered_by_object=False, now=NOW)["status"] == "no_new_data"
    put_capture(aws, capture_lines(sample(frame, 400, 8)), minute=10)
    again = handler.run(aws, settings, triggered_by_object=False, now=NOW)
    assert (again["objects"], again["rows"]) == (1, 400)
    marker = aws.s3.get_object(Bucket=CAPTURE_BUCKET, Key=f"drift-monitor/processed/{first}")
    assert json.loads(marker["Body"].read())["rows"] == 500


def test_a_file_claimed_by_a_concurrent_run_is_left_to_it(handler, aws, settings, frame, baseline_dir) -> None:
    approve(aws, baseline_dir)
    keys = [put_capture(aws, capture_lines(sample(frame, 200, s)), minute=s) for s in (1, 2)]
    # Another run claimed the first file between this run's listing and its claim.
    real_claim = handler.claim

    def racing_claim(aws_, settings_, key, marker):  # type: ignore[no-untyped-def]
        if key == keys[0]:
            real_claim(aws_, settings_, key, marker)
        return real_claim(aws_, settings_, key, marker)

    handler.claim = racing_claim
    try:
        result = handler.run(aws, settings, triggered_by_object=False, now=NOW)
    finally:
        handler.claim = real_claim
    assert (result["objects"], result["rows"]) == (1, 200)


def test_an_object_event_with_few_new_rows_defers_to_the_next_run(handler, aws, settings, frame, baseline_dir) -> None:
    approve(aws, baseline_dir)
    put_capture(aws, capture_lines(sample(frame, 10, 9)))
    assert handler.run(aws, settings, triggered_by_object=True, now=NOW)["status"] == "deferred"
    # The scheduled run takes whatever there is.
    assert handler.run(aws, settings, triggered_by_object=False, now=NOW)["rows"] == 10


def test_files_older_than_the_lookback_are_not_read(handler, aws, settings, frame, baseline_dir) -> None:
    approve(aws, baseline_dir)
    put_capture(aws, capture_lines(sample(frame, 200, 10)), hour=NOW - timedelta(hours=30))
    assert handler.run(aws, settings, triggered_by_object=False, now=NOW)["status"] == "no_new_data"


def test_the_baseline_is_published_where_model_monitor_reads_it(handler, aws, settings, baseline_dir) -> None:
    package = approve(aws, baseline_dir)
    handler.run(aws, settings, triggered_by_object=False, now=NOW)
    for name in ("statistics.json", "constraints.json"):
        published = aws.s3.get_object(Bucket=ARTIFACT_BUCKET, Key=f"monitoring-baseline/{name}")
        assert published["Body"].read() == (baseline_dir / name).read_bytes()
        assert published["Metadata"] == {"model-package-arn": package}


def test_the_entry_point_reads_its_settings_from_the_environment(
    handler, aws, settings, frame, baseline_dir, monkeypatch
) -> None:
    approve(aws, baseline_dir)
    put_capture(aws, capture_lines(sample(frame, 150, 11)))
    monkeypatch.setattr(handler, "Clients", lambda: aws)  # what lambda_handler uses
    env = {
        "ENDPOINT_NAME": ENDPOINT,
        "VARIANT_NAME": "AllTraffic",
        "CAPTURE_BUCKET": CAPTURE_BUCKET,
        "CAPTURE_PREFIX": "capture",
        "MARKER_PREFIX": "drift-monitor/processed",
        "APPROVED_PACKAGE_PARAMETER": PARAMETER,
        "POWERTOOLS_METRICS_NAMESPACE": NAMESPACE,
        "DRIFT_SIGMA": "3.0",
        "PSI_THRESHOLD": "0.2",
        "LOOKBACK_HOURS": str(24 * 365 * 10),  # the test's files are dated NOW, the entry point uses the clock
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    event = {"source": "aws.s3", "detail-type": "Object Created", "detail": {"object": {"key": "capture/x"}}}
    result = handler.lambda_handler(event, _Context())
    assert (result["status"], result["rows"]) == ("analyzed", 150)


def put_ground_truth(aws: Any, labels: dict[str, str], hour: datetime = NOW) -> None:
    lines = [
        json.dumps({"groundTruthData": {"data": label, "encoding": "CSV"}, "eventMetadata": {"eventId": event_id}})
        for event_id, label in labels.items()
    ]
    key = f"ground-truth/{hour:%Y/%m/%d/%H}/{uuid.uuid4()}.jsonl"
    aws.s3.put_object(Bucket=CAPTURE_BUCKET, Key=key, Body="\n".join(lines).encode())


def test_ground_truth_joined_with_captured_predictions_gives_accuracy(
    handler, aws, settings, frame, baseline_dir, capsys
) -> None:
    approve(aws, baseline_dir)
    lines = capture_lines(sample(frame, 400, 12))  # predictions: the data set's labels
    put_capture(aws, lines)
    assert "ground_truth" not in handler.run(aws, settings, triggered_by_object=False, now=NOW)
    events = [json.loads(line) for line in lines]
    truth = {}
    for i, record in enumerate(events[:300]):
        predicted = json.loads(record["captureData"]["endpointOutput"]["data"])["predictions"][0]["label"]
        wrong = {"Yes": "No", "No": "Yes"}[predicted]
        truth[record["eventMetadata"]["eventId"]] = wrong if i % 4 == 0 else predicted  # 75% right
    truth["never-captured"] = "No"
    put_ground_truth(aws, truth)
    capsys.readouterr()
    result = handler.run(aws, settings, triggered_by_object=False, now=NOW + timedelta(minutes=30))
    assert result["status"] == "no_new_data"
    assert result["ground_truth"] == {"records": 301, "matched": 300, "unmatched": 1, "accuracy": 0.75}
    records = emf(capsys.readouterr().out)
    assert single(records, "Accuracy") == 0.75
    assert (single(records, "GroundTruthMatched"), single(records, "GroundTruthUnmatched")) == (300, 1)
    # Counted once: a later run finds no new ground truth.
    assert "ground_truth" not in handler.run(aws, settings, triggered_by_object=False, now=NOW + timedelta(hours=1))


def test_numbers_in_capture_match_the_data(frame) -> None:
    # Guards the traffic writer above: the CSV request carries the data set's own values.
    line = json.loads(capture_lines(frame.head(1))[0])
    student, balance, income = line["captureData"]["endpointInput"]["data"].split(",")
    assert (student, float(balance), float(income)) == (
        frame.loc[0, "student"],
        pytest.approx(float(frame.loc[0, "balance"])),
        pytest.approx(float(frame.loc[0, "income"])),
    )
    assert np.isfinite(float(income))


class _Context:
    function_name = "drift"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:111111111111:function:drift"
    aws_request_id = "test"


def test_the_baseline_is_the_one_of_the_model_the_endpoint_serves(handler, aws, settings, baseline_dir) -> None:
    """Issue #15 item 3: after a rollback the desired state may name a package that never served; the endpoint's
    live model says which package's baseline the captured requests belong to."""
    served = approve(aws, baseline_dir, prefix="pipelines/run-1/baseline")
    never_served = approve(aws, None, prefix="pipelines/run-2/baseline")  # desired now; no baseline files at all
    aws.sagemaker.create_model(
        ModelName="Model-1",
        ExecutionRoleArn="arn:aws:iam::111111111111:role/m",
        Containers=[{"ModelPackageName": served}],
    )
    variant = {
        "VariantName": "AllTraffic",
        "ModelName": "Model-1",
        "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large",
    }
    aws.sagemaker.create_endpoint_config(EndpointConfigName="EndpointConfig-1", ProductionVariants=[variant])
    aws.sagemaker.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName="EndpointConfig-1")
    assert aws.ssm.get_parameter(Name=PARAMETER)["Parameter"]["Value"] == never_served
    assert handler.served_package(aws, settings) == served
    result = handler.run(aws, settings, triggered_by_object=False, now=NOW)
    assert result["status"] != "baseline_missing"  # the desired package's (missing) baseline was not used
