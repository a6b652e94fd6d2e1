"""`mlops pipeline run` with the XGBoost engine: two local training workers, then the same gate and registry."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest

from mlops.cli.main import main


@pytest.mark.slow
def test_xgboost_engine_on_two_workers_passes_the_gate_and_registers(
    demo_csv: Path, in_tmp_cwd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    platform = {"training_engine": "xgboost", "training_instance_count": 2, "train_shard_count": 4}
    Path("cdk.json").write_text(json.dumps({"context": {"platform": platform}}))
    code = main(["pipeline", "run", "--data", str(demo_csv), "--target", "default", "--tracking-uri", "", "--json"])
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert code == 0, captured.err
    assert result["registered"] is True and result["accuracy"] > 0.85
    assert result["accuracy"] > result["evaluation"]["summary"]["majority_class_accuracy"]
    assert "[train] done" in captured.err and "engine=xgboost" in captured.err
    meta = json.loads((Path(result["work_dir"]) / "train" / "model" / "model_meta.json").read_text())
    assert meta["engine"] == "xgboost" and meta["workers"]["count"] == 2
    assert all(rows > 0 for rows in meta["workers"]["rows_per_worker"])
    # The leader packs the serving code next to the booster, as the training job's model.tar.gz carries it.
    with tarfile.open(result["model_archive"]) as tar:
        assert "code/inference.py" in tar.getnames()
    # Lineage records the engine, the workers and the hyperparameters the model was trained with.
    training = result["lineage"]["training"]
    assert training["engine"] == "xgboost" and training["workers"]["count"] == 2
    assert training["hyperparameters"]["num_round"] == 50
