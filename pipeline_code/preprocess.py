"""Preprocess step: validate the raw CSV, split a stratified holdout set, write train/test, feed the Feature Group.

Container contract (SageMaker Processing): raw CSV files in /opt/ml/processing/input/data, outputs in
/opt/ml/processing/train and /opt/ml/processing/test. Missing values are kept: the model's own imputers handle
them, so training and serving treat them the same way.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

from pipeline_code.common import TEST_FILE, TRAIN_FILE, DataError, check_target, read_csv_dir, run_main
from pipeline_code.feature_ingest import ingest_features

PROCESSING = Path("/opt/ml/processing")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--input-dir", type=Path, default=PROCESSING / "input" / "data")
    parser.add_argument("--output-dir", type=Path, default=PROCESSING)
    parser.add_argument("--target", required=True)
    parser.add_argument("--features", default="", help="comma-separated feature columns (default: all but target)")
    parser.add_argument("--holdout-fraction", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--feature-group-name", default="", help="ingest the rows into this Feature Group")
    return parser.parse_args(argv)


def prepare(frame: pd.DataFrame, target: str, features: Sequence[str], source: Path) -> pd.DataFrame:
    """Keep the feature and target columns; drop rows without a label (they cannot be trained or scored)."""
    labels = check_target(frame, target, source)
    missing = [c for c in features if c not in frame.columns]
    if missing:
        raise DataError(f"{source}: feature column '{missing[0]}' not found (columns: {', '.join(frame.columns)})")
    if not features:
        raise DataError(f"{source}: no feature columns besides the target '{target}'")
    table = frame.loc[labels.notna(), [*features, target]].copy()
    table[target] = table[target].astype(str)
    return table.reset_index(drop=True)


def split(table: pd.DataFrame, target: str, holdout_fraction: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    counts = table[target].value_counts()
    # Stratify so that a rare class (credit defaults are ~3%) appears in both parts, when it can.
    stratify = table[target] if counts.min() >= 2 else None
    train, test = train_test_split(table, test_size=holdout_fraction, random_state=seed, stratify=stratify)
    return train.reset_index(drop=True), test.reset_index(drop=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    frame = read_csv_dir(args.input_dir)
    features = [f for f in args.features.split(",") if f] or [c for c in frame.columns if c != args.target]
    table = prepare(frame, args.target, features, args.input_dir)
    train, test = split(table, args.target, args.holdout_fraction, args.seed)
    for name, part, file in (("train", train, TRAIN_FILE), ("test", test, TEST_FILE)):
        out = args.output_dir / name
        out.mkdir(parents=True, exist_ok=True)
        part.to_csv(out / file, index=False)
    summary = {
        "rows_read": len(frame),
        "rows_without_label": len(frame) - len(table),
        "train_rows": len(train),
        "test_rows": len(test),
        "features": features,
        "class_counts": {str(k): int(v) for k, v in table[args.target].value_counts().sort_index().items()},
    }
    if args.feature_group_name:
        event_time = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        summary["feature_store_records"] = ingest_features(table, args.feature_group_name, event_time)
    print(json.dumps({"preprocess": summary}), file=sys.stdout)
    return 0


if __name__ == "__main__":
    run_main(main)
