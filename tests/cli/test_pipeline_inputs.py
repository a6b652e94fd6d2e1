"""`mlops pipeline run --data`: a file or a folder of CSV and Parquet files, checked in chunks before any step."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from mlops.cli.main import main
from mlops.errors import UserError
from mlops.local.pipeline import _preflight


def test_a_folder_of_csv_and_parquet_files_is_trained_and_registered(
    demo_csv: Path, in_tmp_cwd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frame = pd.read_csv(demo_csv).drop(columns=["Unnamed: 0"], errors="ignore")
    folder = Path("raw")
    folder.mkdir()
    # Sorted by label: the first file holds one class only, which is fine for a folder.
    frame = frame.sort_values("default").reset_index(drop=True)
    frame.iloc[:6000].to_csv(folder / "part-1.csv", index=False)
    frame.iloc[6000:].to_parquet(folder / "part-2.parquet", index=False)
    code = main(["pipeline", "run", "--data", str(folder), "--target", "default", "--tracking-uri", "", "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    result = json.loads(captured.out)
    assert result["registered"] is True
    assert result["lineage"]["data"]["rows"] == len(frame) and result["lineage"]["data"]["content_sha256"]


def test_preflight_names_the_file_and_column_at_fault(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("balance,default\n1,No\n2,No\n")
    with pytest.raises(UserError, match=r"a.csv: feature column 'income' not found"):
        _preflight(tmp_path / "a.csv", "default", ["balance", "income"])
    (tmp_path / "b.csv").write_text("balance,label\n1,No\n")
    with pytest.raises(UserError, match=r"b.csv: target column 'default' not found"):
        _preflight(tmp_path, "default", ["balance"])
    (tmp_path / "b.csv").unlink()
    with pytest.raises(UserError, match=r"target column 'default' has only 'No'; at least two classes"):
        _preflight(tmp_path, "default", ["balance"])
    (tmp_path / "c.csv").write_text("balance,default\n3,Yes\n")
    _preflight(tmp_path, "default", ["balance"])  # two classes across the folder: fine
