"""What the step scripts share: the data contract, CSV loading with clear errors, failure reporting.

Reading a channel of many CSV/Parquet files, in chunks or whole, lives in `pipeline_code.tables`.

This module ships inside the step containers (SageMaker's scikit-learn 1.2-1 image, Python 3.8/3.9): standard
library, numpy, pandas, scikit-learn only, and no syntax or API newer than Python 3.8.
"""

from __future__ import annotations

import argparse
import json
import sys
import tarfile
import zlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

MODEL_FILE = "model.joblib"
MODEL_META_FILE = "model_meta.json"
EVALUATION_FILE = "evaluation.json"
CALIBRATION_FILE = "calibration.json"  # written by evaluate, stored with the baseline (drift_core.Calibration)
# SageMaker surfaces the content of this file as the job's FailureReason.
FAILURE_FILE = Path("/opt/ml/output/failure")


class DataError(Exception):
    """Input data the step cannot use; the message names the file, column or row at fault."""


def check_target(frame: pd.DataFrame, target: str, source: Path) -> pd.Series:
    """The target column as string labels; a missing column or a single class is an error."""
    if target not in frame.columns:
        raise DataError(f"{source}: target column '{target}' not found (columns: {', '.join(frame.columns)})")
    labels = frame[target]
    classes = labels.dropna().astype(str).unique()
    if len(classes) < 2:
        found = f"only '{classes[0]}'" if len(classes) else "no values"
        raise DataError(f"{source}: target column '{target}' has {found}; at least two classes are needed")
    return labels


def split_feature_types(frame: pd.DataFrame, features: Sequence[str]) -> tuple[list[str], list[str]]:
    """Numeric and categorical feature names, by the column's dtype after CSV parsing."""
    numeric = [
        c for c in features if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
    ]
    categorical = [c for c in features if c not in numeric]
    return numeric, categorical


def run_main(main: Callable[[Sequence[str] | None], int], failure_file: Path = FAILURE_FILE) -> None:
    """Entry point for `python script.py`: a DataError becomes one clear line and a failed job, no traceback."""
    try:
        code = main(None)
    except DataError as exc:
        message = f"{type(exc).__name__}: {exc}"
        sys.stderr.write(message + "\n")
        if failure_file.parent.is_dir():
            failure_file.write_text(message)
        code = 1
    raise SystemExit(code)


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (library errors can be pages long), or its type."""
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def safe_extract(archive: Path, destination: Path) -> None:
    """Unpack a model.tar.gz, refusing members that would land outside the destination; a truncated or corrupt
    archive is a DataError naming it (not the EOFError / zlib.error tarfile lets through)."""
    root = destination.resolve()
    try:
        with tarfile.open(archive) as tar:
            for member in tar.getmembers():
                target = (root / member.name).resolve()
                if (root != target and root not in target.parents) or member.issym() or member.islnk():
                    raise DataError(f"{archive}: unsafe member '{member.name}'")
            tar.extractall(root)
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise DataError(f"{archive}: not a readable model archive ({first_line(exc)})") from None


def training_parser(description: str | None, environ: Mapping[str, str]) -> argparse.ArgumentParser:
    """The arguments every train script takes, defaulted by SageMaker Training's contract (SM_CHANNEL_TRAIN,
    SM_MODEL_DIR) so the same script runs in the container and locally with those variables pointed elsewhere."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--train-dir", type=Path, default=Path(environ.get("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train"))
    )
    parser.add_argument("--model-dir", type=Path, default=Path(environ.get("SM_MODEL_DIR", "/opt/ml/model")))
    parser.add_argument("--target", required=True)
    return parser


def read_json_object(path: Path, required: bool = False) -> dict[str, Any]:
    """A JSON object from a file; {} when it is missing, unreadable or not an object, unless `required`, in which
    case a missing or unreadable file is a DataError naming it."""
    try:
        loaded = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        if required:
            raise DataError(f"{path}: not a readable JSON report ({type(exc).__name__})") from None
        return {}
    return loaded if isinstance(loaded, dict) else {}
