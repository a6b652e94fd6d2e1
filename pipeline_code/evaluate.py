"""Evaluate step: score the trained model on the holdout set and write evaluation.json.

Container contract (SageMaker Processing): the training job's model.tar.gz in /opt/ml/processing/model, the
holdout CSV in /opt/ml/processing/test, the report in /opt/ml/processing/evaluation. The report uses the SageMaker
model-quality layout (`binary_classification_metrics` or `multiclass_classification_metrics`, each metric with a
`value`) so the Model Registry shows it, plus a `summary` block the pipeline's accuracy condition reads.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score

from contracts.sentinels import NONE
from pipeline_code.common import (
    EVALUATION_FILE,
    MODEL_META_FILE,
    DataError,
    run_main,
    safe_extract,
)
from pipeline_code.experiment_tracking import log_evaluation
from pipeline_code.tables import read_table_dir

PROCESSING = Path("/opt/ml/processing")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model-dir", type=Path, default=PROCESSING / "model")
    parser.add_argument("--test-dir", type=Path, default=PROCESSING / "test")
    parser.add_argument("--output-dir", type=Path, default=PROCESSING / "evaluation")
    parser.add_argument("--positive-class", default="Yes", help="for binary precision/recall; else the rarer class")
    parser.add_argument(
        "--champion-model-uri",
        default=NONE,
        help="the serving model's model.tar.gz (s3:// or a local path), scored on the same holdout set",
    )
    return parser.parse_args(argv)


def load_model(model_dir: Path) -> tuple[Any, dict[str, Any]]:
    """The model and its metadata, unpacking SageMaker's model.tar.gz first when that is what we got.

    Loaded by the serving code (inference.model_fn), so what is evaluated is what is served, for either engine
    (scikit-learn's model.joblib or XGBoost's xgboost-model.json, as model_meta.json says).
    """
    from pipeline_code.inference import model_fn

    archive = model_dir / "model.tar.gz"
    if archive.exists() and not (model_dir / MODEL_META_FILE).exists():
        safe_extract(archive, model_dir)
    if not (model_dir / MODEL_META_FILE).exists():
        raise DataError(f"{model_dir}: {MODEL_META_FILE} not found (expected the training job's model artifact)")
    try:
        loaded = model_fn(str(model_dir))
    except (FileNotFoundError, ValueError) as exc:
        raise DataError(f"{model_dir}: {exc} (expected the training job's model artifact)") from None
    return loaded.pipeline, loaded.meta


def evaluate(
    model: Any, meta: Mapping[str, Any], test: pd.DataFrame, positive_class: str, source: Path
) -> dict[str, Any]:
    target = meta["target"]
    missing = [c for c in [*meta["features"], target] if c not in test.columns]
    if missing:
        raise DataError(f"{source}: column '{missing[0]}' the model needs is not in the holdout set")
    truth = test[target].astype(str).to_numpy()
    x = test[meta["features"]].copy()
    for column in meta["categorical_features"]:
        x[column] = x[column].astype("string").astype(object).where(x[column].notna(), np.nan)
    predicted = np.asarray(model.predict(x)).astype(str)
    classes = [str(c) for c in meta["classes"]]
    values, counts = np.unique(truth, return_counts=True)
    majority_accuracy = float(counts.max() / counts.sum())
    accuracy = float(accuracy_score(truth, predicted))
    summary = {
        "accuracy": accuracy,
        "majority_class": str(values[counts.argmax()]),
        "majority_class_accuracy": majority_accuracy,
        "rows": len(test),
        "classes": classes,
        "class_counts": {str(v): int(c) for v, c in zip(values, counts)},
    }
    if len(classes) == 2:
        positive = positive_class if positive_class in classes else str(values[counts.argmin()])
        scores = model.predict_proba(x)[:, classes.index(positive)]
        metrics = {
            "accuracy": accuracy,
            "precision": float(precision_score(truth, predicted, pos_label=positive, zero_division=0)),
            "recall": float(recall_score(truth, predicted, pos_label=positive, zero_division=0)),
            "f1": float(f1_score(truth, predicted, pos_label=positive, zero_division=0)),
            "auc": float(roc_auc_score(truth == positive, scores)) if len(values) == 2 else float("nan"),
        }
        summary["positive_class"] = positive
        section = "binary_classification_metrics"
    else:
        metrics = {
            "accuracy": accuracy,
            "weighted_f1": float(f1_score(truth, predicted, average="weighted", zero_division=0)),
        }
        section = "multiclass_classification_metrics"
    report = {
        section: {k: {"value": v, "standard_deviation": "NaN"} for k, v in metrics.items()},
        "summary": summary,
    }
    return report


def champion_on_same_holdout(uri: str, test: pd.DataFrame, args: argparse.Namespace) -> dict[str, Any]:
    """The serving model's accuracy on this run's holdout set, so challenger and champion are compared fairly.

    A champion that cannot be scored (unreadable artifact, a feature it needs is gone) is reported, not fatal: the
    comparison then falls back to the registered metrics and says so.
    """
    try:
        with tempfile.TemporaryDirectory() as scratch:
            model_dir = fetch_model(uri, Path(scratch))
            model, meta = load_model(model_dir)
            scored = evaluate(model, meta, test, args.positive_class, args.test_dir)
        return {"champion_accuracy": scored["summary"]["accuracy"], "champion_model_uri": uri}
    except (DataError, OSError, ValueError, KeyError) as exc:
        return {"champion_accuracy": None, "champion_model_uri": uri, "champion_error": f"{type(exc).__name__}: {exc}"}


def fetch_model(uri: str, scratch: Path) -> Path:
    """A model directory from an s3:// model.tar.gz (downloaded with the job's role) or a local path."""
    if uri.startswith("s3://"):
        import boto3

        bucket, _, key = uri[len("s3://") :].partition("/")
        boto3.client("s3").download_file(bucket, key, str(scratch / "model.tar.gz"))
        return scratch
    local = Path(uri)
    if local.is_file():
        shutil.copy(local, scratch / "model.tar.gz")
        return scratch
    return local


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    environ = os.environ if environ is None else environ
    args = parse_args(argv)
    model, meta = load_model(args.model_dir)
    test = read_table_dir(args.test_dir)
    report = evaluate(model, meta, test, args.positive_class, args.test_dir)
    report["summary"]["model_version"] = meta.get("model_version")
    report["summary"]["mlflow_run_id"] = meta.get("mlflow_run_id")
    if args.champion_model_uri != NONE:
        report["summary"].update(champion_on_same_holdout(args.champion_model_uri, test, args))
    holdout = {
        f"holdout_{k}": v["value"]
        for section in report.values()
        for k, v in section.items()
        if isinstance(v, dict) and "value" in v
    }
    log_evaluation(environ, meta.get("mlflow_run_id"), holdout)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / EVALUATION_FILE).write_text(json.dumps(report, indent=2))
    print(json.dumps({"evaluate": report["summary"]}), file=sys.stdout)
    return 0


if __name__ == "__main__":
    run_main(main)
