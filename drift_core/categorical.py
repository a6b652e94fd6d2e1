"""Mergeable accumulator of one categorical (string) feature: category frequencies plus missing count."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np


def is_missing(value: object) -> bool:
    """None, NaN and the empty string are missing in a categorical column (as in a CSV cell)."""
    if value is None:
        return True
    if isinstance(value, float) and value != value:
        return True
    return isinstance(value, str) and value == ""


def category_key(value: object) -> str:
    """Categories are compared as strings, the way Model Monitor's string_statistics stores them."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    return str(value)


@dataclass
class CategoryCounts:
    """A chunk of a categorical column already counted (e.g. by pyarrow), accepted wherever arrays are."""

    counts: dict[str, int]
    missing: int = 0


@dataclass
class CategoricalAccumulator:
    """Counts per category; memory O(distinct categories)."""

    counts: dict[str, int] = field(default_factory=dict)
    rows: int = 0
    missing: int = 0

    def update(self, values: np.ndarray | list[object] | CategoryCounts) -> None:
        """Add a chunk of raw values (None / NaN / "" count as missing) or of pre-counted categories."""
        if isinstance(values, CategoryCounts):
            self.update_counts(values.counts, values.missing)
            return
        items = values.tolist() if isinstance(values, np.ndarray) else list(values)
        tally: dict[str, int] = {}
        missing = 0
        # Counter runs in C; the per-key cleanup below only touches distinct values.
        for value, n in Counter(items).items():
            if is_missing(value):
                missing += n
            else:
                key = category_key(value)
                tally[key] = tally.get(key, 0) + n
        self.update_counts(tally, missing)

    def update_counts(self, counts: Mapping[str, int], missing: int = 0) -> None:
        """Add pre-counted categories (e.g. from pyarrow's value_counts in the CLI reading layer)."""
        for key, n in counts.items():
            self.counts[key] = self.counts.get(key, 0) + int(n)
            self.rows += int(n)
        self.rows += int(missing)
        self.missing += int(missing)

    def merge(self, other: CategoricalAccumulator) -> CategoricalAccumulator:
        self.update_counts(other.counts, other.missing)
        return self

    @property
    def present(self) -> int:
        return self.rows - self.missing

    @property
    def completeness(self) -> float | None:
        return self.present / self.rows if self.rows else None

    def frequencies(self) -> dict[str, float]:
        total = self.present
        return {k: v / total for k, v in self.counts.items()} if total else {}
