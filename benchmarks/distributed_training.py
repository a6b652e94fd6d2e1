"""Training time of the XGBoost engine with 1 and 2 local workers on the same data, and their holdout accuracy.

The data is the reference data set (ISLR Default, 10,000 rows) resampled with replacement to --rows rows (numbers
jittered by 1% so rows are not exact copies), written as --shards Parquet shards; a stratified 20% holdout of the
original rows is kept out of the resampling. Each configuration runs the real multi-process path
(mlops.local.distributed_training: N processes, XGBoost's tracker on 127.0.0.1, each worker reading its ShardedByS3Key
share). The total thread budget is the same for both: os.cpu_count() threads for one worker, cpu_count // 2 each
for two, so the ratio shows what splitting the data across processes costs or gains on this machine, not more
cores. On a 2-core machine, two workers cannot be faster than one by more than the parallel share of the work;
the gain of the distributed path is memory and data per host on real multi-instance jobs.

    PYTHONPATH=. python benchmarks/distributed_training.py [--rows 1000000] [--shards 8] [--rounds 100]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from mlops.local.distributed_training import run_distributed_training
from mlops.local.sample_data import load_dataset
from pipeline_code.inference import model_fn

TARGET = "default"


def make_data(rows: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    frame = load_dataset("ISLR", "Default")
    rng = np.random.default_rng(seed)
    holdout = np.zeros(len(frame), dtype=bool)
    for _, index in frame.groupby(TARGET).indices.items():
        holdout[rng.choice(index, size=len(index) // 5, replace=False)] = True
    train, test = frame[~holdout].reset_index(drop=True), frame[holdout].reset_index(drop=True)
    big = train.iloc[rng.integers(0, len(train), rows)].reset_index(drop=True)
    for column in ("balance", "income"):
        big[column] = big[column] * rng.normal(1.0, 0.01, rows)
    return big, test


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--max-depth", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    cores = os.cpu_count() or 1
    train, test = make_data(args.rows, args.seed)
    hyperparameters = {"num_round": args.rounds, "max_depth": args.max_depth, "eta": 0.1, "seed": args.seed}
    print(f"machine: os.cpu_count() = {cores} cores")
    print(
        f"data: ISLR Default resampled to {len(train):,} training rows in {args.shards} Parquet shards, "
        f"{len(test):,} holdout rows (original, never resampled); {args.rounds} rounds, max_depth {args.max_depth}"
    )
    results = {}
    with tempfile.TemporaryDirectory(prefix="distributed-bench-") as tmp:
        root = Path(tmp)
        channel = root / "train"
        channel.mkdir()
        for i in range(args.shards):
            train.iloc[i :: args.shards].to_parquet(channel / f"part-algo-1-{i:05d}.parquet", index=False)
        for workers in (1, 2):
            nthread = max(1, cores // workers)
            started = time.perf_counter()
            result = run_distributed_training(
                channel,
                root / f"model-{workers}",
                root / f"work-{workers}",
                target=TARGET,
                workers=workers,
                hyperparameters=hyperparameters,
                nthread=nthread,
                timeout=600,
            )
            wall = time.perf_counter() - started
            meta = json.loads((result.model_dir / "model_meta.json").read_text())
            loaded = model_fn(str(result.model_dir))
            accuracy = float((loaded.pipeline.predict(test[meta["features"]]) == test[TARGET].to_numpy()).mean())
            results[workers] = {
                "wall_seconds": wall,
                "train_seconds": meta["training_metrics"]["train_seconds"],
                "nthread": nthread,
                "rows_per_worker": [w.rows for w in result.workers],
                "holdout_accuracy": accuracy,
            }
            print(
                f"{workers} worker(s), nthread {nthread} per worker: wall {wall:6.2f} s (processes started to model "
                f"written), in-process read+train {meta['training_metrics']['train_seconds']:6.2f} s, rows per "
                f"worker {results[workers]['rows_per_worker']}, holdout accuracy {accuracy:.4f}"
            )
    one, two = results[1], results[2]
    print(
        f"ratio 2 workers / 1 worker: wall {two['wall_seconds'] / one['wall_seconds']:.2f}x, "
        f"in-process {two['train_seconds'] / one['train_seconds']:.2f}x "
        f"(same total threads: {one['nthread']} vs 2 x {two['nthread']}; this machine has {cores} cores)"
    )
    print(f"holdout accuracy difference: {abs(one['holdout_accuracy'] - two['holdout_accuracy']):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
