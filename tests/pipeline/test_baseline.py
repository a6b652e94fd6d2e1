"""baseline.py: the training data's monitoring baseline in SageMaker Model Monitor format, via the drift core."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import drift_core
from pipeline_code import baseline, preprocess

pytestmark = pytest.mark.container


def test_baseline_writes_model_monitor_files_that_the_drift_core_reads_back(mixed_csv: Path, tmp_path: Path) -> None:
    preprocess.main(["--input-dir", str(mixed_csv), "--output-dir", str(tmp_path / "p"), "--target", "default"])
    baseline.main(
        [
            "--train-dir",
            str(tmp_path / "p" / "train"),
            "--output-dir",
            str(tmp_path / "b"),
            "--target",
            "default",
            "--sigma",
            "2.5",
        ]
    )
    statistics = json.loads((tmp_path / "b" / "statistics.json").read_text())
    constraints = json.loads((tmp_path / "b" / "constraints.json").read_text())
    features = {f["name"]: f for f in statistics["features"]}
    assert {"balance", "income", "student"} <= set(features)
    assert features["balance"]["inferred_type"] == "Fractional" and "numerical_statistics" in features["balance"]
    assert features["student"]["inferred_type"] == "String" and "string_statistics" in features["student"]
    assert "monitoring_config" in constraints
    loaded = drift_core.read_baseline(tmp_path / "b")
    assert loaded.thresholds.sigma == 2.5
    assert loaded.target_name == "default"
    assert loaded.target.counts == {"No": 240, "Yes": 80}  # class priors for label shift


def _baseline_with_calibration(mixed_csv: Path, tmp_path: Path, document: str) -> Path:
    preprocess.main(["--input-dir", str(mixed_csv), "--output-dir", str(tmp_path / "p"), "--target", "default"])
    (tmp_path / "e").mkdir()
    (tmp_path / "e" / "calibration.json").write_text(document)
    train_dir, out = str(tmp_path / "p" / "train"), str(tmp_path / "b")
    baseline.main(
        ["--train-dir", train_dir, "--output-dir", out, "--target", "default", "--calibration-dir", str(tmp_path / "e")]
    )
    return tmp_path / "b"


def test_baseline_stores_the_calibration_and_the_pca_beside_the_statistics(mixed_csv: Path, tmp_path: Path) -> None:
    document = {"method": "isotonic", "rows": 80, "pooled": {"x": [0.5, 0.9], "y": [0.55, 0.95]}, "per_label": {}}
    folder = _baseline_with_calibration(mixed_csv, tmp_path, json.dumps(document))
    statistics = json.loads((folder / "statistics.json").read_text())
    assert statistics["mlops_drift"]["calibration"]["pooled"] == document["pooled"]
    loaded = drift_core.read_baseline(folder)
    assert loaded.calibration is not None and loaded.calibration.rows == 80
    assert loaded.multivariate is not None and loaded.multivariate.features == ["balance", "income"]
    assert loaded.multivariate.error_mean is not None and loaded.multivariate.error_mean > 0


def test_a_malformed_calibration_names_the_file(mixed_csv: Path, tmp_path: Path) -> None:
    from pipeline_code.common import DataError

    with pytest.raises(DataError, match=r"calibration\.json.*calibration\.pooled"):
        _baseline_with_calibration(mixed_csv, tmp_path, json.dumps({"method": "isotonic", "pooled": {"x": []}}))
