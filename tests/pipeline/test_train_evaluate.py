"""train.py and evaluate.py: the model artifact contract, MLflow logging, the evaluation report."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest

from pipeline_code import evaluate, preprocess, train
from pipeline_code.common import DataError, safe_extract
from pipeline_code.tables import read_table_dir

pytestmark = pytest.mark.container


@pytest.fixture()
def split(mixed_csv: Path, tmp_path: Path) -> Path:
    preprocess.main(["--input-dir", str(mixed_csv), "--output-dir", str(tmp_path / "p"), "--target", "default"])
    return tmp_path / "p"


def _train(split: Path, model_dir: Path, env: dict[str, str] | None = None, *args: str) -> None:
    environ = {"SM_CHANNEL_TRAIN": str(split / "train"), "SM_MODEL_DIR": str(model_dir), **(env or {})}
    train.main(["--target", "default", *args], environ)


def test_model_follows_the_artifact_contract_and_handles_missing_values(split: Path, tmp_path: Path) -> None:
    _train(split, tmp_path / "model")
    meta = json.loads((tmp_path / "model" / "model_meta.json").read_text())
    assert meta["features"] == ["balance", "student", "income"]
    assert meta["numeric_features"] == ["balance", "income"] and meta["categorical_features"] == ["student"]
    assert meta["classes"] == ["No", "Yes"] and meta["engine"] == "sklearn"
    model = joblib.load(tmp_path / "model" / "model.joblib")
    rows = pd.DataFrame({"balance": [np.nan, 2000.0], "student": [np.nan, "Maybe"], "income": [1.0, np.nan]})
    assert model.predict_proba(rows).shape == (2, 2)


def test_training_logs_params_and_metrics_to_mlflow(split: Path, tmp_path: Path) -> None:
    # The images have no MLflow: the training job installs it from the step code's requirements.txt.
    mlflow = pytest.importorskip("mlflow", reason="not in the SageMaker image (installed per job)")

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    _train(split, tmp_path / "model", {"MLFLOW_TRACKING_URI": uri, "MLFLOW_EXPERIMENT_NAME": "t"}, "--C", "0.5")
    run_id = json.loads((tmp_path / "model" / "model_meta.json").read_text())["mlflow_run_id"]
    run = mlflow.MlflowClient(tracking_uri=uri).get_run(run_id)
    assert run.data.params["C"] == "0.5" and run.data.metrics["train_accuracy"] > 0.8


def test_gradient_boosting_is_selectable(split: Path, tmp_path: Path) -> None:
    _train(split, tmp_path / "model", None, "--algorithm", "gradient_boosting")
    assert json.loads((tmp_path / "model" / "model_meta.json").read_text())["algorithm"] == "gradient_boosting"


def test_evaluate_reads_the_packed_model_and_reports_in_model_quality_format(split: Path, tmp_path: Path) -> None:
    _train(split, tmp_path / "model")
    packed = tmp_path / "eval-model"
    packed.mkdir()
    with tarfile.open(packed / "model.tar.gz", "w:gz") as tar:
        for item in (tmp_path / "model").iterdir():
            tar.add(item, arcname=item.name)
    evaluate.main(["--model-dir", str(packed), "--test-dir", str(split / "test"), "--output-dir", str(tmp_path / "e")])
    report = json.loads((tmp_path / "e" / "evaluation.json").read_text())
    metrics = report["binary_classification_metrics"]
    assert set(metrics) == {"accuracy", "precision", "recall", "f1", "auc"}
    assert report["summary"]["accuracy"] == metrics["accuracy"]["value"] > 0.8
    test = read_table_dir(split / "test")
    assert report["summary"]["rows"] == len(test)
    assert report["summary"]["majority_class_accuracy"] == pytest.approx(
        test["default"].value_counts(normalize=True).max()
    )


def test_evaluate_names_a_column_missing_from_the_holdout_set(split: Path, tmp_path: Path) -> None:
    _train(split, tmp_path / "model")
    test = read_table_dir(split / "test").drop(columns=["income"])
    (tmp_path / "t").mkdir()
    test.to_csv(tmp_path / "t" / "test.csv", index=False)
    with pytest.raises(DataError, match="column 'income' the model needs"):
        evaluate.main(
            [
                "--model-dir",
                str(tmp_path / "model"),
                "--test-dir",
                str(tmp_path / "t"),
                "--output-dir",
                str(tmp_path / "e"),
            ]
        )


def test_model_archive_with_path_traversal_is_refused(tmp_path: Path) -> None:
    evil = tmp_path / "model.tar.gz"
    (tmp_path / "x").write_text("x")
    with tarfile.open(evil, "w:gz") as tar:
        tar.add(tmp_path / "x", arcname="../escaped")
    with pytest.raises(DataError, match="unsafe member"):
        safe_extract(evil, tmp_path / "out")


def test_evaluate_scores_the_champion_on_the_same_holdout_set(split: Path, tmp_path: Path) -> None:
    _train(split, tmp_path / "challenger")
    _train(split, tmp_path / "champion", None, "--C", "0.001")  # a weaker model: heavily regularised
    with tarfile.open(tmp_path / "champion.tar.gz", "w:gz") as tar:
        for item in (tmp_path / "champion").iterdir():
            tar.add(item, arcname=item.name)
    args = ["--model-dir", str(tmp_path / "challenger"), "--test-dir", str(split / "test")]
    evaluate.main(
        [*args, "--output-dir", str(tmp_path / "e"), "--champion-model-uri", str(tmp_path / "champion.tar.gz")]
    )
    summary = json.loads((tmp_path / "e" / "evaluation.json").read_text())["summary"]
    champion, _ = evaluate.load_model(tmp_path / "champion")
    test = read_table_dir(split / "test")
    expected = float((champion.predict(test[["balance", "student", "income"]]) == test["default"]).mean())
    assert summary["champion_accuracy"] == pytest.approx(expected)
    evaluate.main(
        [*args, "--output-dir", str(tmp_path / "f"), "--champion-model-uri", str(tmp_path / "missing.tar.gz")]
    )
    broken = json.loads((tmp_path / "f" / "evaluation.json").read_text())["summary"]
    assert broken["champion_accuracy"] is None and "missing" in broken["champion_error"]


def test_evaluate_writes_an_isotonic_calibration_that_reproduces_the_holdout_accuracy(
    split: Path, tmp_path: Path
) -> None:
    from drift_core.estimation import Calibration, PerformanceAccumulator
    from pipeline_code.inference import input_fn, model_fn, predict_fn

    _train(split, tmp_path / "model")
    evaluate.main(
        ["--model-dir", str(tmp_path / "model"), "--test-dir", str(split / "test"), "--output-dir", str(tmp_path / "e")]
    )
    document = json.loads((tmp_path / "e" / "calibration.json").read_text())
    assert document["method"] == "isotonic" and document["rows"] > 0
    calibration = Calibration.from_document(document)
    assert np.all(np.diff(calibration.pooled[1]) >= 0)  # isotonic: more confident is never less often right
    # The holdout's confidences as the endpoint answers them: CBPE on them gives back the holdout accuracy (an
    # isotonic fit keeps the mean of what it fits), so labels, confidences and maps line up.
    test = read_table_dir(split / "test")
    features = test.drop(columns=["default"])
    answers = predict_fn(
        input_fn(json.dumps({"instances": json.loads(features.to_json(orient="records"))}), "application/json"),
        model_fn(str(tmp_path / "model")),
    )
    estimate = PerformanceAccumulator(calibration)
    estimate.update(
        np.array([a["probability"] for a in answers]), np.array([a["label"] for a in answers], dtype=object)
    )
    report = json.loads((tmp_path / "e" / "evaluation.json").read_text())
    assert estimate.estimated_accuracy == pytest.approx(report["summary"]["accuracy"], abs=0.01)
    assert "calibration" not in report  # evaluation.json keeps the model-quality layout
