"""The SDK build cache: same inputs reuse the stored result, other inputs (or another SDK version) recompute."""

from __future__ import annotations

from pathlib import Path

from stacks.constructs.sdk_cache import cached


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
