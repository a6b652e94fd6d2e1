"""preprocess.py: validation with clear errors, a stratified holdout split, Feature Store records."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from pipeline_code import preprocess
from pipeline_code.common import DataError
from pipeline_code.feature_ingest import ingest_features, to_records
from pipeline_code.tables import read_table_dir
from tests.pipeline.conftest import mixed_frame

pytestmark = pytest.mark.container


def _run(input_path: Path, out: Path, *extra: str) -> None:
    preprocess.main(["--input-dir", str(input_path), "--output-dir", str(out), "--target", "default", *extra])


def test_split_keeps_every_labelled_row_and_both_classes(mixed_csv: Path, tmp_path: Path) -> None:
    _run(mixed_csv.parent, tmp_path / "out", "--holdout-fraction", "0.25")
    train = read_table_dir(tmp_path / "out" / "train")
    test = read_table_dir(tmp_path / "out" / "test")
    assert len(train) + len(test) == 400 and len(test) == 100
    assert set(train["default"]) == set(test["default"]) == {"Yes", "No"}
    assert train["balance"].isna().any()  # missing values are kept for the model's own imputers


def test_rows_without_a_label_are_dropped_and_counted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frame = mixed_frame()
    frame.loc[:9, "default"] = None
    frame.to_csv(tmp_path / "d.csv", index=False)
    _run(tmp_path / "d.csv", tmp_path / "out")
    summary = json.loads(capsys.readouterr().out)["preprocess"]
    assert summary["rows_without_label"] == 10 and summary["train_rows"] + summary["test_rows"] == 390


def test_many_input_files_are_concatenated_and_must_share_columns(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    mixed_frame(seed=1).to_csv(raw / "a.csv", index=False)
    mixed_frame(seed=2).to_csv(raw / "b.csv", index=False)
    _run(raw, tmp_path / "out")
    assert len(read_table_dir(tmp_path / "out" / "train")) == 640
    mixed_frame().drop(columns=["income"]).to_csv(raw / "c.csv", index=False)
    with pytest.raises(DataError, match=r"c\.csv: columns .* differ"):
        _run(raw, tmp_path / "out")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", r"bad\.csv: file is empty"),
        ("balance,default\n", r"bad\.csv: has a header but no data rows"),
        ("balance,label\n1,Yes\n2,No\n", r"bad\.csv: target column 'default' not found"),
        ("balance,default\n1,No\n2,No\n", r"bad\.csv: target column 'default' has only 'No'"),
    ],
)
def test_bad_input_names_the_file_and_problem(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "bad.csv").write_text(content)
    with pytest.raises(DataError, match=message):
        _run(tmp_path / "bad.csv", tmp_path / "out")


def test_an_unknown_feature_column_is_named(mixed_csv: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="feature column 'age' not found"):
        _run(mixed_csv, tmp_path / "out", "--features", "balance,age")


def test_feature_store_records_skip_missing_values_and_have_stable_ids() -> None:
    frame = pd.DataFrame({"balance": [1.5, math.nan], "student": ["Yes", "No"], "default": ["No", "No"]})
    first, second = to_records(frame, "2026-01-01T00:00:00Z")
    names = {f["FeatureName"] for f in second}
    assert "balance" not in names and {"record_id", "event_time", "student", "default"} <= names
    assert to_records(frame, "2027-01-01T00:00:00Z")[0][-2] == first[-2]  # same row, same record id


def test_ingest_puts_one_record_per_row() -> None:
    calls: list[dict] = []

    class Recorder:
        def put_record(self, **kwargs: object) -> None:
            calls.append(kwargs)

    count = ingest_features(mixed_frame(rows=5), "fg", "2026-01-01T00:00:00Z", client=Recorder())
    assert count == 5 and {c["FeatureGroupName"] for c in calls} == {"fg"}
