"""Preprocess and baseline on data read in chunks much smaller than the data (the real ISLR Default set).

The split must not depend on the chunk size, stay stratified, keep types stable across shards, fail on a bad
shard before writing anything (naming the shard), and the chunked baseline must equal the in-memory one.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest

import drift_core
from mlops.local.sample_data import load_dataset
from pipeline_code import baseline, feature_ingest, preprocess
from pipeline_code.common import run_main
from pipeline_code.tables import read_table_dir

pytestmark = pytest.mark.container


@pytest.fixture(scope="module")
def islr() -> pd.DataFrame:
    return load_dataset("ISLR", "Default")


@pytest.fixture()
def raw(islr: pd.DataFrame, tmp_path: Path) -> Path:
    """The data set as three shards: two CSV files and a Parquet file."""
    folder = tmp_path / "raw"
    folder.mkdir()
    islr.iloc[:4000].to_csv(folder / "part-1.csv", index=False)
    islr.iloc[4000:7000].to_csv(folder / "part-2.csv", index=False)
    islr.iloc[7000:].to_parquet(folder / "part-3.parquet", index=False)
    return folder


def _run(raw: Path, out: Path, *extra: str) -> dict[str, Any]:
    preprocess.main(["--input-dir", str(raw), "--output-dir", str(out), "--target", "default", *extra])
    return json.loads((out / "report" / "preprocess.json").read_text())


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(list(frame.columns)).reset_index(drop=True)


def test_the_split_is_stratified_and_independent_of_the_chunk_size(raw: Path, tmp_path: Path) -> None:
    small = _run(raw, tmp_path / "small", "--chunk-rows", "700", "--train-shards", "4")
    large = _run(raw, tmp_path / "large", "--chunk-rows", "100000", "--train-shards", "4")
    assert small["chunks"] == 16 and large["chunks"] == 3  # 6 + 5 + 5 chunks of 700 rows against one per file
    for key in ("rows_read", "train_rows", "test_rows", "class_counts", "train_class_counts", "test_class_counts"):
        assert small[key] == large[key], key
    assert (small["rows_read"], small["train_rows"], small["test_rows"]) == (10000, 8000, 2000)
    train_share = small["train_class_counts"]["Yes"] / small["train_rows"]
    test_share = small["test_class_counts"]["Yes"] / small["test_rows"]
    assert abs(train_share - test_share) < 0.002 and abs(train_share - 0.0333) < 0.001
    for split in ("train", "test"):
        pd.testing.assert_frame_equal(
            _sorted(read_table_dir(tmp_path / "small" / split)), _sorted(read_table_dir(tmp_path / "large" / split))
        )


def test_shards_share_one_schema_and_the_report_lists_them(raw: Path, tmp_path: Path) -> None:
    report = _run(raw, tmp_path / "out", "--chunk-rows", "500", "--train-shards", "3")
    names = [f"part-local-{i:05d}.parquet" for i in range(3)]
    assert report["shards"] == {"train": names, "test": names[:1]}
    schemas = {str(pq.read_schema(p)) for p in (tmp_path / "out").glob("*/part-*.parquet")}
    assert len(schemas) == 1
    schema = pq.read_schema(tmp_path / "out" / "train" / names[0])
    types = {name: str(schema.field(name).type) for name in schema.names}
    assert types == {"student": "string", "balance": "double", "income": "double", "default": "string"}
    assert report["feature_types"] == {"student": "string", "balance": "float64", "income": "float64"}
    sizes = [pq.ParquetFile(tmp_path / "out" / "train" / n).metadata.num_rows for n in names]
    assert sum(sizes) == 8000 and min(sizes) > 2400  # the hash spreads rows evenly


def test_another_seed_gives_another_split(raw: Path, tmp_path: Path) -> None:
    _run(raw, tmp_path / "a", "--seed", "1")
    _run(raw, tmp_path / "b", "--seed", "2")
    a, b = read_table_dir(tmp_path / "a" / "test"), read_table_dir(tmp_path / "b" / "test")
    assert len(a) == len(b) and not _sorted(a).equals(_sorted(b))


def test_several_instances_write_their_own_shards_and_reports(
    raw: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "resourceconfig.json"
    config.write_text(json.dumps({"current_host": "algo-2", "hosts": ["algo-1", "algo-2"]}))
    monkeypatch.setattr(preprocess, "RESOURCE_CONFIG", config)
    preprocess.main(["--input-dir", str(raw), "--output-dir", str(tmp_path / "o"), "--target", "default"])
    assert [p.name for p in (tmp_path / "o" / "train").iterdir()] == ["part-algo-2-00000.parquet"]
    assert json.loads((tmp_path / "o" / "report" / "preprocess-algo-2.json").read_text())["host"] == "algo-2"


def test_rows_are_ingested_per_chunk_in_batches(raw: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []

    class Recorder:
        def put_record(self, **kwargs: Any) -> None:
            calls.append(kwargs)

    monkeypatch.setattr(feature_ingest, "default_client", Recorder)
    report = _run(raw, tmp_path / "o", "--chunk-rows", "3000", "--feature-group-name", "fg")
    assert report["feature_store_records"] == len(calls) == 10000
    ids = {next(f["ValueAsString"] for f in c["Record"] if f["FeatureName"] == "record_id") for c in calls}
    assert len(ids) == 10000  # the data set has no duplicate rows: one content-hash id per row


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("part-0.csv", "", r"part-0\.csv: file is empty"),
        ("part-9.csv", "default,student,balance,income\n", r"part-9\.csv: has a header but no data rows"),
        ("part-9.csv", "default,student,balance,wage\nNo,No,1,2\n", r"part-9\.csv: columns .* differ"),
        ("part-9.csv", "student,balance,income\nNo,1,2\n", r"part-9\.csv: target column 'default' not found"),
    ],
)
def test_a_bad_shard_fails_the_step_naming_it_before_anything_is_written(
    raw: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    name: str,
    content: str,
    message: str,
) -> None:
    (raw / name).write_text(content)
    out = tmp_path / "out"
    argv = ["preprocess.py", "--input-dir", str(raw), "--output-dir", str(out), "--target", "default"]
    monkeypatch.setattr(sys, "argv", [*argv, "--chunk-rows", "1000"])
    with pytest.raises(SystemExit) as exited:
        run_main(preprocess.main, failure_file=tmp_path / "failure")
    assert exited.value.code == 1
    assert not list(out.glob("*/*.parquet"))  # pass 1 failed: no shard was written
    stderr = capsys.readouterr().err
    assert stderr.startswith("DataError: ") and stderr.count("\n") == 1
    assert re.search(message, stderr), stderr
    assert (tmp_path / "failure").read_text() == stderr.strip()


def test_a_parquet_shard_whose_columns_differ_from_the_csv_ones_is_named(
    raw: Path, tmp_path: Path, islr: pd.DataFrame, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    islr.iloc[:10].drop(columns=["income"]).to_parquet(raw / "part-4.parquet", index=False)
    monkeypatch.setattr(sys, "argv", ["preprocess.py", "--input-dir", str(raw), "--target", "default"])
    with pytest.raises(SystemExit):
        run_main(preprocess.main, failure_file=tmp_path / "failure")
    assert "part-4.parquet: columns" in capsys.readouterr().err


def test_the_chunked_baseline_equals_the_in_memory_one(raw: Path, tmp_path: Path) -> None:
    _run(raw, tmp_path / "p", "--train-shards", "3")
    train_dir = tmp_path / "p" / "train"
    baseline.main(
        [
            "--train-dir",
            str(train_dir),
            "--output-dir",
            str(tmp_path / "b"),
            "--target",
            "default",
            "--chunk-rows",
            "600",
        ]
    )
    in_memory = drift_core.build_baseline(baseline.to_columns(read_table_dir(train_dir), "default"), target="default")
    drift_core.write_baseline(in_memory, tmp_path / "m")
    for name in ("statistics.json", "constraints.json"):
        chunked = json.loads((tmp_path / "b" / name).read_text())
        expected = json.loads((tmp_path / "m" / name).read_text())
        _assert_close(_without_sketches(chunked), _without_sketches(expected), name)


def _without_sketches(doc: dict[str, Any]) -> dict[str, Any]:
    """The document without its KLL sketches, which depend on how the values were chunked (the compactions
    differ); each sketch is checked to weigh exactly the feature's present values (tests/drift/test_kll.py checks
    their ranks)."""
    for feature in doc.get("features", []):
        numeric = feature.get("numerical_statistics")
        if numeric:
            levels = numeric["distribution"]["kll"].pop("sketch")["data"]
            assert sum(len(level) << h for h, level in enumerate(levels)) == numeric["common"]["num_present"]
            assert feature["mlops_drift"].pop("kll_rank_error_bound") >= 0
    return doc


def _assert_close(actual: Any, expected: Any, where: str) -> None:
    """Equal JSON, numbers to float rounding (chunked moments sum in another order)."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict) and set(actual) == set(expected), where
        for key in expected:
            _assert_close(actual[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), where
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            _assert_close(a, e, f"{where}[{i}]")
    elif isinstance(expected, float) and not isinstance(expected, bool):
        assert actual == pytest.approx(expected, rel=1e-9, abs=1e-9), where
    else:
        assert actual == expected, where
