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
