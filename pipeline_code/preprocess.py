"""Preprocess step: validate the raw data, split a stratified holdout set, write Parquet shards, feed the Feature Group.

Container contract (SageMaker Processing): raw CSV and/or Parquet files in /opt/ml/processing/input/data, outputs
in /opt/ml/processing/train and /opt/ml/processing/test (Parquet shards `part-<host>-<nnnnn>.parquet`, so that
several processing instances never overwrite each other) and /opt/ml/processing/report (the summary as JSON).
Missing values are kept: the model's own imputers handle them, so training and serving treat them the same way.

The input is read in chunks of at most --chunk-rows rows, twice, so memory stays flat whatever its size:
- pass 1 checks every shard (a bad one fails the step before anything is written or ingested), decides the
  column types for all chunks, and counts each class's rows by holdout key;
- pass 2 writes the rows to the train and test shards and the Feature Group.
A row's holdout key is a seeded hash of its content, so the split depends on the seed and the data, not on the
chunk size or the order of the files. Per class, the rows with the smallest keys go to the test split, as many as
the holdout fraction asks: the split is stratified (a ~3% default rate stays ~3% on both sides).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from drift_core.finite import MAX_MAGNITUDE, non_finite
from pipeline_code import tables
from pipeline_code.common import DataError, run_main
from pipeline_code.feature_ingest import DEFAULT_BATCH_SIZE, batch_count, ingest_features

PROCESSING = Path("/opt/ml/processing")
RESOURCE_CONFIG = Path("/opt/ml/config/resourceconfig.json")
DEFAULT_CHUNK_ROWS = 100_000
REPORT_FILE = "preprocess.json"
# Resolution of the per-class key histograms that place the holdout cut: 2^16 bins is exact for classes of up to
# tens of thousands of rows and within 1/65536 of the fraction beyond, at 0.5 MB per class.
KEY_BITS = 16
KEY_BINS = 1 << KEY_BITS
_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)
# A text feature with more distinct values than this and than half the rows looks like an identifier or free
# text: one-hot encoding it learns nothing that generalises, so the run says so.
TEXT_DISTINCT_CAP = 1000
TEXT_DISTINCT_MIN = 20


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--input-dir", type=Path, default=PROCESSING / "input" / "data")
    parser.add_argument("--output-dir", type=Path, default=PROCESSING)
    parser.add_argument("--target", required=True)
    parser.add_argument("--features", default="", help="comma-separated feature columns (default: all but target)")
    parser.add_argument("--holdout-fraction", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--feature-group-name", default="", help="ingest the rows into this Feature Group")
    parser.add_argument("--chunk-rows", type=int, default=DEFAULT_CHUNK_ROWS, help="rows read at a time")
    parser.add_argument("--train-shards", type=int, default=1, help="Parquet files the train split is written to")
    parser.add_argument("--feature-batch-size", type=int, default=DEFAULT_BATCH_SIZE, help="rows per ingest batch")
    args = parser.parse_args(argv)
    for name in ("chunk_rows", "train_shards", "feature_batch_size"):
        if getattr(args, name) < 1:
            raise DataError(f"--{name.replace('_', '-')}: must be at least 1 (got {getattr(args, name)})")
    if not 0.0 < args.holdout_fraction < 1.0:
        raise DataError(f"--holdout-fraction: must be between 0 and 1 (got {args.holdout_fraction})")
    return args


def current_host(resource_config: Path | None = None) -> tuple[str, int]:
    """This instance's name and the job's instance count; ("local", 1) outside SageMaker."""
    try:
        config = json.loads((resource_config or RESOURCE_CONFIG).read_text())
        return str(config["current_host"]), len(config.get("hosts", [])) or 1
    except (OSError, ValueError, KeyError):
        return "local", 1


def _mix(x: np.ndarray) -> np.ndarray:
    # splitmix64's finalizer: spreads pandas' row hashes (and the seed) over all 64 bits.
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return (x ^ (x >> np.uint64(31))) & _MASK


def row_keys(raw: pd.DataFrame, seed: int) -> np.ndarray:
    """A seeded 64-bit hash of each row's stored content (text for CSV), the same in every pass and chunking."""
    hashed = pd.util.hash_pandas_object(raw, index=False).to_numpy(dtype=np.uint64)
    return _mix(hashed ^ _mix(np.array([seed & 0xFFFFFFFFFFFFFFFF], dtype=np.uint64)))


def key_bins(keys: np.ndarray) -> np.ndarray:
    return (keys >> np.uint64(64 - KEY_BITS)).astype(np.int64)


@dataclass
class Pass1:
    """What the validating pass learns: the schema, the row counts, each class's key histogram."""

    schema: dict[str, str | None] = field(default_factory=dict)
    rows_read: int = 0
    rows_without_label: int = 0
    histograms: dict[str, np.ndarray] = field(default_factory=dict)
    chunks: int = 0
    # Distinct values of each text feature, up to TEXT_DISTINCT_CAP + 1 (enough to call it identifier-like).
    distinct: dict[str, set[str]] = field(default_factory=dict)

    def class_counts(self) -> dict[str, int]:
        return {label: int(h.sum()) for label, h in sorted(self.histograms.items())}


def select(raw: pd.DataFrame, target: str, features: Sequence[str], source: Path) -> pd.DataFrame:
    missing = [c for c in features if c not in raw.columns]
    if missing:
        raise DataError(f"{source}: feature column '{missing[0]}' not found (columns: {', '.join(raw.columns)})")
    return raw[[*features, target]]


def first_pass(args: argparse.Namespace, features: list[str]) -> Pass1:
    state = Pass1()
    for path, raw in tables.iter_raw_chunks(args.input_dir, args.chunk_rows, [args.target], role="target"):
        if not features:
            features.extend(c for c in raw.columns if c != args.target)
            if not features:
                raise DataError(f"{path}: no feature columns besides the target '{args.target}'")
        part = select(raw, args.target, features, path)
        state.chunks += 1
        state.rows_read += len(part)
        labelled = part[part[args.target].notna()]
        state.rows_without_label += len(part) - len(labelled)
        kinds = tables.chunk_kinds(labelled, tables.is_csv(path))
        tables.merge_kinds(state.schema, kinds, {c: bool(labelled[c].isna().any()) for c in labelled.columns})
        for name, kind in kinds.items():
            if kind == tables.STRING and name != args.target:
                seen = state.distinct.setdefault(name, set())
                if len(seen) <= TEXT_DISTINCT_CAP:
                    seen.update(tables.as_text(labelled[name]).dropna().unique()[: TEXT_DISTINCT_CAP + 1])
        bins = key_bins(row_keys(labelled, args.seed))
        labels = tables.as_text(labelled[args.target]).to_numpy()
        for label in pd.unique(labels):
            histogram = state.histograms.setdefault(str(label), np.zeros(KEY_BINS, dtype=np.int64))
            histogram += np.bincount(bins[labels == label], minlength=KEY_BINS)
    return state


def holdout_cuts(histograms: dict[str, np.ndarray], fraction: float) -> dict[str, int]:
    """Per class, the key bin below which rows go to the test split: round(fraction x class rows) of them."""
    cuts = {}
    for label, histogram in histograms.items():
        wanted = round(fraction * int(histogram.sum()))
        cumulative = np.cumsum(histogram)
        cuts[label] = 0 if wanted == 0 else int(np.searchsorted(cumulative, wanted)) + 1
    return cuts


class ShardWriter:
    """Parquet shards `part-<host>-<nnnnn>.parquet` of one split, opened on first use (no empty shard files)."""

    def __init__(self, folder: Path, host: str, schema: pa.Schema) -> None:
        self.folder, self.host, self.schema = folder, host, schema
        folder.mkdir(parents=True, exist_ok=True)
        # A re-run into the same folder must not leave a previous run's shards behind for training to read.
        for stale in [*folder.glob(f"part-{host}-*.parquet"), *folder.glob("*.csv")]:
            stale.unlink()
        self.writers: dict[int, pq.ParquetWriter] = {}
        self.rows: dict[int, int] = {}

    def path(self, shard: int) -> Path:
        return self.folder / f"part-{self.host}-{shard:05d}.parquet"

    def write(self, shard: int, frame: pd.DataFrame) -> None:
        if frame.empty:
            return
        if shard not in self.writers:
            self.writers[shard] = pq.ParquetWriter(str(self.path(shard)), self.schema)
            self.rows[shard] = 0
        self.writers[shard].write_table(pa.Table.from_pandas(frame, schema=self.schema, preserve_index=False))
        self.rows[shard] += len(frame)

    def close(self) -> list[str]:
        for writer in self.writers.values():
            writer.close()
        return [self.path(s).name for s in sorted(self.writers)]


def mask_non_finite(table: pd.DataFrame, schema: Mapping[str, str], counts: dict[str, int]) -> None:
    """drift_core's non-finite rule, as the baseline and the drift checks apply it: inf and |x| > MAX_MAGNITUDE
    become missing (the model's imputer fills them, as at serving), counted per column."""
    for name, kind in schema.items():
        if kind != tables.FLOAT or name not in table.columns:
            continue
        bad = non_finite(table[name].to_numpy(dtype=np.float64))
        if bad.any():
            table.loc[bad, name] = np.nan
            counts[name] = counts.get(name, 0) + int(bad.sum())


def label_warnings(counts: Mapping[str, int]) -> list[str]:
    """Labels that differ only in case or surrounding spaces ('yes', 'YES ') are distinct classes to the model,
    which is rarely meant."""
    groups: dict[str, list[str]] = {}
    for label in counts:
        groups.setdefault(label.strip().casefold(), []).append(label)
    return [
        "target labels " + ", ".join(repr(label) for label in sorted(same)) + " differ only in case or spaces; "
        "they are trained as different classes"
        for same in groups.values()
        if len(same) > 1
    ]


def text_feature_warnings(state: Pass1) -> list[str]:
    warnings = []
    for name, seen in sorted(state.distinct.items()):
        limit = min(TEXT_DISTINCT_CAP, max(TEXT_DISTINCT_MIN, state.rows_read // 2))
        if state.schema.get(name) == tables.STRING and len(seen) > limit:
            more = "+" if len(seen) > TEXT_DISTINCT_CAP else ""
            warnings.append(
                f"feature '{name}' is text with {len(seen)}{more} distinct values in {state.rows_read} rows, "
                "one-hot encoded: an identifier, or numbers with text in them?"
            )
    return warnings


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    features = [f for f in args.features.split(",") if f]
    state = first_pass(args, features)
    counts = state.class_counts()
    if len(counts) < 2:
        found = f"only '{next(iter(counts))}'" if counts else "no values"
        raise DataError(f"{args.input_dir}: target column '{args.target}' has {found}; at least two classes are needed")
    empty = [name for name in features if state.schema.get(name) is None]
    if empty:
        raise DataError(
            f"{args.input_dir}: feature column '{empty[0]}' has no values (all missing); "
            "drop it or list the features to use with --features"
        )
    warnings = label_warnings(counts) + text_feature_warnings(state)
    # Labels are class names whatever they look like (0/1 included), as the model and Feature Group see them.
    schema = {**tables.finish_schema(state.schema), args.target: tables.STRING}
    non_finite: dict[str, int] = {}
    cuts = holdout_cuts(state.histograms, args.holdout_fraction)
    host, hosts = current_host()
    arrow = tables.arrow_schema(schema)
    writers = {name: ShardWriter(args.output_dir / name, host, arrow) for name in ("train", "test")}
    split_counts: dict[str, dict[str, int]] = {"train": {}, "test": {}}
    event_time = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    ingested = batches = 0
    try:
        for path, raw in tables.iter_raw_chunks(args.input_dir, args.chunk_rows, [args.target], role="target"):
            part = select(raw, args.target, features, path)
            labelled = part[part[args.target].notna()]
            if labelled.empty:
                continue
            keys = row_keys(labelled, args.seed)
            table = tables.apply_schema(labelled, schema, path).reset_index(drop=True)
            mask_non_finite(table, schema, non_finite)
            labels = table[args.target].to_numpy(dtype=object)
            cut = pd.Series(labels).map(cuts).to_numpy(dtype=np.int64)
            is_test = key_bins(keys) < cut
            writers["test"].write(0, table[is_test])
            train = table[~is_test]
            shard = (_mix(keys[~is_test] ^ np.uint64(0x5EED)) % np.uint64(args.train_shards)).astype(np.int64)
            for index in np.unique(shard):
                writers["train"].write(int(index), train[shard == index])
            for name, rows in (("train", train), ("test", table[is_test])):
                for label, count in rows[args.target].value_counts().items():
                    split_counts[name][str(label)] = split_counts[name].get(str(label), 0) + int(count)
            if args.feature_group_name:
                ingested += ingest_features(
                    table,
                    args.feature_group_name,
                    event_time,
                    batch_size=args.feature_batch_size,
                    first_row=ingested,
                    first_batch=batches,
                )
                batches += batch_count(len(table), args.feature_batch_size)
    finally:
        shards = {name: writer.close() for name, writer in writers.items()}
    summary = {
        "host": host,
        "rows_read": state.rows_read,
        "rows_without_label": state.rows_without_label,
        "train_rows": sum(split_counts["train"].values()),
        "test_rows": sum(split_counts["test"].values()),
        "features": features,
        "feature_types": {name: kind for name, kind in schema.items() if name != args.target},
        "class_counts": counts,
        "train_class_counts": dict(sorted(split_counts["train"].items())),
        "test_class_counts": dict(sorted(split_counts["test"].items())),
        "chunk_rows": args.chunk_rows,
        "chunks": state.chunks,
        "shards": shards,
    }
    warnings += [
        f"feature '{name}': {n} non-finite value(s) (inf, or |x| > {MAX_MAGNITUDE:g}) treated as missing"
        for name, n in sorted(non_finite.items())
    ]
    summary["non_finite"] = dict(sorted(non_finite.items()))
    summary["warnings"] = warnings
    if args.feature_group_name:
        summary["feature_store_records"] = ingested
    report = args.output_dir / "report"
    report.mkdir(parents=True, exist_ok=True)
    # One report per instance when several share the job's output prefix; "preprocess.json" otherwise.
    name = REPORT_FILE if hosts == 1 else f"preprocess-{host}.json"
    (report / name).write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    print(json.dumps({"preprocess": summary}), file=sys.stdout)
    return 0


if __name__ == "__main__":
    run_main(main)
