"""A KLL quantile sketch (Karnin, Lang, Liberty 2016) in numpy, laid out as Deequ's KLLSketch, which SageMaker Model
Monitor writes into statistics.json (`distribution.kll.sketch`: `parameters {c, k}` and `data`, one list of items
per compactor level; "Schema for Statistics (statistics.json file)",
https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-byoc-statistics.html).

Level h holds items of weight 2**h. Its capacity is Deequ's (QuantileNonSample.capacity):
2 * (ceil(k * c**h / 2) + 1), so the sketch holds at most about 2k / (1 - c) items whatever the stream length.
When the items held exceed the levels' total capacity, the lowest full level is compacted: its items are sorted
and every other one (alternating the start, as Deequ does, so errors tend to cancel) moves up a level with twice
the weight; an odd item stays. Streaming updates take a whole chunk at once (numpy), and two sketches merge level
by level, as Deequ's merge does.

Error: one compaction at level h moves any rank by at most 2**h (only the pair that straddles the query can
change side), so `rank_error_bound` (the sum of 2**h over every compaction, merges included) bounds the absolute
rank error of every query, deterministically. Numpy only; Python 3.9 (the SageMaker images run drift_core).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

# Deequ's and Model Monitor's defaults (KLLSketch.DEFAULT_SKETCH_SIZE, DEFAULT_SHRINKING_FACTOR).
DEFAULT_K = 2048
DEFAULT_C = 0.64


class KLLSketch:
    """Mergeable streaming quantiles of finite float values; memory O(k / (1 - c))."""

    def __init__(self, k: int = DEFAULT_K, c: float = DEFAULT_C) -> None:
        if k < 2 or not 0.5 <= c < 1.0:
            raise ValueError(f"KLL parameters: need k >= 2 and 0.5 <= c < 1, got k={k}, c={c}")
        self.k, self.c = int(k), float(c)
        self.levels: list[np.ndarray] = [np.empty(0)]
        self.compactions: list[int] = [0]  # per level: how many compactions (error bound, start alternation)
        self.merged_error = 0  # rank error bound carried in by merges (the other sketch's compactions)
        self.n = 0  # values seen; also the items' total weight (a compaction keeps m/2 items of twice the weight)

    def capacity(self, height: int) -> int:
        return 2 * (math.ceil(self.k * self.c**height / 2) + 1)

    @property
    def size(self) -> int:
        return sum(level.size for level in self.levels)

    @property
    def rank_error_bound(self) -> int:
        """Largest possible |estimated rank - exact rank| of any value (in items, not a fraction)."""
        return self.merged_error + sum(count << h for h, count in enumerate(self.compactions))

    def update(self, values: np.ndarray) -> KLLSketch:
        """Add a chunk of finite values (the caller filters NaN and inf, see drift_core.finite); returns self."""
        x = np.asarray(values, dtype=np.float64).ravel()
        if x.size:
            self.levels[0] = np.concatenate((self.levels[0], x))
            self.n += x.size
            self._condense()
        return self

    def merge(self, other: KLLSketch) -> KLLSketch:
        """Add another sketch (same k and c) level by level, then compact as needed; returns self."""
        if (other.k, other.c) != (self.k, self.c):
            raise ValueError(f"cannot merge KLL sketches with k, c = {self.k}, {self.c} and {other.k}, {other.c}")
        self._grow(len(other.levels))
        for h, level in enumerate(other.levels):
            self.levels[h] = np.concatenate((self.levels[h], level))
        self.n += other.n
        self.merged_error += other.rank_error_bound
        self._condense()
        return self

    def _grow(self, height: int) -> None:
        while len(self.levels) < height:
            self.levels.append(np.empty(0))
            self.compactions.append(0)

    def _condense(self) -> None:
        while self.size > sum(self.capacity(h) for h in range(len(self.levels))):
            # The lowest full level; one exists, since the levels together hold more than their capacities.
            h = next(h for h, level in enumerate(self.levels) if level.size >= self.capacity(h))
            self._grow(h + 2)
            self._compact(h)

    def _compact(self, h: int) -> None:
        # A level far over capacity (a large chunk arrived at once) is compacted whole: one compaction, so one
        # item's weight of error, for one sort. (Rows of a few capacities sort faster but measured 3-10x the error.)
        level = self.levels[h]
        even = level.size - level.size % 2
        ordered = np.sort(level[:even])
        # Deequ's NonSampleCompactor flips the start after every odd-numbered compaction: 0, 1, 1, 0, 0, 1, ...
        start = (self.compactions[h] + 1) // 2 % 2
        self.levels[h + 1] = np.concatenate((self.levels[h + 1], ordered[start::2]))
        self.levels[h] = level[even:]
        self.compactions[h] += 1

    def _weighted(self) -> tuple[np.ndarray, np.ndarray]:
        items = np.concatenate(self.levels)
        weights = np.concatenate([np.full(level.size, 1 << h, dtype=np.int64) for h, level in enumerate(self.levels)])
        order = np.argsort(items, kind="stable")
        return items[order], np.cumsum(weights[order])

    def rank(self, values: Sequence[float] | np.ndarray) -> np.ndarray:
        """Estimated number of values <= each query (inclusive rank, as Deequ's getRank)."""
        items, cumulative = self._weighted()
        at = np.searchsorted(items, np.asarray(values, dtype=np.float64), side="right")
        return np.concatenate(([0], cumulative))[at]

    def quantile(self, fractions: Sequence[float] | np.ndarray) -> np.ndarray:
        """The smallest item whose estimated rank reaches q x n, for each q in [0, 1]."""
        items, cumulative = self._weighted()
        if not items.size:
            raise ValueError("quantile of an empty KLL sketch")
        wanted = np.asarray(fractions, dtype=np.float64) * cumulative[-1]
        return items[np.minimum(np.searchsorted(cumulative, wanted, side="left"), items.size - 1)]

    def to_dict(self) -> dict[str, Any]:
        """Model Monitor's `kll.sketch`: parameters and the items of each level, lowest (weight 1) first."""
        return {
            "parameters": {"c": self.c, "k": float(self.k)},
            "data": [level.tolist() for level in self.levels],
        }

    @classmethod
    def from_dict(cls, sketch: dict[str, Any], rank_error_bound: int = 0) -> KLLSketch:
        """A sketch read back from `kll.sketch`. The error bound is not in Model Monitor's format (ours keeps it
        under `mlops_drift`); n is the items' total weight, which compactions preserve."""
        parameters = sketch.get("parameters", {})
        made = cls(int(parameters.get("k", DEFAULT_K)), float(parameters.get("c", DEFAULT_C)))
        data = sketch.get("data") or [[]]
        made.levels = [np.asarray(level, dtype=np.float64).ravel() for level in data]
        made.compactions = [0] * len(made.levels)
        made.n = sum(level.size << h for h, level in enumerate(made.levels))
        made.merged_error = int(rank_error_bound)
        return made
