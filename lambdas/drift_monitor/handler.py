"""Drift monitor: captured endpoint traffic against the deployed model's baseline, as CloudWatch metrics (EMF).

Triggers: a schedule (every `drift_check_rate_minutes`) and S3 "Object Created" events of new capture files
(EventBridge). Either way a run sweeps the capture files of the last LOOKBACK_HOURS that no earlier run has
counted, oldest first (at most MAX_OBJECTS), so a missed or throttled event is caught by the next run.

Baseline: the package ARN in the approved-package SSM parameter -> its ModelMetrics.ModelDataQuality
Statistics/Constraints S3 URIs -> drift_core.read_baseline. Cached per package in the container. When Model
Monitor is on, the same two files are copied to MONITOR_BASELINE_URI, the fixed location its job definition
reads, so Model Monitor also judges traffic against the model that is deployed now.

Triton (SERVING_MODE "triton"): requests are KServe v2 tensors of the *encoded* features. The encoding is the
approved package's own: its customer metadata `triton_model_data_uri` (PackageTriton's archive, in the pipeline's
output) -> `feature_encoding.json` next to that archive (the step writes both). Read and cached with the baseline,
so rows are decoded with the encoding of the model the baseline belongs to; a package without a readable encoding
is reported like a missing baseline (drift cannot be measured).

Processed-object tracking (so a retry or a concurrent run never counts a file twice): a marker object per
capture file under MARKER_PREFIX in the capture bucket, written with `If-None-Match: *` (an S3 conditional
write: exactly one writer can create it). A run reads its files first, then claims each by writing its marker,
and folds into its window only the files whose claim succeeded; metrics are emitted after the claims. A crash
before the claims leaves the files for the next run; a crash between claims and emission loses that window's
metrics (at most once, never twice). Markers share the capture data's lifecycle (the bucket's expiration).

Accuracy: ground-truth files (GROUND_TRUTH_PREFIX in the capture bucket, SageMaker's format, tracked by markers
the same way) are joined by eventId with the predictions each capture file's marker records; drift_core gives the
accuracy of the joined pairs (metric Accuracy, alarmed below A_min). Ground truth whose prediction is not (yet)
in a marker of the lookback window counts as GroundTruthUnmatched.

Estimated accuracy and multivariate drift: the responses' probabilities, with the calibration stored in the
baseline, give the CBPE estimate of accuracy (EstimatedAccuracy, EstimatedAccuracyStdErr) long before ground truth
arrives; the baseline's PCA gives the reconstruction error of the captured rows (MultivariateReconstructionError,
MultivariateDriftRatio against the training rows'). The summary names the drift kinds drift_core found.

Outcomes (the return value, also logged): no_model (nothing approved yet), baseline_missing (metric
BaselineMissing, nothing claimed), no_new_data, deferred (an object-triggered run with fewer than MIN_ROWS
new rows: a window that small is noise; the next run takes them), analyzed; plus a `ground_truth` summary when
new ground truth was joined.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from botocore.exceptions import ClientError

import drift_core
from contracts import environment as env_names
from contracts import events as ev
from contracts import serving as modes
from contracts.metrics import BASELINE_MISSING, ENDPOINT_NAME, FEATURE
from contracts.package_metadata import TRITON_MODEL_DATA_URI as TRITON_METADATA_KEY
from contracts.sentinels import NONE as NO_MODEL
from lambdas.drift_monitor.capture_records import PROBABILITY, CaptureBatch
from lambdas.drift_monitor.drift_metrics import Metric, quality_metrics, run_metrics
from lambdas.drift_monitor.ground_truth import GroundTruth, join
from lambdas.drift_monitor.triton_records import EncodingError, FeatureEncoding
from lambdas.shared.clients import Clients, container_cache
from lambdas.shared.handler_input import at_cold_start, number_setting, require_object_event
from lambdas.shared.served_package import live_endpoint

logger = Logger()
PREDICTION = "__prediction__"  # the predicted-label column of a ground-truth window (not a model feature)
STATISTICS, CONSTRAINTS = "statistics.json", "constraints.json"
ENCODING_FILE = "feature_encoding.json"  # next to the archive in PackageTriton's output


@dataclass(frozen=True)
class Settings:
    endpoint_name: str
    variant_name: str
    capture_bucket: str
    capture_prefix: str
    marker_prefix: str
    approved_package_parameter: str
    namespace: str
    sigma: float
    psi_threshold: float
    lookback_hours: int = 24
    min_rows: int = 100
    max_objects: int = 200
    monitor_baseline_uri: str = ""
    ground_truth_prefix: str = ""
    serving_mode: str = ""

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        e = dict(os.environ if env is None else env)
        return cls(
            endpoint_name=e[env_names.ENDPOINT_NAME],
            variant_name=e[env_names.VARIANT_NAME],
            capture_bucket=e[env_names.CAPTURE_BUCKET],
            capture_prefix=e[env_names.CAPTURE_PREFIX],
            marker_prefix=e[env_names.MARKER_PREFIX],
            approved_package_parameter=e[env_names.APPROVED_PACKAGE_PARAMETER],
            namespace=e[env_names.POWERTOOLS_METRICS_NAMESPACE],
            sigma=number_setting(e, env_names.DRIFT_SIGMA, 0.0, low_inclusive=False),
            psi_threshold=number_setting(e, env_names.PSI_THRESHOLD, 0.0, low_inclusive=False),
            lookback_hours=int(number_setting(e, env_names.LOOKBACK_HOURS, 1, default="24", integer=True)),
            min_rows=int(number_setting(e, env_names.MIN_ROWS, 1, default="100", integer=True)),
            max_objects=int(number_setting(e, env_names.MAX_OBJECTS, 1, default="200", integer=True)),
            monitor_baseline_uri=e.get(env_names.MONITOR_BASELINE_URI, ""),
            ground_truth_prefix=e.get(env_names.GROUND_TRUTH_PREFIX, ""),
            serving_mode=e.get(env_names.SERVING_MODE, ""),
        )

    @property
    def capture_root(self) -> str:
        """Where SageMaker writes this endpoint variant's capture files: <prefix>/<endpoint>/<variant>/yyyy/..."""
        return f"{self.capture_prefix}/{self.endpoint_name}/{self.variant_name}/"

    def marker_key(self, capture_key: str) -> str:
        return f"{self.marker_prefix}/{capture_key}"


class BaselineUnavailable(RuntimeError):
    """The approved package has no readable baseline; the message says what is missing."""


# Per container, like the clients: a package's baseline and encoding never change.
_baselines: dict[str, drift_core.Baseline] = container_cache()
_encodings: dict[str, FeatureEncoding] = container_cache()


def run(aws: Clients, settings: Settings, *, triggered_by_object: bool, now: datetime | None = None) -> dict[str, Any]:
    package = served_package(aws, settings)
    if package == NO_MODEL:
        return {"status": "no_model"}
    try:
        baseline = load_baseline(aws, package, settings)
        encoding = load_encoding(aws, package, baseline) if settings.serving_mode == modes.TRITON else None
    except BaselineUnavailable as exc:
        emit(settings, [Metric(BASELINE_MISSING, 1.0, "Count")])
        logger.error("baseline missing", extra={"package": package, "error": str(exc)})
        return {"status": "baseline_missing", "package": package, "reason": str(exc)}
    now = now or datetime.now(UTC)
    summary = drift(
        aws, settings, baseline, package, triggered_by_object=triggered_by_object, now=now, encoding=encoding
    )
    quality = model_quality(aws, settings, baseline, now) if settings.ground_truth_prefix else None
    if quality is not None:
        summary["ground_truth"] = quality
    return summary


def served_package(aws: Clients, settings: Settings) -> str:
    """The package whose baseline the captured requests are compared with: the one the endpoint serves.

    After SageMaker rolled a deployment back, the desired state can name a package that never served a request;
    the live endpoint's model says which one did (lambdas/shared/served_package.py). The desired state is the
    answer only when the endpoint does not exist yet or serves no model package (multi-model, Triton).
    """
    live = None if settings.serving_mode == modes.TRITON else live_endpoint(aws.sagemaker, settings.endpoint_name)
    if live is not None and live.package_arn:
        return live.package_arn
    return str(aws.ssm.get_parameter(Name=settings.approved_package_parameter)["Parameter"]["Value"])


def drift(
    aws: Clients,
    settings: Settings,
    baseline: drift_core.Baseline,
    package: str,
    *,
    triggered_by_object: bool,
    now: datetime,
    encoding: FeatureEncoding | None = None,
) -> dict[str, Any]:
    """Drift of the capture files no run has counted yet, as metrics (Triton tensors decoded with `encoding`)."""
    keys = pending_objects(aws, settings, settings.capture_root, now)
    if not keys:
        return {"status": "no_new_data", "package": package}
    features = list(baseline.features)
    numeric = frozenset(n for n, acc in baseline.features.items() if isinstance(acc, drift_core.NumericAccumulator))
    batches = {key: _read(aws, settings, key, features, numeric, encoding) for key in keys}
    rows = sum(b.rows for b in batches.values())
    if triggered_by_object and rows < settings.min_rows:
        return {"status": "deferred", "package": package, "objects": len(keys), "rows": rows}
    window = _window(baseline)
    counted = []
    for key, batch in batches.items():
        if not claim(aws, settings, key, _capture_marker(batch, package)):
            continue  # another run counted this file first
        part = _window(baseline)
        columns, unparseable = batch.columns(baseline.target_name)
        if batch.rows:
            part.update(columns, unparseable)
        window.merge(part)
        counted.append(batch)
    report = drift_core.compute_drift(baseline, window, sigma=settings.sigma, psi_threshold=settings.psi_threshold)
    result = report.to_dict()
    records = sum(b.records for b in counted)
    malformed = sum(b.malformed for b in counted)
    skipped: dict[str, int] = {}
    for batch in counted:
        for reason, count in batch.skipped.items():
            skipped[reason] = skipped.get(reason, 0) + count
    emit(settings, run_metrics(result, objects=len(counted), records=records, malformed=malformed))
    summary = {
        "status": "analyzed",
        "package": package,
        "objects": len(counted),
        "records": records,
        "malformed": malformed,
        "skipped": skipped,  # why the malformed records were skipped: reason -> count
        "rows": result["rows"],
        "drifted_features": result["drifted_features"],
        # cells that did not parse inside well-formed records (drift_core counts them against completeness)
        "unparseable": {name: f["unparseable"] for name, f in result["features"].items() if f["unparseable"]},
        "drift_kinds": result["drift_kinds"],
        "estimated_accuracy": (result["performance_estimate"] or {}).get("estimated_accuracy"),
        "multivariate_ratio": (result["multivariate"] or {}).get("ratio"),
    }
    logger.info("drift run", extra={**summary, "report": result})
    return summary


def _window(baseline: drift_core.Baseline) -> drift_core.WindowAccumulator:
    """A window of captured rows: the predicted labels sit in the target column (label shift) and pick the
    calibration map for the served probabilities (CBPE: estimated accuracy before any ground truth)."""
    return drift_core.WindowAccumulator(
        baseline, strict=False, probability_column=PROBABILITY, probability_label_column=baseline.target_name
    )


def _capture_marker(batch: CaptureBatch, package: str) -> dict[str, Any]:
    # The predictions by eventId stay with the marker: ground truth arrives later and is joined with them.
    return {
        "records": batch.records,
        "malformed": batch.malformed,
        "rows": batch.rows,
        "package": package,
        "predictions": batch.events,
    }


def model_quality(
    aws: Clients, settings: Settings, baseline: drift_core.Baseline, now: datetime
) -> dict[str, Any] | None:
    """Accuracy of new ground-truth files against the predictions recorded in the capture markers; None if there
    is no new ground truth. drift_core computes accuracy (and the true labels' shift) from the joined pairs."""
    keys = pending_objects(aws, settings, f"{settings.ground_truth_prefix}/", now)
    if not keys:
        return None
    predictions: dict[str, list[str | None]] = {}
    root = settings.marker_key(settings.capture_root)
    after = settings.marker_key(f"{settings.capture_root}{now - timedelta(hours=settings.lookback_hours):%Y/%m/%d/%H}")
    for marker in _list(aws, settings.capture_bucket, root, after):
        body = json.loads(aws.s3.get_object(Bucket=settings.capture_bucket, Key=marker)["Body"].read())
        predictions.update(body.get("predictions") or {})
    truth = GroundTruth()
    for key in keys:
        part = GroundTruth()
        body = aws.s3.get_object(Bucket=settings.capture_bucket, Key=key)["Body"].read()
        part.add_lines(body.decode("utf-8", errors="replace").splitlines())
        if claim(aws, settings, key, {"records": part.records, "malformed": part.malformed}):
            truth.labels.update(part.labels)
            truth.records += part.records
            truth.malformed += part.malformed
    joined = join(truth.labels, predictions)
    quality = None
    if joined.labels and baseline.target_name:
        window = drift_core.WindowAccumulator(baseline, prediction_column=PREDICTION, strict=False)
        window.update(
            {
                baseline.target_name: np.array(joined.labels, dtype=object),
                PREDICTION: np.array(joined.predictions, dtype=object),
            }
        )
        quality = drift_core.compute_drift(baseline, window).to_dict()["model_quality"]
    unmatched = joined.unmatched + truth.malformed
    emit(settings, quality_metrics(quality, matched=len(joined.labels), unmatched=unmatched))
    return {
        "records": truth.records,
        "matched": len(joined.labels),
        "unmatched": unmatched,
        "accuracy": quality["accuracy"] if quality else None,
    }


def load_baseline(aws: Clients, package: str, settings: Settings) -> drift_core.Baseline:
    if package in _baselines:
        return _baselines[package]
    try:
        metrics = aws.sagemaker.describe_model_package(ModelPackageName=package).get("ModelMetrics", {})
        quality = metrics["ModelDataQuality"]
        uris = {STATISTICS: quality["Statistics"]["S3Uri"], CONSTRAINTS: quality["Constraints"]["S3Uri"]}
    except KeyError as exc:
        raise BaselineUnavailable(f"model package has no ModelMetrics.ModelDataQuality ({exc})") from None
    except ClientError as exc:
        raise BaselineUnavailable(f"model package {package}: {exc.response['Error'].get('Message', exc)}") from None
    documents = {name: _get(aws, uri) for name, uri in uris.items()}
    with tempfile.TemporaryDirectory() as folder:
        for name, body in documents.items():
            (Path(folder) / name).write_bytes(body)
        try:
            baseline = drift_core.read_baseline(folder)
        except drift_core.BaselineFormatError as exc:
            raise BaselineUnavailable(str(exc).replace(folder, uris[STATISTICS].rsplit("/", 1)[0])) from None
    if settings.monitor_baseline_uri:
        _publish_for_model_monitor(aws, settings.monitor_baseline_uri, package, documents)
    _baselines[package] = baseline
    return baseline


def load_encoding(aws: Clients, package: str, baseline: drift_core.Baseline) -> FeatureEncoding:
    """serving_mode "triton": the package's feature_encoding.json (next to its Triton archive), checked against the
    baseline's features. Cached per package, like the baseline."""
    if package in _encodings:
        return _encodings[package]
    try:
        described = aws.sagemaker.describe_model_package(ModelPackageName=package)
    except ClientError as exc:
        raise BaselineUnavailable(f"model package {package}: {exc.response['Error'].get('Message', exc)}") from None
    archive = (described.get("CustomerMetadataProperties") or {}).get(TRITON_METADATA_KEY, "")
    if not archive.startswith("s3://") or "/" not in archive[len("s3://") :]:
        raise BaselineUnavailable(
            f"model package has no '{TRITON_METADATA_KEY}' (not registered in serving_mode '{modes.TRITON}'): "
            "its Triton requests cannot be decoded"
        )
    uri = f"{archive.rsplit('/', 1)[0]}/{ENCODING_FILE}"
    try:
        encoding = FeatureEncoding.from_document(json.loads(_get(aws, uri)))
    except (EncodingError, ValueError) as exc:
        raise BaselineUnavailable(f"{uri}: {exc}") from None
    missing = sorted(set(baseline.features) - set(encoding.names))
    if missing:
        raise BaselineUnavailable(f"{uri}: the baseline's features {missing} are not in the model's encoding")
    _encodings[package] = encoding
    return encoding


def _get(aws: Clients, uri: str) -> bytes:
    bucket, key = _split(uri)
    try:
        return bytes(aws.s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except ClientError as exc:
        raise BaselineUnavailable(f"{uri}: {exc.response['Error'].get('Code', 'unreadable')}") from None


def _publish_for_model_monitor(aws: Clients, root: str, package: str, documents: dict[str, bytes]) -> None:
    """Copy the baseline to the fixed URIs of Model Monitor's job definition (once per package)."""
    bucket, prefix = _split(root.rstrip("/") + "/")
    try:
        head = aws.s3.head_object(Bucket=bucket, Key=f"{prefix}{STATISTICS}")
        if head.get("Metadata", {}).get("model-package-arn") == package:
            return
    except ClientError:
        pass  # not published yet
    # Statistics last: the check above reads its metadata, so a run interrupted in between copies both again.
    for name in (CONSTRAINTS, STATISTICS):
        aws.s3.put_object(
            Bucket=bucket, Key=f"{prefix}{name}", Body=documents[name], Metadata={"model-package-arn": package}
        )


def pending_objects(aws: Clients, settings: Settings, root: str, now: datetime) -> list[str]:
    """Files under root/yyyy/mm/dd/hh/ of the lookback window without a marker, oldest first, at most max_objects."""
    start = now - timedelta(hours=settings.lookback_hours)
    after = f"{root}{start:%Y/%m/%d/%H}"
    captured = _list(aws, settings.capture_bucket, root, after)
    done = {
        key[len(settings.marker_prefix) + 1 :]
        for key in _list(aws, settings.capture_bucket, settings.marker_key(root), settings.marker_key(after))
    }
    return sorted(k for k in captured if k not in done and k.endswith(".jsonl"))[: settings.max_objects]


def _list(aws: Clients, bucket: str, prefix: str, start_after: str) -> list[str]:
    keys: list[str] = []
    for page in aws.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, StartAfter=start_after):
        keys.extend(item["Key"] for item in page.get("Contents", []))
    return keys


def _read(
    aws: Clients,
    settings: Settings,
    key: str,
    features: list[str],
    numeric: frozenset[str],
    encoding: FeatureEncoding | None = None,
) -> CaptureBatch:
    batch = CaptureBatch(features, numeric, encoding=encoding)
    body = aws.s3.get_object(Bucket=settings.capture_bucket, Key=key)["Body"].read()
    batch.add_lines(body.decode("utf-8", errors="replace").splitlines())
    return batch


def claim(aws: Clients, settings: Settings, key: str, marker: dict[str, Any]) -> bool:
    """Write the file's marker if none exists; False if another run has (S3 conditional write)."""
    try:
        aws.s3.put_object(
            Bucket=settings.capture_bucket,
            Key=settings.marker_key(key),
            Body=json.dumps(marker).encode(),
            IfNoneMatch="*",
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("PreconditionFailed", "ConditionalRequestConflict"):
            return False
        raise
    return True


def emit(settings: Settings, metrics: list[Metric]) -> None:
    """One EMF record per metric: per-feature metrics need their own `Feature` dimension value."""
    for metric in metrics:
        with single_metric(
            name=metric.name,
            unit=MetricUnit(metric.unit),
            value=metric.value,
            namespace=settings.namespace,
            default_dimensions={ENDPOINT_NAME: settings.endpoint_name},
        ) as record:
            if metric.feature is not None:
                record.add_dimension(name=FEATURE, value=metric.feature)


def _split(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise BaselineUnavailable(f"{uri!r} is not an s3:// URI")
    bucket, _, key = uri[len("s3://") :].partition("/")
    return bucket, key


def triggered_by_object(event: Any) -> bool:
    return isinstance(event, dict) and event.get(ev.SOURCE) == ev.S3


at_cold_start(Settings.from_env)


@require_object_event
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result = run(Clients(), Settings.from_env(), triggered_by_object=triggered_by_object(event))
    logger.info("outcome", extra={k: v for k, v in result.items() if k != "drifted_features"})
    return result
