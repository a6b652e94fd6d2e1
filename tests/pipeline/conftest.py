"""Small data sets with the shapes the scripts must handle: mixed types, missing values, rare classes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest


def mixed_frame(rows: int = 400, seed: int = 0) -> pd.DataFrame:
    """A learnable binary problem with a numeric, a categorical and missing values in both."""
    rng = np.random.default_rng(seed)
    balance = rng.normal(1000, 300, rows)
    student = rng.choice(["Yes", "No"], rows)
    label = np.where(balance + rng.normal(0, 100, rows) > 1200, "Yes", "No")
    frame = pd.DataFrame(
        {"balance": balance, "student": student, "income": rng.normal(40000, 9000, rows), "default": label}
    )
    frame.loc[::17, "balance"] = np.nan
    frame.loc[::23, "student"] = np.nan
    return frame


@pytest.fixture()
def mixed_csv(tmp_path: Path) -> Path:
    path = tmp_path / "raw" / "data.csv"
    path.parent.mkdir()
    mixed_frame().to_csv(path, index=False)
    return path
