"""Model directories following the artifact contract, built once per test session (a fit takes ~0.1 s)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mlops.local.serving.sample_model import load_default_data, write_model_dir


@pytest.fixture(scope="session")
def default_data() -> pd.DataFrame:
    return load_default_data(rows=400)


@pytest.fixture(scope="session")
def model_v1(tmp_path_factory: pytest.TempPathFactory, default_data: pd.DataFrame) -> Path:
    return write_model_dir(tmp_path_factory.mktemp("v1"), "v1", default_data, c=1.0)


@pytest.fixture(scope="session")
def model_v2(tmp_path_factory: pytest.TempPathFactory, default_data: pd.DataFrame) -> Path:
    return write_model_dir(tmp_path_factory.mktemp("v2"), "v2", default_data, c=0.05)


@pytest.fixture(scope="session")
def model_broken(tmp_path_factory: pytest.TempPathFactory, default_data: pd.DataFrame) -> Path:
    """Loads and warms fine, raises on every row whose student is "Yes"."""
    return write_model_dir(tmp_path_factory.mktemp("broken"), "broken", default_data, broken=True)


@pytest.fixture(scope="session")
def csv_rows(default_data: pd.DataFrame) -> list[bytes]:
    """Single-row CSV payloads from real data, both student values present."""
    frame = default_data[["student", "balance", "income"]].head(60)
    return [f"{r.student},{r.balance},{r.income}".encode() for r in frame.itertuples()]
