"""Tables of one input channel: many CSV and/or Parquet files ("shards"), read in bounded chunks.

Every shard is checked before its rows are used: an empty file, a header without rows, an unreadable file, a
missing required column or columns that differ from the first shard's are a DataError naming that shard.

Column types are decided once for the whole channel (`infer_schema`), not per chunk as pandas would: a numeric
column with only missing values in one chunk must not turn into text in one shard and float in the next, and a
text column stays text. Kinds: "int64" (whole numbers, never missing), "float64" (other numbers; NaN = missing)
and "string" (everything else, bools included).

Ships inside the step containers (Python 3.8/3.9, pandas 1.x, pyarrow 14); also runs on pandas 3 locally.
"""

from __future__ import annotations

import csv
import typing
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline_code.common import DataError, first_line

SUFFIXES = (".csv", ".parquet")
INT, FLOAT, STRING = "int64", "float64", "string"
# typing's Mapping: collections.abc classes cannot be subscripted at run time on Python 3.8.
Schema = typing.Mapping[str, str]
# Large enough that read_table_dir pays little per-chunk overhead, small enough to bound a CSV parse's buffers.
LOAD_CHUNK_ROWS = 250_000


def table_files(directory: Path) -> list[Path]:
    """The CSV and Parquet files of a channel (a file, or every *.csv / *.parquet below a folder), sorted."""
    if directory.is_file():
        return [directory]
    if not directory.exists():
        raise DataError(f"{directory}: input path does not exist")
    files = sorted(p for p in directory.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
    if not files:
        raise DataError(f"{directory}: no .csv or .parquet file found")
    return files


def is_csv(path: Path) -> bool:
    return path.suffix.lower() != ".parquet"


def _drop_unnamed(frame: pd.DataFrame) -> pd.DataFrame:
    frame.columns = [str(c).strip() for c in frame.columns]
    # R exports carry the row names as an unnamed first column, pandas' Parquet files may carry the index;
    # neither is a feature.
    extra = [c for c in frame.columns if c.startswith(("Unnamed: ", "__index_level_")) or c == ""]
    return frame.drop(columns=extra) if extra else frame


def duplicate_column(names: Sequence[str]) -> str | None:
    """The first column name (after trimming spaces) that appears twice, if any: pandas would rename the second
    one `name.1` and train on both as different features."""
    seen = set()
    for name in (str(n).strip() for n in names):
        if name in seen and name:
            return name
        seen.add(name)
    return None


def _check_csv_header(path: Path) -> None:
    with path.open("rb") as handle:
        first = handle.readline()
    try:
        line = first.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text (byte 0x{first[exc.start]:02x} in the header line)") from None
    duplicate = duplicate_column(next(csv.reader([line]), []))
    if duplicate is not None:
        raise DataError(f"{path}: column '{duplicate}' appears twice in the header")


def _csv_chunks(path: Path, chunk_rows: int) -> Iterator[pd.DataFrame]:
    if path.stat().st_size == 0:
        raise DataError(f"{path}: file is empty")
    _check_csv_header(path)
    try:
        # Text first: the channel's schema, not this chunk's values, decides the types (see apply_schema).
        reader = pd.read_csv(path, chunksize=chunk_rows, dtype=object, skipinitialspace=True)
        try:  # not `with reader`: pandas < 1.2 (in some step images) has no context manager for it
            for chunk in reader:
                yield _drop_unnamed(chunk)
        finally:
            reader.close()
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: file is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"{path}: not a readable CSV file ({first_line(exc)})") from None


def _parquet_file(path: Path) -> pq.ParquetFile:
    if path.stat().st_size == 0:
        raise DataError(f"{path}: file is empty")
    try:
        return pq.ParquetFile(str(path))
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"{path}: not a readable Parquet file ({first_line(exc)})") from None


def _parquet_chunks(path: Path, chunk_rows: int) -> Iterator[pd.DataFrame]:
    parquet = _parquet_file(path)
    try:
        for batch in parquet.iter_batches(batch_size=chunk_rows):
            yield _drop_unnamed(batch.to_pandas())
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"{path}: not a readable Parquet file ({first_line(exc)})") from None


def _check_columns(
    path: Path, columns: list[str], reference: tuple[Path, list[str]] | None, required: Sequence[str], role: str
) -> None:
    for name in required:
        if name not in columns:
            raise DataError(f"{path}: {role} column '{name}' not found (columns: {', '.join(columns)})")
    if reference is None:
        return
    first, expected = reference
    if set(columns) != set(expected) or len(columns) != len(expected):
        missing = [c for c in expected if c not in columns]
        unexpected = [c for c in columns if c not in expected]
        raise DataError(
            f"{path}: columns {columns} differ from {first.name}'s (missing {missing}, unexpected {unexpected})"
        )


def iter_raw_chunks(
    directory: Path, chunk_rows: int, required_columns: Sequence[str] = (), role: str = "required"
) -> Iterator[tuple[Path, pd.DataFrame]]:
    """(shard, chunk) pairs as stored: CSV values as text, Parquet values as typed; columns in the first shard's order.

    A shard is validated as it is reached, so a consumer that must not act on a bad channel makes a first pass
    (e.g. `infer_schema`) before writing anything.
    """
    if chunk_rows < 1:
        raise DataError(f"chunk_rows must be at least 1, got {chunk_rows}")
    reference: tuple[Path, list[str]] | None = None
    for path in table_files(directory):
        rows = 0
        chunks = _csv_chunks(path, chunk_rows) if is_csv(path) else _parquet_chunks(path, chunk_rows)
        for chunk in chunks:
            columns = list(chunk.columns)
            if rows == 0:
                _check_columns(path, columns, reference, required_columns, role)
                if reference is None:
                    reference = (path, columns)
            if len(chunk) == 0:
                continue
            rows += len(chunk)
            yield path, (chunk if columns == reference[1] else chunk[reference[1]])
        if rows == 0:
            kind = "has a header but no data rows" if is_csv(path) else "has no data rows"
            raise DataError(f"{path}: {kind}")


def chunk_kinds(frame: pd.DataFrame, csv_text: bool) -> dict[str, str | None]:
    """Each column's kind judged from this chunk alone; None for a column with no values here.

    `csv_text`: the chunk came from a CSV, read as text; typed text (Parquet strings) stays text even when it
    looks like numbers, as its writer said so.
    """
    kinds: dict[str, str | None] = {}
    for name in frame.columns:
        values = frame[name]
        present = values.notna()
        if not present.any():
            kinds[name] = None
        elif pd.api.types.is_bool_dtype(values):
            kinds[name] = STRING
        elif pd.api.types.is_numeric_dtype(values):
            kinds[name] = INT if pd.api.types.is_integer_dtype(values) else FLOAT
        elif csv_text:
            # A number column if every present value parses (pandas' own rule); ints stay ints.
            parsed = pd.to_numeric(values[present], errors="coerce")
            if parsed.notna().all():
                kinds[name] = INT if pd.api.types.is_integer_dtype(parsed) and present.all() else FLOAT
            else:
                kinds[name] = STRING
        else:
            kinds[name] = STRING
    return kinds


def merge_kinds(
    schema: dict[str, str | None], kinds: Mapping[str, str | None], rows_missing: Mapping[str, bool]
) -> None:
    """Fold one chunk's kinds into the channel's: text wins over numbers, float over int, missing makes float."""
    for name, kind in kinds.items():
        current = schema.get(name)
        if kind is None or current == STRING:
            merged = current
        elif current is None or kind == STRING:
            merged = kind
        else:
            merged = INT if current == kind == INT else FLOAT
        if merged == INT and rows_missing.get(name, False):
            merged = FLOAT
        schema[name] = merged


def finish_schema(schema: Mapping[str, str | None]) -> dict[str, str]:
    # A column with no value anywhere carries no information; float NaN is how every step reads "missing".
    return {name: kind or FLOAT for name, kind in schema.items()}


def infer_schema(directory: Path, chunk_rows: int, required_columns: Sequence[str] = ()) -> dict[str, str]:
    """One validating pass over the channel: every shard checked, each column's kind decided for all of them."""
    schema: dict[str, str | None] = {}
    for path, chunk in iter_raw_chunks(directory, chunk_rows, required_columns):
        merge_kinds(schema, chunk_kinds(chunk, is_csv(path)), {c: bool(chunk[c].isna().any()) for c in chunk.columns})
    return finish_schema(schema)


def as_text(values: pd.Series) -> pd.Series:
    """Values as Python str, None where missing (object dtype on every pandas version)."""
    text = values.astype(object)
    present = text.notna()
    return text.where(~present, text[present].astype(str)).where(present, None)


def apply_schema(frame: pd.DataFrame, schema: Schema, source: Path) -> pd.DataFrame:
    """The chunk with the channel's types: numbers as int64/float64, text as Python str (None = missing)."""
    out = {}
    for name in frame.columns:
        values = frame[name]
        kind = schema[name]
        if kind == STRING:
            out[name] = as_text(values)
            continue
        if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            try:
                values = pd.to_numeric(values.astype(object), errors="raise")
            except (ValueError, TypeError):
                raise DataError(f"{source}: column '{name}' has a non-numeric value in a numeric column") from None
        out[name] = values.astype(np.int64 if kind == INT else np.float64)
    return pd.DataFrame(out, index=frame.index)


def arrow_schema(schema: Schema) -> pa.Schema:
    """The Parquet schema of shards written with this table schema (the same in every shard and on every host)."""
    types = {INT: pa.int64(), FLOAT: pa.float64(), STRING: pa.string()}
    return pa.schema([(name, types[kind]) for name, kind in schema.items()])


def iter_chunks(
    directory: Path, chunk_rows: int, required_columns: Sequence[str] = (), schema: Schema | None = None
) -> Iterator[tuple[Path, pd.DataFrame]]:
    """(shard, chunk) pairs of at most `chunk_rows` rows, typed by the channel's schema (inferred if not given)."""
    if schema is None:
        schema = infer_schema(directory, chunk_rows, required_columns)
    for path, chunk in iter_raw_chunks(directory, chunk_rows, required_columns):
        yield path, apply_schema(chunk, schema, path)


def read_table_dir(directory: Path, required_columns: Sequence[str] = ()) -> pd.DataFrame:
    """The whole channel in memory (train/evaluate need it on one node), with the same checks and types."""
    frames = [chunk for _, chunk in iter_chunks(directory, LOAD_CHUNK_ROWS, required_columns)]
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0].reset_index(drop=True)
