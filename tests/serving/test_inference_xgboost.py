"""inference.py serves the XGBoost engine's model with the same request and response formats as scikit-learn's."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd
import pytest

from mlops.local.serving.handler import load_inference_module
from pipeline_code import evaluate, train_xgboost

pytestmark = pytest.mark.container
pytest.importorskip("xgboost", reason="the xgboost engine runs in the XGBoost image only")


@pytest.fixture(scope="module")
def inf() -> ModuleType:
    return load_inference_module()


@pytest.fixture(scope="module")
def xgb_model_dir(tmp_path_factory: pytest.TempPathFactory, default_data: pd.DataFrame) -> Path:
    root = tmp_path_factory.mktemp("xgb")
    (root / "train").mkdir()
    default_data.to_parquet(root / "train" / "part-algo-1-00000.parquet", index=False)
    train_xgboost.main(
        ["--target", "default", "--num-round", "30", "--max-depth", "3", "--nthread", "1", "--model-version", "x1"],
        {"SM_CHANNEL_TRAIN": str(root / "train"), "SM_MODEL_DIR": str(root / "model")},
    )
    return root / "model"


@pytest.fixture(scope="module")
def models(inf: ModuleType, model_v1: Path, xgb_model_dir: Path) -> dict[str, Any]:
    return {"sklearn": inf.model_fn(str(model_v1)), "xgboost": inf.model_fn(str(xgb_model_dir))}


def _run(inf: ModuleType, model: Any, body: str, ctype: str, accept: str = "application/json") -> Any:
    return inf.output_fn(inf.predict_fn(inf.input_fn(body, ctype), model), accept)


def test_the_xgboost_model_is_loaded_from_its_own_file(models: dict[str, Any]) -> None:
    loaded = models["xgboost"]
    assert loaded.meta["engine"] == "xgboost"
    assert list(loaded.pipeline.classes_) == ["No", "Yes"]
    assert loaded.model_version == "x1"


@pytest.mark.parametrize("engine", ["sklearn", "xgboost"])
def test_json_and_csv_answers_have_the_same_shape_for_both_engines(
    inf: ModuleType, models: dict[str, Any], engine: str
) -> None:
    model = models[engine]
    body, ctype = _run(
        inf, model, json.dumps({"instances": [["No", 2500, 40000], ["Yes", 10, 20000]]}), "application/json"
    )
    predictions = json.loads(body)["predictions"]
    assert ctype == "application/json"
    assert [set(p) for p in predictions] == [{"label", "probability", "model_version"}] * 2
    assert [p["label"] for p in predictions] == ["Yes", "No"]
    assert all(0.5 <= p["probability"] <= 1.0 for p in predictions)
    csv_body, csv_type = _run(
        inf, model, "student,balance,income\nNo,2500,40000\nYes,10,20000\n", "text/csv", "text/csv"
    )
    assert csv_type == "text/csv"
    assert [line.split(",")[0] for line in csv_body.strip().splitlines()] == ["Yes", "No"]


def test_missing_and_unseen_values_are_missing_for_xgboost(inf: ModuleType, models: dict[str, Any]) -> None:
    records = [
        {"student": None, "balance": 2500, "income": None},
        {"student": "Maybe", "balance": "", "income": 30000},  # an unseen category and an empty number
    ]
    body, _ = _run(inf, models["xgboost"], json.dumps({"instances": records}), "application/json")
    assert len(json.loads(body)["predictions"]) == 2


def test_malformed_requests_get_the_same_400_for_both_engines(inf: ModuleType, models: dict[str, Any]) -> None:
    messages = []
    for model in models.values():
        with pytest.raises(inf.PayloadError) as info:
            _run(inf, model, "No,lots,40000\n", "text/csv")
        messages.append((info.value.status_code, str(info.value)))
    assert messages[0] == messages[1] == (400, "row 1, column 'balance': 'lots' is not a number")


def test_evaluate_scores_the_xgboost_model_through_the_serving_loader(
    tmp_path: Path, xgb_model_dir: Path, default_data: pd.DataFrame
) -> None:
    with tarfile.open(tmp_path / "model.tar.gz", "w:gz") as tar:
        for item in xgb_model_dir.iterdir():
            tar.add(item, arcname=item.name)
    model, meta = evaluate.load_model(tmp_path)
    report = evaluate.evaluate(model, meta, default_data, "Yes", tmp_path)
    assert report["summary"]["accuracy"] > report["summary"]["majority_class_accuracy"]
    assert "auc" in report["binary_classification_metrics"]
