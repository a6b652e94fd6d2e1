"""tables.py: a channel of many CSV/Parquet shards, read in bounded chunks with stable types and named bad shards."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipeline_code.common import DataError
from pipeline_code.tables import iter_chunks, read_table_dir, table_files
from tests.pipeline.conftest import mixed_frame

pytestmark = pytest.mark.container


@pytest.fixture()
def channel(tmp_path: Path) -> Path:
    """Two CSV shards and a Parquet shard of the same columns."""
    folder = tmp_path / "channel"
    folder.mkdir()
    frame = mixed_frame(rows=300)
    frame.iloc[:100].to_csv(folder / "a.csv", index=False)
    frame.iloc[100:200].to_csv(folder / "b.csv", index=False)
    frame.iloc[200:].to_parquet(folder / "c.parquet", index=False)
    return folder


def test_files_are_listed_sorted_and_chunks_never_exceed_the_chunk_size(channel: Path) -> None:
    assert [p.name for p in table_files(channel)] == ["a.csv", "b.csv", "c.parquet"]
    chunks = list(iter_chunks(channel, 30))
    assert max(len(c) for _, c in chunks) == 30 and sum(len(c) for _, c in chunks) == 300
    assert [p.name for p, _ in chunks].count("c.parquet") == 4


def test_whole_channel_equals_the_data_and_types_are_stable(channel: Path) -> None:
    frame = read_table_dir(channel)
    expected = mixed_frame(rows=300)
    assert list(frame.columns) == list(expected.columns)
    np.testing.assert_allclose(frame["balance"].to_numpy(), expected["balance"].to_numpy())
    assert frame["student"].isna().sum() == expected["student"].isna().sum()
    for _, chunk in iter_chunks(channel, 7):
        assert chunk["balance"].dtype == np.float64 and chunk["student"].dtype == object


def test_a_column_missing_in_a_whole_chunk_keeps_its_type(tmp_path: Path) -> None:
    # Chunk 1 has only missing 'student' and whole-number 'n' values; later chunks text and fractions.
    rows = ["n,student,default"] + ["1,,No"] * 5 + ["2.5,Yes,Yes"] * 5
    (tmp_path / "d.csv").write_text("\n".join(rows) + "\n")
    chunks = [c for _, c in iter_chunks(tmp_path / "d.csv", 5)]
    assert [c["n"].dtype for c in chunks] == [np.float64, np.float64]
    assert all(c["student"].dtype == object for c in chunks)
    assert chunks[0]["student"].isna().all() and set(chunks[1]["student"]) == {"Yes"}


def test_whole_numbers_without_gaps_stay_integers_and_r_row_names_are_dropped(tmp_path: Path) -> None:
    (tmp_path / "r.csv").write_text('"","age","default"\n"1",30,"No"\n"2",41,"Yes"\n')
    frame = read_table_dir(tmp_path / "r.csv")
    assert list(frame.columns) == ["age", "default"] and frame["age"].dtype == np.int64


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("z.csv", "", r"z\.csv: file is empty"),
        ("z.csv", "balance,student,income,default\n", r"z\.csv: has a header but no data rows"),
        ("z.csv", "balance,student,wage,default\n1,No,2,No\n", r"z\.csv: columns .* differ from a\.csv's"),
        ("z.csv", "balance,student,income\n1,No,2\n", r"z\.csv: required column 'default' not found"),
        ("z.parquet", b"not parquet", r"z\.parquet: not a readable Parquet file"),
        ("z.parquet", b"", r"z\.parquet: file is empty"),
    ],
)
def test_a_bad_shard_is_named(channel: Path, name: str, content: str | bytes, message: str) -> None:
    path = channel / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(DataError, match=message):
        list(iter_chunks(channel, 50, ["default"]))


def test_parquet_and_csv_with_mismatching_columns_name_the_parquet_shard(channel: Path) -> None:
    mixed_frame(rows=10).rename(columns={"income": "wage"}).to_parquet(channel / "d.parquet", index=False)
    with pytest.raises(DataError, match=r"d\.parquet: columns .* differ .*missing \['income'\], unexpected \['wage'\]"):
        read_table_dir(channel)


def test_an_empty_parquet_shard_is_named(channel: Path) -> None:
    mixed_frame(rows=10).iloc[:0].to_parquet(channel / "d.parquet", index=False)
    with pytest.raises(DataError, match=r"d\.parquet: has no data rows"):
        read_table_dir(channel)


def test_same_columns_in_another_order_are_aligned(channel: Path) -> None:
    frame = mixed_frame(rows=10)
    frame[list(reversed(frame.columns))].to_csv(channel / "d.csv", index=False)
    assert list(read_table_dir(channel).columns) == list(frame.columns)


def test_no_table_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(DataError, match=r"no \.csv or \.parquet file found"):
        table_files(tmp_path)
