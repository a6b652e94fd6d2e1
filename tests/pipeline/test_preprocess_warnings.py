"""Issue #17, silent surprises made loud in the pipeline's preprocess step: warnings in its report (and so in
`mlops pipeline run`'s output and --json `warnings`), refusals with the column named."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from pipeline_code import preprocess
from pipeline_code.common import DataError
from tests.pipeline.conftest import mixed_frame

Change = Callable[[pd.DataFrame], pd.DataFrame]


def _near_duplicate_labels(frame: pd.DataFrame) -> pd.DataFrame:
    frame.loc[frame.index[::9], "default"] = frame.loc[frame.index[::9], "default"].map({"Yes": "YES ", "No": "no"})
    return frame


def _identifier_feature(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(loan_id=[f"L-{i:06d}" for i in range(len(frame))])


def _numbers_as_text(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(income=[f"${x:,.0f}" for x in frame["income"]])


def _report(tmp_path: Path, change: Change) -> dict:
    raw = tmp_path / "raw"
    raw.mkdir()
    change(mixed_frame()).to_csv(raw / "data.csv", index=False)
    assert preprocess.main(["--input-dir", str(raw), "--output-dir", str(tmp_path / "out"), "--target", "default"]) == 0
    return json.loads((tmp_path / "out" / "report" / preprocess.REPORT_FILE).read_text())


WARNED = [
    ("labels that differ in case or spaces", _near_duplicate_labels, ["'YES ', 'Yes'", "'No', 'no'"]),
    ("an identifier-like text feature", _identifier_feature, ["feature 'loan_id' is text with 400 distinct values"]),
    ("numbers written as text", _numbers_as_text, ["feature 'income' is text with"]),
]


@pytest.mark.parametrize(("name", "change", "says"), WARNED, ids=[w[0] for w in WARNED])
def test_a_surprising_column_is_trained_on_with_a_warning(
    tmp_path: Path, name: str, change: Change, says: list[str]
) -> None:
    warnings = _report(tmp_path, change)["warnings"]
    for text in says:
        assert any(text in warning for warning in warnings), warnings
    assert len(warnings) == len(says), warnings  # one warning per surprise, nothing else


def test_clean_data_and_a_short_categorical_feature_give_no_warning(tmp_path: Path) -> None:
    """'student' (Yes/No) is text too: a few distinct values are a category, not a surprise."""
    report = _report(tmp_path, lambda frame: frame)
    assert report["warnings"] == [] and report["feature_types"]["student"] == "string"


REFUSED = [
    ("all-NaN feature", lambda f: f.assign(notes=float("nan")), "feature column 'notes' has no values"),
    ("all-empty text feature", lambda f: f.assign(notes=""), "feature column 'notes' has no values"),
]


@pytest.mark.parametrize(("name", "change", "says"), REFUSED, ids=[r[0] for r in REFUSED])
def test_a_feature_without_values_is_refused(tmp_path: Path, name: str, change: Change, says: str) -> None:
    with pytest.raises(DataError, match=says):
        _report(tmp_path, change)


def test_a_duplicated_header_is_refused_not_renamed(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    text = mixed_frame().to_csv(index=False).replace("balance,student,income", "balance,student,balance", 1)
    (raw / "data.csv").write_text(text)
    with pytest.raises(DataError, match="column 'balance' appears twice"):
        preprocess.main(["--input-dir", str(raw), "--output-dir", str(tmp_path / "out"), "--target", "default"])
