"""What every CLI command reads from or writes for a user, checked once: JSON files, output folders, numeric flags.

Each check turns the failure into a UserError whose message names the file or flag (exit 2, one line on stderr;
see docs/cli-input-rules.md), instead of the OSError / UnicodeDecodeError / OverflowError traceback it would be.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlops.errors import UserError

# Numeric flags are bounded so that the arithmetic behind them stays finite: 1e308 req/s is finite, but the peak
# (x peak factor) or a monthly count (x 730 h x 3600 s) of it overflows to inf. 1e12 is far above any real figure.
FLAG_LIMIT = 1e12
# What `mlops serve` and `mlops rightsize --model-dir` need in a model folder.
MODEL_FILES = ("model.joblib", "model_meta.json")


def read_text(path: Path, what: str = "file") -> str:
    """A UTF-8 text file; a missing file, a folder, an unreadable or a non-UTF-8 (binary, latin-1) file is a
    UserError naming it."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{path}: {what} not found") from None
    except IsADirectoryError:
        raise UserError(f"{path}: is a folder, expected a {what}") from None
    except UnicodeDecodeError as exc:
        raise not_utf8(path, exc) from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read the {what} ({exc.strerror or type(exc).__name__})") from None


def not_utf8(path: Path, exc: UnicodeDecodeError, offset: int = 0) -> UserError:
    """A binary or latin-1 file where UTF-8 text is expected, named with the first bad byte and its offset."""
    return UserError(f"{path}: {utf8_problem(exc, offset)}")


def utf8_problem(exc: UnicodeDecodeError, offset: int = 0) -> str:
    return f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {offset + exc.start})"


def check_text_file(path: Path, head_bytes: int = 1 << 16) -> None:
    """A file that must be UTF-8 text (CSV, JSON lines): a NUL byte or invalid UTF-8 in its first 64 KiB is a
    UserError naming it, before a parser turns the bytes into a confusing message (or prints them)."""
    with path.open("rb") as handle:
        head = handle.read(head_bytes)
    if b"\0" in head:
        raise UserError(f"{path}: a binary file (NUL byte at offset {head.index(0)}), expected UTF-8 text")
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:  # not just a character cut by the end of the sample
            raise not_utf8(path, exc) from None


def read_json(path: Path, what: str = "JSON file") -> Any:
    """Any JSON document from a file (see read_text for the file errors)."""
    return parse_json(read_text(path, what), path)


def parse_json(text: str, path: Path) -> Any:
    """JSON text read from `path`; invalid JSON is a UserError naming the file, line and column."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None


def read_json_object(path: Path, what: str = "JSON file") -> dict[str, Any]:
    """A JSON file whose root must be an object."""
    data = read_json(path, what)
    return require_object(data, str(path))


def require_object(value: Any, where: str) -> dict[str, Any]:
    """`value` if it is a JSON object, else a UserError naming `where` (a file, or file + key)."""
    if not isinstance(value, dict):
        raise UserError(f"{where}: expected a JSON object, got {_json_type(value)}")
    return value


def _json_type(value: Any) -> str:
    names = {list: "a list", str: "a string", bool: "a boolean", type(None): "null", int: "a number", float: "a number"}
    return names.get(type(value), type(value).__name__)


def output_dir(path: Path, flag: str, shown: Path | None = None) -> Path:
    """Create (if needed) and check an output folder given by `flag` (as `shown`, when the flag names a file in
    it): a file in its place or on its way, or a folder this process cannot write, is a UserError before any work
    is done."""
    shown = shown or path
    for part in [path, *path.parents]:
        if part.exists() and not part.is_dir():
            where = "is a file" if part == shown else f"{part} is a file"
            raise UserError(f"{flag} {shown}: {where}, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        # os.access is wrong for root and for read-only mounts; creating a file is the test that counts.
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-check-"):
            pass
    except OSError as exc:
        raise UserError(f"{flag} {shown}: not writable ({exc.strerror or type(exc).__name__})") from None
    return path


def output_file(path: Path, flag: str) -> Path:
    """An output file given by `flag`: its folder is checked as output_dir checks one; a folder in its place is
    a UserError."""
    if path.is_dir():
        raise UserError(f"{flag} {path}: is a folder, expected a file name")
    output_dir(path.parent, flag, shown=path)
    return path


def dumps(data: Any) -> str:
    """JSON text for output: a non-finite number (inf, NaN) is a bug or unchecked input, never `Infinity` in a
    document that JSON parsers refuse (RFC 8259 section 6 has no such numbers)."""
    try:
        return json.dumps(data, allow_nan=False)
    except ValueError:
        raise ValueError(f"non-finite number in JSON output at {_non_finite_path(data)}") from None


def _non_finite_path(data: Any, where: str = "$") -> str:
    if isinstance(data, float) and not math.isfinite(data):
        return where
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list | tuple) else []
    for key, value in items:
        found = _non_finite_path(value, f"{where}.{key}")
        if found:
            return found
    return ""


def number(
    low: float | None = None,
    high: float = FLAG_LIMIT,
    *,
    low_inclusive: bool = True,
    integer: bool = False,
) -> Callable[[str], float]:
    """An argparse `type` for a finite number within [low, high] (or (low, high] when not low_inclusive).

    `inf`, `nan`, and values past `high` are refused by argparse with the flag's name (exit 2, one line)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
        if integer and not value.is_integer():
            raise argparse.ArgumentTypeError(f"must be a whole number, got {text}")
        too_low = low is not None and (value < low if low_inclusive else value <= low)
        if too_low or value > high:
            bracket = "[" if low_inclusive else "("
            raise argparse.ArgumentTypeError(f"must be within {bracket}{low:g}, {high:g}], got {text}")
        return int(value) if integer else value

    parse.__name__ = "number"  # argparse names the type in its message: "invalid number value"
    return parse


def check_model_dir(model_dir: Path) -> None:
    if not model_dir.is_dir():
        raise UserError(f"model directory not found: {model_dir}")
    for name in MODEL_FILES:
        if not (model_dir / name).is_file():
            raise UserError(f"model directory {model_dir} has no {name}")


def model_load_error(exc: Exception) -> UserError:
    """One line for a model that does not load: its own cause named with its type (a corrupt joblib file fails
    with e.g. KeyError: 189, which alone says nothing)."""
    from pipeline_code.common import first_line  # here: the step library imports pandas

    cause = exc.__cause__
    detail = f" ({type(cause).__name__}: a corrupt or incomplete model file?)" if cause is not None else ""
    return UserError(f"{first_line(exc).rstrip(': ')}{detail}")


def display_path(path: Path) -> str:
    """Relative to the working directory when inside it: shorter, and the same on every checkout."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
