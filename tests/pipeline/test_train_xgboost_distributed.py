"""The XGBoost engine: real multi-process data-parallel training on sharded ISLR Default data.

Two local worker processes, joined over loopback by XGBoost's tracker, each reading only its ShardedByS3Key share
of the train shards, must train a model as good as one worker on all the data; a bad shard on either worker fails
the run with a message naming the shard.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlops.local.distributed_training import (
    DistributedResult,
    TrainingError,
    host_names,
    run_distributed_training,
    shard_by_s3_key,
)
from mlops.local.sample_data import load_dataset
from pipeline_code.common import DataError
from pipeline_code.inference import model_fn

pytestmark = pytest.mark.container
# The engine's data-parallel contract is checked with the XGBoost image's libraries (`make container-test`, env
# xgboost-<version>), where it runs in AWS. The dev env's copy of the engine (`mlops pipeline run`, the twin) is run end
# to end by tests/cli/test_pipeline_run_xgboost.py; running these again with the dev env's libraries doubled their
# cost (a third of a minute of worker processes) for no AWS behaviour the image run misses.
if not os.environ.get("MLOPS_CONTAINER_ENV", "").startswith("xgboost-"):
    pytest.skip(
        "the xgboost engine's distributed training is tested in the XGBoost image's env (make container-test)",
        allow_module_level=True,
    )
pytest.importorskip("xgboost", reason="the xgboost engine runs in the XGBoost image only")

TARGET = "default"
SHARDS = 4
HYPERPARAMETERS = {"num_round": 60, "max_depth": 3, "eta": 0.2, "seed": 7}


@pytest.fixture(scope="module")
def default_split() -> tuple[pd.DataFrame, pd.DataFrame]:
    """ISLR Default (10,000 rows), a stratified 80/20 split."""
    frame = load_dataset("ISLR", "Default")
    rng = np.random.default_rng(0)
    holdout = np.zeros(len(frame), dtype=bool)
    for _, index in frame.groupby(TARGET).indices.items():
        holdout[rng.choice(index, size=len(index) // 5, replace=False)] = True
    return frame[~holdout].reset_index(drop=True), frame[holdout].reset_index(drop=True)


def write_shards(train: pd.DataFrame, folder: Path, shards: int = SHARDS) -> list[Path]:
    """Parquet shards as preprocess writes them (`part-<host>-<nnnnn>.parquet`), rows dealt round-robin."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(shards):
        path = folder / f"part-algo-1-{i:05d}.parquet"
        train.iloc[i::shards].to_parquet(path, index=False)
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def train_dir(tmp_path_factory: pytest.TempPathFactory, default_split: tuple[pd.DataFrame, pd.DataFrame]) -> Path:
    folder = tmp_path_factory.mktemp("channel") / "train"
    write_shards(default_split[0], folder)
    return folder


def train(train_dir: Path, root: Path, workers: int) -> DistributedResult:
    return run_distributed_training(
        train_dir,
        root / f"model-{workers}",
        root / f"work-{workers}",
        target=TARGET,
        workers=workers,
        hyperparameters=HYPERPARAMETERS,
        timeout=120,
    )


def holdout_accuracy(model_dir: Path, test: pd.DataFrame) -> float:
    loaded = model_fn(str(model_dir))
    features = test[loaded.meta["features"]]
    return float((loaded.pipeline.predict(features) == test[TARGET].astype(str).to_numpy()).mean())


@pytest.fixture(scope="module")
def one_and_two(
    tmp_path_factory: pytest.TempPathFactory, train_dir: Path
) -> tuple[DistributedResult, DistributedResult]:
    root = tmp_path_factory.mktemp("runs")
    return train(train_dir, root, 1), train(train_dir, root, 2)


def test_two_workers_match_one_worker_on_the_holdout(
    one_and_two: tuple[DistributedResult, DistributedResult], default_split: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    single, double = one_and_two
    test = default_split[1]
    one, two = holdout_accuracy(single.model_dir, test), holdout_accuracy(double.model_dir, test)
    majority = float((test[TARGET] == "No").mean())
    assert abs(one - two) <= 0.01, (one, two)
    assert two > majority  # learned more than the prior (96.7% "No")


def test_both_workers_took_part_each_on_its_own_shards(
    one_and_two: tuple[DistributedResult, DistributedResult], default_split: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    _, double = one_and_two
    workers = double.workers
    assert [(w.host, w.rank, w.returncode) for w in workers] == [("algo-1", 0, 0), ("algo-2", 1, 0)]
    # ShardedByS3Key: shards dealt round-robin in key order, so no shard is read twice and none is left out.
    assert workers[0].files == ["part-algo-1-00000.parquet", "part-algo-1-00002.parquet"]
    assert workers[1].files == ["part-algo-1-00001.parquet", "part-algo-1-00003.parquet"]
    train_rows = len(default_split[0])
    assert all(0 < (w.rows or 0) < train_rows for w in workers)
    assert sum(w.rows or 0 for w in workers) == train_rows
    for worker in workers:  # each process's own log says which rank of a world of two it was
        lines = [json.loads(line) for line in Path(worker.log).read_text().splitlines() if line.startswith("{")]
        assert {"host": worker.host, "rank": worker.rank, "world_size": 2, "rows": worker.rows} in [
            line.get("worker") for line in lines
        ]
    meta = json.loads((double.model_dir / "model_meta.json").read_text())
    assert meta["engine"] == "xgboost"
    assert meta["workers"] == {"count": 2, "hosts": ["algo-1", "algo-2"], "rows_per_worker": [w.rows for w in workers]}
    assert meta["training_metrics"]["train_rows"] == train_rows
    assert meta["categorical_features"] == ["student"] and meta["categories"] == {"student": ["No", "Yes"]}
    assert meta["classes"] == ["No", "Yes"]
    assert {"num_round": 60, "max_depth": 3, "eta": 0.2, "seed": 7}.items() <= meta["hyperparameters"].items()
    for key in ("features", "numeric_features", "target", "model_version", "mlflow_run_id"):
        assert key in meta


def test_only_the_leader_writes_the_model(one_and_two: tuple[DistributedResult, DistributedResult]) -> None:
    _, double = one_and_two
    # code/: the serving code the leader packs with the model (pipeline_code/serving_code.py)
    assert sorted(p.name for p in double.model_dir.iterdir()) == ["code", "model_meta.json", "xgboost-model.json"]


def test_shard_by_s3_key_deals_files_round_robin() -> None:
    files = [Path(f"part-{i}") for i in range(5)]
    shares = shard_by_s3_key(files, host_names(2))
    assert shares == {"algo-1": [files[0], files[2], files[4]], "algo-2": [files[1], files[3]]}


def _break(path: Path, how: str) -> None:
    frame = pd.read_parquet(path)
    if how == "empty":
        path.write_bytes(b"")
    elif how == "wrong header":
        frame.rename(columns={"balance": "balanse"}).to_parquet(path, index=False)
    elif how == "missing target":
        frame.drop(columns=[TARGET]).to_parquet(path, index=False)


@pytest.mark.parametrize(
    ("how", "expected"),
    [
        ("empty", "file is empty"),
        ("wrong header", "differ"),
        ("missing target", f"required column '{TARGET}' not found"),
    ],
)
def test_a_bad_shard_fails_the_run_naming_the_shard(
    tmp_path: Path, default_split: tuple[pd.DataFrame, pd.DataFrame], how: str, expected: str
) -> None:
    shards = write_shards(default_split[0], tmp_path / "train")
    _break(shards[3], how)  # dealt to the second worker
    with pytest.raises(DataError) as raised:
        train(tmp_path / "train", tmp_path, 2)
    message = str(raised.value)
    assert "part-algo-1-00003.parquet" in message and expected in message, message
    assert "Traceback" not in message


def test_hosts_whose_shards_disagree_fail_naming_a_shard_of_each(
    tmp_path: Path, default_split: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    shards = write_shards(default_split[0], tmp_path / "train")
    for path in shards[1::2]:  # every shard of the second worker, so each worker's own shards agree
        _break(path, "wrong header")
    with pytest.raises(DataError) as raised:
        train(tmp_path / "train", tmp_path, 2)
    message = str(raised.value)
    assert "part-algo-1-00001.parquet (host algo-2)" in message and "part-algo-1-00000.parquet" in message, message


def test_more_workers_than_shards_is_refused_before_starting(tmp_path: Path, default_split) -> None:  # type: ignore[no-untyped-def]
    write_shards(default_split[0], tmp_path / "train", shards=1)
    with pytest.raises(DataError, match="algo-2 would get no data"):
        train(tmp_path / "train", tmp_path, 2)


def test_a_crashing_worker_is_reported_and_the_others_stopped(tmp_path: Path, default_split) -> None:  # type: ignore[no-untyped-def]
    write_shards(default_split[0], tmp_path / "train", shards=2)
    with pytest.raises(TrainingError, match=r"algo-\d exited with code"):
        run_distributed_training(
            tmp_path / "train",
            tmp_path / "model",
            tmp_path / "work",
            target=TARGET,
            workers=2,
            hyperparameters={"max_depth": "not-a-number"},
            timeout=60,
        )
