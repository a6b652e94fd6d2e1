"""The Triton (FIL backend) repository built from a real XGBoost engine model, checked offline.

No Triton server runs here. What is checked: the layout one multi-model archive must hold, config.pbtxt's fields,
that the booster file is the trained model unchanged, that its feature count matches the config's input dims, and
that the encoding a client follows (feature_encoding.json) gives the same predictions as training's own encoding
when the booster is loaded with the local xgboost package.
"""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import numpy as np
import pytest

from pipeline_code import package_triton, train_xgboost
from pipeline_code.common import DataError
from pipeline_code.triton_repository import (
    RepositoryError,
    build_repository,
    check_repository,
    config_pbtxt,
    encode_record,
    feature_encoding,
    instance_kind_for,
    load_model,
    parse_config,
    write_archive,
)
from tests.pipeline.conftest import mixed_frame

pytestmark = pytest.mark.container

xgb = pytest.importorskip("xgboost", reason="the Triton repository packs the xgboost engine's model")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The XGBoost engine's SM_MODEL_DIR after a one-host training run on mixed numeric/categorical data."""
    root = tmp_path_factory.mktemp("xgb")
    (root / "train").mkdir()
    mixed_frame(rows=300).to_csv(root / "train" / "train.csv", index=False)
    environ = {"SM_CHANNEL_TRAIN": str(root / "train"), "SM_MODEL_DIR": str(root / "model")}
    assert train_xgboost.main(["--target", "default", "--num-round", "20", "--nthread", "1"], environ) == 0
    return root / "model"


def test_repository_layout_and_config(trained: Path, tmp_path: Path) -> None:
    model = build_repository(trained, tmp_path / "repo", "credit-xgb")
    assert sorted(p.relative_to(tmp_path / "repo").as_posix() for p in model.rglob("*")) == [
        "credit-xgb/1",
        "credit-xgb/1/xgboost.json",
        "credit-xgb/config.pbtxt",
        "credit-xgb/feature_encoding.json",
    ]
    # The booster is the trained file, byte for byte, under the FIL backend's default name.
    assert (model / "1" / "xgboost.json").read_bytes() == (trained / train_xgboost.XGBOOST_MODEL_FILE).read_bytes()
    text = (model / "config.pbtxt").read_text()
    fields = parse_config(text, model / "config.pbtxt")
    meta = json.loads((trained / "model_meta.json").read_text())
    assert fields == {
        "name": "credit-xgb",
        "backend": "fil",
        "model_type": "xgboost_json",
        "input_dims": [len(meta["features"])],
        "output_dims": [1],  # binary: the probability of the positive class
    }
    for line in (
        "instance_group [{ kind: KIND_CPU }]",
        "dynamic_batching {}",
        '{ key: "is_classifier" value: { string_value: "false" } }',
        '{ key: "output_class" value: { string_value: "false" } }',
        '{ key: "predict_proba" value: { string_value: "false" } }',
    ):
        assert line in text


def test_booster_feature_count_matches_the_config_dims(trained: Path, tmp_path: Path) -> None:
    build_repository(trained, tmp_path / "repo", "m")
    summary = check_repository(tmp_path / "repo")
    booster = xgb.Booster(model_file=str(tmp_path / "repo" / "m" / "1" / "xgboost.json"))
    assert booster.num_features() == summary["num_features"] == summary["input_dims"][0]


def test_the_client_encoding_reproduces_trainings_predictions(trained: Path, tmp_path: Path) -> None:
    model = build_repository(trained, tmp_path / "repo", "m")
    encoding = json.loads((model / "feature_encoding.json").read_text())
    meta = json.loads((trained / "model_meta.json").read_text())
    assert [f["name"] for f in encoding["features"]] == meta["features"]
    assert encoding["input"] == {"name": "input__0", "datatype": "FP32", "shape": [-1, len(meta["features"])]}
    assert encoding["output"]["meaning"] == f"probability of class '{meta['classes'][1]}'"
    frame = mixed_frame(rows=60, seed=7).drop(columns=["default"])
    frame.loc[0, "student"] = "Maybe"  # unseen category: NaN, as training's encoding maps it
    plan = {"features": meta["features"], "categorical": meta["categorical_features"], "levels": meta["categories"]}
    expected = train_xgboost.encode(frame, plan)
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    vectors = np.asarray([encode_record(encoding, r) for r in records], dtype=np.float32)
    np.testing.assert_array_equal(np.isnan(vectors), np.isnan(expected))
    np.testing.assert_array_equal(np.nan_to_num(vectors, nan=-1), np.nan_to_num(expected, nan=-1))
    # The booster as Triton loads it, fed the client's vectors: the training-time predictions.
    booster = xgb.Booster(model_file=str(model / "1" / "xgboost.json"))
    feature_types = ["c" if n in meta["categorical_features"] else "q" for n in meta["features"]]

    def predict(x: np.ndarray) -> np.ndarray:
        matrix = xgb.DMatrix(x, feature_names=meta["features"], feature_types=feature_types, enable_categorical=True)
        return booster.predict(matrix)

    np.testing.assert_allclose(predict(vectors), predict(expected), rtol=0, atol=0)
    assert predict(vectors).shape == (60,) and ((predict(vectors) >= 0) & (predict(vectors) <= 1)).all()


def test_archive_holds_one_model_directory_and_is_reproducible(trained: Path, tmp_path: Path) -> None:
    model = build_repository(trained, tmp_path / "repo", "m")
    first = write_archive(model, tmp_path / "a" / "model.tar.gz")
    second = write_archive(model, tmp_path / "b" / "model.tar.gz")
    assert first.read_bytes() == second.read_bytes()
    with tarfile.open(first) as tar:
        names = tar.getnames()
        assert {n.split("/")[0] for n in names} == {"m"}
        assert {"m/config.pbtxt", "m/1/xgboost.json", "m/feature_encoding.json"} <= set(names)
        tar.extractall(tmp_path / "unpacked")
    assert check_repository(tmp_path / "unpacked")["model_name"] == "m"


def test_multiclass_models_return_one_probability_per_class() -> None:
    text = config_pbtxt("m", 4, 3)
    assert parse_config(text, Path("config.pbtxt"))["output_dims"] == [3]
    assert '{ key: "predict_proba" value: { string_value: "true" } }' in text
    encoding = feature_encoding(
        {"features": ["a"], "categorical_features": [], "categories": {}, "classes": ["x", "y", "z"]}
    )
    assert encoding["output"]["shape"] == [-1, 3]


def test_gpu_instances_get_a_gpu_instance_group() -> None:
    assert instance_kind_for("ml.g5.xlarge") == "KIND_GPU" and instance_kind_for("ml.m5.large") == "KIND_CPU"
    assert "kind: KIND_GPU" in config_pbtxt("m", 3, 2, instance_kind="KIND_GPU")


def test_bad_inputs_name_the_file_or_field(trained: Path, tmp_path: Path) -> None:
    with pytest.raises(RepositoryError, match="model name"):
        config_pbtxt("bad name", 3, 2)
    sklearn_model = tmp_path / "sk"
    sklearn_model.mkdir()
    (sklearn_model / "model_meta.json").write_text(json.dumps({"engine": "sklearn"}))
    with pytest.raises(RepositoryError, match=r"model_meta.json: engine is 'sklearn'"):
        load_model(sklearn_model)
    model = build_repository(trained, tmp_path / "repo", "m")
    text = (model / "config.pbtxt").read_text()
    (model / "config.pbtxt").write_text(text.replace("dims: [ 3 ]", "dims: [ 4 ]"))
    with pytest.raises(RepositoryError, match="must agree"):
        check_repository(tmp_path / "repo")


def test_the_processing_script_packs_the_training_jobs_model_tar_gz(trained: Path, tmp_path: Path) -> None:
    inputs = tmp_path / "input"
    inputs.mkdir()
    with tarfile.open(inputs / "model.tar.gz", "w:gz") as tar:  # as SageMaker packs SM_MODEL_DIR
        for path in sorted(trained.iterdir()):
            tar.add(path, arcname=path.name)
    out = tmp_path / "triton"
    argv = ["--model-dir", str(inputs), "--output-dir", str(out), "--model-name", "xgb-abc123"]
    assert package_triton.main(argv) == 0
    assert sorted(p.name for p in out.iterdir()) == ["feature_encoding.json", "model.tar.gz"]
    with tarfile.open(out / "model.tar.gz") as tar:
        tar.extractall(tmp_path / "check")
    assert check_repository(tmp_path / "check")["model_name"] == "xgb-abc123"
    (inputs / "model.tar.gz").unlink()
    (inputs / "model_meta.json").write_text("{}")
    with pytest.raises(DataError, match="engine"):
        package_triton.main(argv)
