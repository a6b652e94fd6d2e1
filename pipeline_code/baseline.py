"""Baseline step: the training data's statistics for monitoring, written by the shared numpy drift core.

Container contract (SageMaker Processing): the training split in /opt/ml/processing/input/train (Parquet shards or
CSV files), the baseline in /opt/ml/processing/baseline as statistics.json and constraints.json (SageMaker Model
Monitor formats, extended with what the sigma rule needs), so that Model Monitor and the drift Lambda judge traffic
against the same baseline.

The evaluate step's calibration.json (its output, in /opt/ml/processing/input/evaluation) is stored in
statistics.json under `mlops_drift.calibration`, so the drift monitor, which reads only the baseline, can estimate
accuracy from the served model's confidences (CBPE). The numeric features' PCA for multivariate drift is fitted
here too (drift_core.build_baseline_chunks). Without calibration.json the baseline is written without it.

The split is read in chunks of at most --chunk-rows rows (drift_core.build_baseline_chunks: a bounded sample places
the bin edges, a second pass counts exactly), so memory stays flat whatever the size of the training data.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline_code import tables
from pipeline_code.common import CALIBRATION_FILE, DataError, run_main, split_feature_types

PROCESSING = Path("/opt/ml/processing")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--train-dir", type=Path, default=PROCESSING / "input" / "train")
    parser.add_argument("--output-dir", type=Path, default=PROCESSING / "baseline")
    parser.add_argument("--target", required=True)
    parser.add_argument("--sigma", type=float, default=3.0, help="default k of the mean-shift rule")
    parser.add_argument("--chunk-rows", type=int, default=100_000, help="rows read at a time")
    parser.add_argument(
        "--calibration-dir",
        type=Path,
        default=PROCESSING / "input" / "evaluation",
        help=f"the evaluate step's output, holding {CALIBRATION_FILE} (stored with the baseline)",
    )
    args = parser.parse_args(argv)
    if args.chunk_rows < 1:
        raise DataError(f"--chunk-rows: must be at least 1 (got {args.chunk_rows})")
    return args


def to_columns(frame: pd.DataFrame, target: str, numeric: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """Numeric features as float arrays (NaN = missing), the rest, target included, as strings.

    `numeric`: the numeric features, decided once for the whole data set so that every chunk agrees.
    """
    if numeric is None:
        numeric, _ = split_feature_types(frame, [c for c in frame.columns if c != target])
    columns = {}
    for name in frame.columns:
        if name in numeric:
            columns[name] = frame[name].to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            values = frame[name].astype(object)
            columns[name] = values.where(values.isna(), values.astype(str)).to_numpy(dtype=object)
    return columns


def read_calibration(folder: Path) -> Any:
    """The evaluate step's calibration (None if it wrote none); a malformed one is a DataError naming the file."""
    import drift_core

    path = folder / CALIBRATION_FILE
    if not path.is_file():
        return None
    try:
        return drift_core.read_calibration(path)
    except drift_core.CalibrationFormatError as exc:
        raise DataError(str(exc)) from None


def main(argv: Sequence[str] | None = None) -> int:
    import drift_core

    args = parse_args(argv)
    # One validating pass fixes the column types for every chunk (and checks every shard has the target).
    # The target is a class label whatever it looks like (as preprocess writes it).
    schema = {**tables.infer_schema(args.train_dir, args.chunk_rows, [args.target]), args.target: tables.STRING}
    numeric = [c for c, kind in schema.items() if kind != tables.STRING]
    stats = {"rows": 0, "classes": set()}

    def chunks() -> Iterator[tuple[dict[str, np.ndarray], dict[str, int]]]:
        stats["rows"], stats["classes"] = 0, set()
        for _, chunk in tables.iter_chunks(args.train_dir, args.chunk_rows, [args.target], schema):
            stats["rows"] += len(chunk)
            stats["classes"].update(chunk[args.target].dropna().astype(str).unique())
            yield to_columns(chunk, args.target, numeric), {}

    baseline = drift_core.build_baseline_chunks(
        chunks, target=args.target, thresholds=drift_core.Thresholds(sigma=args.sigma)
    )
    if len(stats["classes"]) < 2:
        found = f"only '{next(iter(stats['classes']))}'" if stats["classes"] else "no values"
        raise DataError(f"{args.train_dir}: target column '{args.target}' has {found}; at least two classes are needed")
    baseline.calibration = read_calibration(args.calibration_dir)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    written = drift_core.write_baseline(baseline, args.output_dir)
    print(
        json.dumps(
            {
                "baseline": {
                    "rows": stats["rows"],
                    "features": len(schema) - 1,
                    "files": [Path(p).name for p in written],
                    "calibration": baseline.calibration is not None,
                    "multivariate_components": baseline.multivariate.components if baseline.multivariate else None,
                }
            }
        ),
        file=sys.stdout,
    )
    return 0


if __name__ == "__main__":
    run_main(main)
