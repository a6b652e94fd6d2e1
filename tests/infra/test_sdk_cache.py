"""The synth-time SDK cache: same inputs and builder code, same entry; a changed builder recomputes."""

from __future__ import annotations

from pathlib import Path

from stacks.constructs.sdk_cache import cached


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
