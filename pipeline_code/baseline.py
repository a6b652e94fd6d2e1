"""Baseline step: the training data's statistics for monitoring, written by the shared numpy drift core.

Container contract (SageMaker Processing): the training split in /opt/ml/processing/input/train, the baseline in
/opt/ml/processing/baseline as statistics.json and constraints.json (SageMaker Model Monitor formats, extended
with what the sigma rule needs), so that Model Monitor and the drift Lambda judge traffic against the same baseline.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline_code.common import check_target, read_csv_dir, run_main, split_feature_types

PROCESSING = Path("/opt/ml/processing")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--train-dir", type=Path, default=PROCESSING / "input" / "train")
    parser.add_argument("--output-dir", type=Path, default=PROCESSING / "baseline")
    parser.add_argument("--target", required=True)
    parser.add_argument("--sigma", type=float, default=3.0, help="default k of the mean-shift rule")
    return parser.parse_args(argv)


def to_columns(frame: pd.DataFrame, target: str) -> dict[str, np.ndarray]:
    """Numeric features as float arrays (NaN = missing), the rest, target included, as strings."""
    numeric, _ = split_feature_types(frame, [c for c in frame.columns if c != target])
    columns = {}
    for name in frame.columns:
        if name in numeric:
            columns[name] = frame[name].to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            values = frame[name].astype(object)
            columns[name] = values.where(values.isna(), values.astype(str)).to_numpy(dtype=object)
    return columns


def main(argv: Sequence[str] | None = None) -> int:
    import drift_core

    args = parse_args(argv)
    frame = read_csv_dir(args.train_dir)
    check_target(frame, args.target, args.train_dir)
    baseline = drift_core.build_baseline(
        to_columns(frame, args.target), target=args.target, thresholds=drift_core.Thresholds(sigma=args.sigma)
    )
    args.output_dir.mkdir(parents=True, exist_ok=True)
    written = drift_core.write_baseline(baseline, args.output_dir)
    print(
        json.dumps(
            {
                "baseline": {
                    "rows": len(frame),
                    "features": len(frame.columns) - 1,
                    "files": [Path(p).name for p in written],
                }
            }
        ),
        file=sys.stdout,
    )
    return 0


if __name__ == "__main__":
    run_main(main)
