"""What the step scripts share: the data contract, CSV loading with clear errors, failure reporting.

Reading a channel of many CSV/Parquet files, in chunks or whole, lives in `pipeline_code.tables`.

This module ships inside the step containers (SageMaker's scikit-learn 1.2-1 image, Python 3.8/3.9): standard
library, numpy, pandas, scikit-learn only, and no syntax or API newer than Python 3.8.
"""

from __future__ import annotations

import argparse
import sys
import tarfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pandas as pd

MODEL_FILE = "model.joblib"
MODEL_META_FILE = "model_meta.json"
EVALUATION_FILE = "evaluation.json"
# SageMaker surfaces the content of this file as the job's FailureReason.
FAILURE_FILE = Path("/opt/ml/output/failure")


class DataError(Exception):
    """Input data the step cannot use; the message names the file, column or row at fault."""


def csv_files(directory: Path) -> list[Path]:
    """The CSV files a step reads from one input channel (a file, or every *.csv below a folder), sorted."""
    if directory.is_file():
        return [directory]
    if not directory.exists():
        raise DataError(f"{directory}: input path does not exist")
    files = sorted(p for p in directory.rglob("*.csv") if p.is_file())
    if not files:
        raise DataError(f"{directory}: no .csv file found")
    return files


def read_csv_table(path: Path) -> pd.DataFrame:
    """Read one CSV with a header row; empty files and header-only files are errors naming the file."""
    if not path.exists():
        raise DataError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: file is empty")
    try:
        frame = pd.read_csv(path, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: file is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not a readable CSV file ({_first_line(exc)})") from None
    if frame.empty:
        raise DataError(f"{path}: has a header but no data rows")
    frame.columns = [str(c).strip() for c in frame.columns]
    # R exports carry the row names as an unnamed first column; it is not a feature.
    unnamed = [c for c in frame.columns if c.startswith("Unnamed: ") or c == ""]
    return frame.drop(columns=unnamed)


def read_csv_dir(directory: Path) -> pd.DataFrame:
    """Every CSV and Parquet file of a channel, concatenated; see `tables.read_table_dir` (same checks)."""
    # Imported here: tables imports DataError from this module.
    from pipeline_code.tables import read_table_dir

    return read_table_dir(directory)


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


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def safe_extract(archive: Path, destination: Path) -> None:
    """Unpack a model.tar.gz, refusing members that would land outside the destination."""
    root = destination.resolve()
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            target = (root / member.name).resolve()
            if (root != target and root not in target.parents) or member.issym() or member.islnk():
                raise DataError(f"{archive}: unsafe member '{member.name}'")
        tar.extractall(root)


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
