"""The SDK build cache: same inputs reuse the stored result; other inputs, another SDK version or a changed
builder recompute."""

from __future__ import annotations

from pathlib import Path

from pipeline_definition.sdk_cache import cached


def test_same_inputs_are_computed_once_other_inputs_again(tmp_path: Path) -> None:
    calls: list[str] = []

    def compute(value: str) -> str:
        calls.append(value)
        return value.upper()

    assert cached("k", {"a": 1}, lambda: compute("x"), tmp_path) == "X"
    assert cached("k", {"a": 1}, lambda: compute("never"), tmp_path) == "X"
    assert cached("k", {"a": 2}, lambda: compute("y"), tmp_path) == "Y"
    assert cached("other", {"a": 1}, lambda: compute("z"), tmp_path) == "Z"
    assert calls == ["x", "y", "z"]


def test_the_builders_code_is_part_of_the_key(tmp_path: Path) -> None:
    builder = tmp_path / "definition.py"
    builder.write_text("VERSION = 1\n")
    calls: list[str] = []

    def compute(value: str) -> str:
        calls.append(value)
        return value

    cache = tmp_path / "cache"
    assert cached("k", {"a": 1}, lambda: compute("first"), cache, code=[builder]) == "first"
    assert cached("k", {"a": 1}, lambda: compute("again"), cache, code=[builder]) == "first"  # a hit
    builder.write_text("VERSION = 2\n")
    assert cached("k", {"a": 1}, lambda: compute("rebuilt"), cache, code=[builder]) == "rebuilt"
    assert cached("k", {"a": 2}, lambda: compute("other input"), cache, code=[builder]) == "other input"
    assert calls == ["first", "rebuilt", "other input"]


def test_a_cache_that_cannot_be_written_still_gives_the_value(tmp_path: Path) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("")  # the cache folder would have to be inside a file: every write fails
    assert cached("k", {"a": 1}, lambda: "value", blocked / "sdk-cache") == "value"
    assert not (blocked.parent / "sdk-cache").exists()
