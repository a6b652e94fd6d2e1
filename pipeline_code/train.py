"""Train step: fit a scikit-learn pipeline (imputation, scaling, one-hot encoding, classifier) and log to MLflow.

Container contract (SageMaker Training, script mode): the training data in SM_CHANNEL_TRAIN, the model written to
SM_MODEL_DIR (SageMaker packs it as model.tar.gz; the serving code goes under its code/, see serving_code),
hyperparameters as `--name value` arguments. MLflow is used when MLFLOW_TRACKING_URI is set: the ARN of the
SageMaker managed tracking server in AWS, a sqlite store offline.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import joblib
import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from pipeline_code.common import (
    MODEL_FILE,
    MODEL_META_FILE,
    check_target,
    run_main,
    split_feature_types,
    training_parser,
)
from pipeline_code.experiment_tracking import log_training_run
from pipeline_code.serving_code import write_serving_code
from pipeline_code.tables import read_table_dir


def parse_args(argv: Sequence[str] | None, environ: Mapping[str, str]) -> argparse.Namespace:
    parser = training_parser(__doc__, environ)
    parser.add_argument(
        "--algorithm", choices=("logistic_regression", "gradient_boosting"), default="logistic_regression"
    )
    parser.add_argument("--C", type=float, default=1.0, help="inverse regularisation of logistic regression")
    parser.add_argument("--max-iter", type=int, default=1000)
    parser.add_argument("--learning-rate", type=float, default=0.1, help="gradient boosting only")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--model-version", default="", help="a label stored with the model (default: MLflow run id)")
    return parser.parse_args(argv)


def build_model(numeric: list[str], categorical: list[str], args: argparse.Namespace) -> Pipeline:
    transformers: list[tuple[str, Any, list[str]]] = []
    if numeric:
        transformers.append(
            (
                "numeric",
                Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]),
                numeric,
            )
        )
    if categorical:
        encode = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
        transformers.append(
            (
                "categorical",
                Pipeline([("impute", SimpleImputer(strategy="most_frequent")), ("encode", encode)]),
                categorical,
            )
        )
    if args.algorithm == "gradient_boosting":
        classifier: Any = HistGradientBoostingClassifier(learning_rate=args.learning_rate, random_state=args.seed)
    else:
        classifier = LogisticRegression(C=args.C, max_iter=args.max_iter, random_state=args.seed)
    return Pipeline([("features", ColumnTransformer(transformers)), ("classifier", classifier)])


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    environ = os.environ if environ is None else environ
    args = parse_args(argv, environ)
    frame = read_table_dir(args.train_dir)
    labels = check_target(frame, args.target, args.train_dir).astype(str)
    features = [c for c in frame.columns if c != args.target]
    numeric, categorical = split_feature_types(frame, features)
    # Categorical values are strings at serving time; train on the same representation.
    x = frame[features].copy()
    for column in categorical:
        x[column] = x[column].astype("string").astype(object).where(x[column].notna(), np.nan)
    model = build_model(numeric, categorical, args)
    folds = int(min(5, labels.value_counts().min()))
    cv_accuracy = float(np.mean(cross_val_score(model, x, labels, cv=folds))) if folds >= 2 else float("nan")
    model.fit(x, labels)
    train_accuracy = float(model.score(x, labels))

    params = {k: v for k, v in vars(args).items() if k not in ("train_dir", "model_dir", "model_version")}
    metrics = {"train_accuracy": train_accuracy, "cv_accuracy": cv_accuracy, "train_rows": float(len(frame))}
    run_id = log_training_run(environ, params, metrics)

    args.model_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, args.model_dir / MODEL_FILE)
    meta = {
        "features": features,
        "numeric_features": numeric,
        "categorical_features": categorical,
        "target": args.target,
        "classes": [str(c) for c in model.classes_],
        "engine": "sklearn",
        "algorithm": args.algorithm,
        "hyperparameters": params,
        "model_version": args.model_version or run_id or "unversioned",
        "mlflow_run_id": run_id,
        "training_metrics": metrics,
    }
    (args.model_dir / MODEL_META_FILE).write_text(json.dumps(meta, indent=2))
    # The serving code goes into model.tar.gz: an isolated endpoint has no other way to get it.
    write_serving_code(args.model_dir)
    print(json.dumps({"train": {"rows": len(frame), **metrics, "mlflow_run_id": run_id}}), file=sys.stdout)
    return 0


if __name__ == "__main__":
    run_main(main)
