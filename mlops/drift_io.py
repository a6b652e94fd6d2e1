"""The CLI's reading layer for drift: CSV (pyarrow's parser, chunk by chunk) and JSON-lines capture files, as
chunks of numpy columns for drift_core.

Parsing dominates `mlops drift check`, so CSV goes through pyarrow's multi-threaded parser, numeric columns
straight to float64. A chunk with an unparseable cell is parsed again as text and its bad cells counted
(reported, not fatal). Memory is one chunk at a time, whatever the file size.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from drift_core import CategoryCounts
from drift_core.capture_codec import Malformed, decode_record, is_capture
from mlops.errors import UserError
from mlops.user_input import check_text_file, not_utf8, utf8_problem
from pipeline_code.common import first_line
from pipeline_code.tables import duplicate_column

JSON_CHUNK_ROWS = 50_000
# Share of parseable cells above which a text column of the training data is taken as numeric with bad cells.
NUMERIC_SHARE = 0.9
_NUMERIC_TYPES = (pa.types.is_integer, pa.types.is_floating, pa.types.is_null, pa.types.is_decimal)


@dataclass
class Chunk:
    """One block of rows: numeric columns as float64 arrays (NaN = missing), categoricals pre-counted or as
    object arrays (for label/prediction columns, whose row pairing matters), and unparseable counts."""

    columns: dict[str, np.ndarray | CategoryCounts]
    unparseable: dict[str, int]
    rows: int


def data_files(paths: Sequence[str]) -> list[Path]:
    """Expand --data arguments: files as given, directories to their *.csv / *.jsonl / *.json files."""
    files: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.suffix.lower() in {".csv", ".jsonl", ".json"})
            if not found:
                raise UserError(f"{p}: directory holds no .csv or .jsonl files")
            files.extend(found)
        elif p.is_file():
            files.append(p)
        else:
            raise UserError(f"{p}: file not found")
    for f in files:
        if f.stat().st_size == 0:
            raise UserError(f"{f}: file is empty")
        check_text_file(f)
    return files


def is_jsonl(path: Path) -> bool:
    return path.suffix.lower() in {".jsonl", ".json"}


# ---- CSV --------------------------------------------------------------------------------------------------

# pyarrow's own streaming reader reads ahead without bound (peak RSS grows with the file), so the file is cut
# into text chunks at line ends here and each chunk is parsed on its own: memory stays at one chunk. (A quoted
# field containing a newline is not supported, as with pyarrow's parallel parsing by default.)
CHUNK_BYTES = 4 << 20
_PARSE_BLOCK = 1 << 20
_BOM = b"\xef\xbb\xbf"


def csv_header(path: Path) -> list[str]:
    with path.open("rb") as handle:
        first = handle.readline()
    if first.startswith(_BOM):
        first = first[len(_BOM) :]
    if not first.strip():
        raise UserError(f"{path}: no CSV header line")
    try:
        first.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise not_utf8(path, exc, len(_BOM) if _has_bom(path) else 0) from None
    try:
        table = pacsv.read_csv(pa.BufferReader(first + b"\n"), read_options=pacsv.ReadOptions(skip_rows=0))
    except pa.ArrowInvalid as exc:
        raise UserError(f"{path}: not a readable CSV header ({first_line(exc)})") from exc
    names = list(table.column_names)
    duplicate = duplicate_column(names)
    if duplicate is not None:
        raise UserError(f"{path}: column '{duplicate}' appears twice in the header")
    return names


def _has_bom(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(len(_BOM)) == _BOM


def _text_chunks(path: Path) -> Iterator[bytes]:
    """The file after its header line, in pieces of ~CHUNK_BYTES that end at a line end."""
    with path.open("rb") as handle:
        handle.readline()
        rest = b""
        while True:
            data = handle.read(CHUNK_BYTES)
            if not data:
                if rest.strip():
                    yield rest
                return
            buf = rest + data
            cut = buf.rfind(b"\n") + 1
            if cut == 0:
                rest = buf  # a line longer than a chunk: keep reading
                continue
            rest = buf[cut:]
            yield buf[:cut]


def _parse(path: Path, text: bytes, names: list[str], columns: Sequence[str], numeric: set[str]) -> pa.Table:
    """Parse one chunk: numeric columns straight to float64 (fast); if a cell does not parse, the chunk is
    parsed again with text numeric columns so that the bad cells can be counted."""
    read = pacsv.ReadOptions(column_names=names, block_size=_PARSE_BLOCK)
    for as_float in (True, False):
        types = {c: (pa.float64() if as_float and c in numeric else pa.string()) for c in columns}
        convert = pacsv.ConvertOptions(column_types=types, include_columns=list(columns), strings_can_be_null=True)
        try:
            return pacsv.read_csv(pa.BufferReader(text), read_options=read, convert_options=convert)
        except pa.ArrowInvalid as exc:
            if "invalid utf8" in str(exc).lower():
                raise UserError(f"{path}: not UTF-8 text ({first_line(exc)})") from None
            if as_float and "conversion error" in str(exc).lower():
                continue
            raise UserError(f"{path}: malformed CSV ({first_line(exc)})") from exc
    raise AssertionError("unreachable")


def infer_numeric_columns(path: Path) -> list[str]:
    """Numeric columns of a training CSV, judged on its first chunk (mostly-numeric text columns included)."""
    names = csv_header(path)
    first = next(_text_chunks(path), b"")
    if not first:
        return []
    try:
        table = pacsv.read_csv(
            pa.BufferReader(first),
            read_options=pacsv.ReadOptions(column_names=names, block_size=_PARSE_BLOCK),
        )
    except pa.ArrowInvalid as exc:
        raise UserError(f"{path}: malformed CSV ({first_line(exc)})") from exc
    numeric = []
    for name, column in zip(table.column_names, table.columns, strict=True):
        if any(check(column.type) for check in _NUMERIC_TYPES):
            numeric.append(name)
        elif pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            present = column.drop_null()
            if len(present) and _parseable(present).sum() >= NUMERIC_SHARE * len(present):
                numeric.append(name)
    return numeric


def iter_csv(
    path: Path, numeric: set[str], columns: Sequence[str], raw_columns: set[str] | None = None
) -> Iterator[Chunk]:
    """Chunks of a CSV restricted to `columns`; `raw_columns` (labels, predictions) come as object arrays."""
    names = csv_header(path)
    for text in _text_chunks(path):
        table = _parse(path, text, names, columns, numeric)
        yield _chunk_from_table(table, numeric, raw_columns or set())


def _chunk_from_table(table: pa.Table, numeric: set[str], raw: set[str]) -> Chunk:
    columns: dict[str, np.ndarray | CategoryCounts] = {}
    unparseable: dict[str, int] = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        if name in raw:
            # Row-aligned text: labels pair up with predictions row by row, so nothing may be dropped.
            columns[name] = np.asarray(column.cast(pa.string()).to_numpy(zero_copy_only=False), dtype=object)
        elif name in numeric:
            columns[name], unparseable[name] = to_float(column)
        else:
            columns[name] = _count_categories(column)
    return Chunk(columns, unparseable, table.num_rows)


def to_float(column: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, int]:
    """Text (or already float) cells to float64 (null -> NaN); unparseable cells are dropped and counted."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_floating(column.type) or pa.types.is_integer(column.type) or pa.types.is_null(column.type):
        return _as_numpy(column.cast(pa.float64())), 0
    try:
        return _as_numpy(pc.cast(column, pa.float64())), 0
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    ok = _parseable(column)
    valid = pc.if_else(pa.array(ok), column, pa.nulls(len(column), pa.string()))
    bad = int((~ok & ~np.asarray(column.is_null())).sum())
    try:
        values = _as_numpy(pc.cast(valid, pa.float64()))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        values = np.array([_py_float(v) for v in valid.to_pylist()], dtype=np.float64)
    # Bad cells are not missing values: drop them so that missing counts NaN cells only.
    keep = ok | np.asarray(column.is_null())
    return values[keep], bad


_FLOAT_RE = r"^\s*[-+]?((\d+\.?\d*|\.\d+)([eE][-+]?\d+)?|inf|Inf|INF|infinity|Infinity|nan|NaN)\s*$"


def _parseable(column: pa.Array) -> np.ndarray:
    mask = pc.match_substring_regex(column, _FLOAT_RE)
    return np.asarray(mask.fill_null(False))


def _py_float(value: str | None) -> float:
    if value is None:
        return math.nan
    try:
        return float(value)
    except ValueError:
        return math.nan


def _as_numpy(array: pa.Array) -> np.ndarray:
    return np.asarray(array.to_numpy(zero_copy_only=False), dtype=np.float64)


def _count_categories(column: pa.Array | pa.ChunkedArray) -> CategoryCounts:
    counts = pc.value_counts(column.cast(pa.string()))
    tally: dict[str, int] = {}
    missing = 0
    for value, n in zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True):
        if value is None or value == "":
            missing += n
        else:
            tally[str(value)] = n
    return CategoryCounts(tally, missing)


# ---- JSON lines (plain records or SageMaker data capture) --------------------------------------------------


def iter_jsonl(
    path: Path, numeric: set[str], columns: Sequence[str], raw_columns: set[str] | None = None
) -> Iterator[Chunk]:
    """Chunks of a JSON-lines file: each line a flat record, or a SageMaker capture record read by drift_core's
    capture codec (the drift Lambda's): its request rows are in the feature order, `columns` less `raw_columns`.
    A capture line the codec cannot read is a UserError naming the file and line."""
    features = [c for c in columns if c not in (raw_columns or set())]
    rows: list[dict[str, object]] = []
    for number, line in enumerate(utf8_lines(path), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UserError(f"{path}:{number}: not valid JSON ({exc.msg})") from exc
        rows.extend(_records(record, features, f"{path}:{number}"))
        if len(rows) >= JSON_CHUNK_ROWS:
            yield _chunk_from_rows(rows, numeric, columns, raw_columns or set())
            rows = []
    if rows:
        yield _chunk_from_rows(rows, numeric, columns, raw_columns or set())


def _records(record: object, features: Sequence[str], where: str) -> list[dict[str, object]]:
    if not isinstance(record, dict):
        return []
    if not is_capture(record):
        return [record]
    try:
        capture = decode_record(record, features)
    except Malformed as exc:
        raise UserError(f"{where}: capture record unreadable ({exc})") from None
    return [dict(zip(features, row, strict=True)) for row in capture.rows]


def _chunk_from_rows(rows: list[dict[str, object]], numeric: set[str], columns: Sequence[str], raw: set[str]) -> Chunk:
    out: dict[str, np.ndarray | CategoryCounts] = {}
    unparseable: dict[str, int] = {}
    for name in columns:
        if not any(name in r for r in rows):
            continue
        cells = [r.get(name) for r in rows]
        if name in numeric:
            values = pa.array([None if c is None else str(c) for c in cells], type=pa.string())
            out[name], unparseable[name] = to_float(values)
        else:
            arr = np.array([None if c is None else str(c) for c in cells], dtype=object)
            out[name] = arr if name in raw else _count_objects(arr)
    return Chunk(out, unparseable, len(rows))


def _count_objects(arr: np.ndarray) -> CategoryCounts:
    return _count_categories(pa.array(arr.tolist(), type=pa.string()))


def utf8_lines(path: Path) -> Iterator[str]:
    """The lines of a JSON-lines file; a binary or latin-1 file is a UserError naming it and the line."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise UserError(f"{path}:{number}: {utf8_problem(exc)}") from None


def jsonl_columns(path: Path) -> list[str]:
    """Column names seen in the first records of a JSON-lines file (capture CSV records have none)."""
    for line in utf8_lines(path):
        if line.strip():
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise UserError(f"{path}:1: not valid JSON ({exc.msg})") from exc
            return list(record) if isinstance(record, dict) and not is_capture(record) else []
    return []


ChunkReader = Callable[[Path, set[str], Sequence[str], set[str] | None], Iterator[Chunk]]


def reader_for(path: Path) -> ChunkReader:
    return iter_jsonl if is_jsonl(path) else iter_csv
