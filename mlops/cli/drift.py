"""`mlops drift baseline` and `mlops drift check`: the drift core on CSV / JSON-lines files.

Exit codes: 0 success (drift found is a result, not an error, unless --fail-on-drift, then 1); 2 bad input,
with one line naming the file or column (raised as UserError, printed by mlops.cli).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

from drift_core import (
    Baseline,
    BaselineFormatError,
    Calibration,
    CalibrationFormatError,
    CategoryCounts,
    MissingColumnError,
    NumericAccumulator,
    Thresholds,
    WindowAccumulator,
    build_baseline_chunks,
    compute_drift,
    read_baseline,
    read_calibration,
    write_baseline,
    write_constraint_violations,
)
from drift_core.finite import MAX_MAGNITUDE
from mlops import drift_io
from mlops.cli._drift_table import render_table
from mlops.errors import UserError
from mlops.user_input import dumps, number, output_dir

EXIT_DRIFT = 1


def register(subparsers: argparse._SubParsersAction) -> None:
    drift = subparsers.add_parser("drift", help="data drift: baselines and checks (numpy drift core)")
    commands = drift.add_subparsers(dest="drift_command", required=True, parser_class=type(drift))

    base = commands.add_parser("baseline", help="write statistics.json and constraints.json from training data")
    base.add_argument("--data", nargs="+", required=True, help="CSV / JSON-lines files or directories")
    base.add_argument("--out", required=True, help="output directory")
    base.add_argument("--target", help="label column: kept out of the features, used for label shift")
    base.add_argument("--bins", type=_positive_int, default=1000, help="quantile bins per numeric feature")
    base.add_argument("--sigma", type=_POSITIVE, default=3.0, help="default k of the sigma rule")
    base.add_argument("--psi", type=_POSITIVE, default=0.1, help="PSI threshold")
    base.add_argument("--min-accuracy", type=_ACCURACY, default=None, help="A_min for model quality checks")
    base.set_defaults(handler=run_baseline)

    check = commands.add_parser("check", help="drift of a window of data against a baseline")
    check.add_argument("--baseline", required=True, help="directory with statistics.json (+ constraints.json)")
    check.add_argument("--data", nargs="+", required=True, help="CSV / JSON-lines files or directories")
    check.add_argument("--sigma", type=_POSITIVE, default=None, help="k of the sigma rule (all features)")
    check.add_argument("--psi", type=_POSITIVE, default=None, help="PSI threshold")
    check.add_argument("--prediction", help="prediction column, for accuracy against the target column")
    check.add_argument("--min-accuracy", type=_ACCURACY, default=None, help="A_min (overrides the baseline's)")
    check.add_argument(
        "--probability-column",
        help="the model's probability of its predicted label: estimated accuracy (CBPE) with the calibration",
    )
    check.add_argument(
        "--calibration",
        help="calibration.json of the evaluate step (default: the one stored in the baseline)",
    )
    check.add_argument("--violations", help="also write constraint_violations.json into this directory")
    check.add_argument(
        "--min-rows",
        type=number(1, 1e9, integer=True),
        default=None,
        help="fewest rows a window needs (default: the drift Lambda's, config drift_min_rows = 100)",
    )
    check.add_argument("--json", action="store_true", help="print one JSON object")
    check.add_argument("--fail-on-drift", action="store_true", help="exit 1 when any feature drifted")
    check.set_defaults(handler=run_check)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
    return value


_POSITIVE = number(0.0, low_inclusive=False)
_ACCURACY = number(0.0, 1.0)


# ---- baseline ----------------------------------------------------------------------------------------------


def run_baseline(args: argparse.Namespace) -> int:
    output_dir(Path(args.out), "--out")
    files = drift_io.data_files(args.data)
    columns, numeric = _training_schema(files[0])
    if args.target is not None and args.target not in columns:
        raise UserError(f"{files[0]}: target column {args.target!r} not found")
    for f in files[1:]:
        _require_columns(f, columns)
    rows = {"n": 0}

    def chunks() -> Iterator[tuple[Mapping[str, np.ndarray | CategoryCounts], Mapping[str, int]]]:
        rows["n"] = 0
        for f in files:
            for chunk in drift_io.reader_for(f)(f, numeric, columns, None):
                rows["n"] += chunk.rows
                yield chunk.columns, chunk.unparseable

    thresholds = Thresholds(sigma=args.sigma, psi=args.psi, min_accuracy=args.min_accuracy)
    baseline = build_baseline_chunks(chunks, target=args.target, max_bins=args.bins, thresholds=thresholds)
    if rows["n"] == 0:
        raise UserError(f"{files[0]}: no data rows")
    for name, acc in baseline.features.items():
        if isinstance(acc, NumericAccumulator) and acc.unparseable:
            sys.stderr.write(
                f"warning: column '{name}': {acc.unparseable} cell(s) unparseable or non-finite (inf, |x| > "
                f"{MAX_MAGNITUDE:g}) left out of the statistics (docs/cli-input-rules.md)\n"
            )
    stats, constraints = write_baseline(baseline, args.out)
    n_num = sum(isinstance(a, NumericAccumulator) for a in baseline.features.values())
    print(
        f"baseline of {rows['n']} rows, {len(baseline.features)} features "
        f"({n_num} numeric, {len(baseline.features) - n_num} categorical): wrote {stats} and {constraints}"
    )
    return 0


def _training_schema(path: Path) -> tuple[list[str], set[str]]:
    if drift_io.is_jsonl(path):
        columns = drift_io.jsonl_columns(path)
        if not columns:
            raise UserError(f"{path}: no JSON records with named fields")
        return columns, _jsonl_numeric(path, columns)
    return drift_io.csv_header(path), set(drift_io.infer_numeric_columns(path))


def _jsonl_numeric(path: Path, columns: Sequence[str]) -> set[str]:
    first = json.loads(next(line for line in drift_io.utf8_lines(path) if line.strip()))
    return {c for c in columns if isinstance(first.get(c), (int, float)) and not isinstance(first.get(c), bool)}


def _require_columns(path: Path, required: Sequence[str]) -> None:
    if drift_io.is_jsonl(path):
        return  # JSON lines name their fields per record; absences surface while reading
    header = set(drift_io.csv_header(path))
    missing = [c for c in required if c not in header]
    if missing:
        raise UserError(f"{path}: column {missing[0]!r} of the baseline is missing from the data")


# ---- check -------------------------------------------------------------------------------------------------


def run_check(args: argparse.Namespace) -> int:
    if args.violations:
        output_dir(Path(args.violations), "--violations")
    baseline = _load_baseline(args.baseline)
    if args.calibration:
        baseline.calibration = _load_calibration(args.calibration)
    if args.probability_column and baseline.calibration is None:
        raise UserError(
            f"--probability-column: {args.baseline} holds no calibration; pass --calibration calibration.json"
        )
    files = drift_io.data_files(args.data)
    window = WindowAccumulator(baseline, prediction_column=args.prediction, probability_column=args.probability_column)
    features = list(baseline.features)
    numeric = {n for n, a in baseline.features.items() if isinstance(a, NumericAccumulator)}
    extras = [c for c in (args.prediction, args.probability_column) if c]
    for f in files:
        _read_window_file(f, baseline, window, features, numeric, extras)
    if window.rows == 0:
        raise UserError(f"{files[0]}: no data rows")
    _require_rows(window.rows, args.min_rows, files)
    report = compute_drift(baseline, window, sigma=args.sigma, psi_threshold=args.psi, min_accuracy=args.min_accuracy)
    if args.violations:
        write_constraint_violations(report, args.violations)
    if args.json:
        sys.stdout.write(dumps(report.to_dict()) + "\n")
    else:
        sys.stdout.write(render_table(report) + "\n")
    return EXIT_DRIFT if args.fail_on_drift and report.drifted_features else 0


def _require_rows(rows: int, min_rows: int | None, files: Sequence[Path]) -> None:
    """A window as small as one row flags every feature; the drift Lambda waits for drift_min_rows new rows, and
    the CLI asks for as many (same config)."""
    if min_rows is None:
        from mlops.project_config import load_project_config

        min_rows = load_project_config().drift_min_rows
    if rows < min_rows:
        where = str(files[0]) if len(files) == 1 else f"{files[0]} and {len(files) - 1} more"
        raise UserError(
            f"{where}: {rows} data rows, fewer than the {min_rows} a drift check needs "
            "(--min-rows; config drift_min_rows, which the drift Lambda waits for)"
        )


def _load_baseline(directory: str) -> Baseline:
    if not Path(directory).is_dir():
        raise UserError(f"{directory}: baseline directory not found")
    try:
        return read_baseline(directory)
    except BaselineFormatError as exc:
        raise UserError(str(exc)) from exc


def _load_calibration(path: str) -> Calibration:
    source = Path(path)
    if not source.is_file():
        raise UserError(f"{source}: calibration file not found")
    try:
        return read_calibration(source)
    except CalibrationFormatError as exc:
        raise UserError(str(exc)) from exc


def _read_window_file(
    path: Path,
    baseline: Baseline,
    window: WindowAccumulator,
    features: list[str],
    numeric: set[str],
    extras: Sequence[str],
) -> None:
    """Read one file into the window; `extras`: the prediction and probability columns asked for (row-aligned)."""
    columns = list(features)
    raw: set[str] = set()
    header = None if drift_io.is_jsonl(path) else set(drift_io.csv_header(path))
    if header is not None:
        _require_columns(path, features)
    for extra in (baseline.target_name, *extras):
        if extra and extra not in columns and (header is None or extra in header):
            columns.append(extra)
            raw.add(extra)
    for extra in extras:
        if header is not None and extra not in header:
            kind = "probability" if extra == window.probability_column else "prediction"
            raise UserError(f"{path}: {kind} column {extra!r} not found")
    try:
        for chunk in drift_io.reader_for(path)(path, numeric, columns, raw):
            window.update(chunk.columns, chunk.unparseable)
    except MissingColumnError as exc:
        raise UserError(f"{path}: {exc}") from exc
