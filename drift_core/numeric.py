"""Mergeable accumulator of one numeric feature: counts, moments, min/max and a histogram on fixed edges.

Memory is O(bins), never O(rows). Two accumulators over disjoint chunks merge into the one-shot result:
counts, min, max and histogram exactly; mean and variance up to float rounding. Moments are kept as (mean, M2)
of values shifted by a reference value (the baseline mean when the mean is large against the spread) and
merged with Chan's parallel formula, so 1e9 + N(0, 1) keeps std 1.0 instead of cancelling to 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from drift_core.binning import Binner
from drift_core.finite import MAX_MAGNITUDE, usable
from drift_core.kll import KLLSketch

# Values are processed in blocks that stay in the CPU cache; every numpy pass below then costs little.
_BLOCK = 1 << 18

# Below this |mean| / std ratio, raw sums lose < 1e-12 of the variance to cancellation, so the shifting pass
# is skipped; above it (e.g. 1e9 + N(0, 1)) values are shifted by the reference value first.
_SHIFT_RATIO = 100.0


def reference_shift(mean: float | None, std: float | None) -> float:
    """Shift for the sums of a feature whose baseline has this mean and std: 0.0 unless cancellation
    matters."""
    if mean is None or not math.isfinite(mean):
        return 0.0
    if std is not None and math.isfinite(std) and abs(mean) <= _SHIFT_RATIO * std:
        return 0.0
    return float(mean)


@dataclass
class NumericAccumulator:
    """Running statistics of one numeric column against the bin edges of its baseline."""

    binner: Binner
    shift: float = 0.0
    rows: int = 0
    missing: int = 0
    unparseable: int = 0
    present: int = 0
    mean_d: float = 0.0
    m2: float = 0.0
    minimum: float = math.inf
    maximum: float = -math.inf
    all_integral: bool = True
    raw: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    # Baselines only (Model Monitor's `kll.sketch`); a window's accumulator carries none and pays nothing for it.
    sketch: KLLSketch | None = None

    def __post_init__(self) -> None:
        if self.raw.size == 0:
            self.raw = np.zeros(self.binner.raw_size, dtype=np.int64)
        if not math.isfinite(self.shift):
            self.shift = 0.0

    @property
    def edges(self) -> np.ndarray:
        return self.binner.edges

    @property
    def counts(self) -> np.ndarray:
        """Counts per bin: [below edge 0, [edge 0, edge 1), ..., [last edge, +inf)]."""
        return self.binner.to_bins(self.raw)

    def update(self, values: np.ndarray, unparseable: int = 0) -> None:
        """Add a chunk of values (NaN = missing; non-finite cells, see drift_core.finite, count as unparseable)
        and a count of unparseable cells."""
        x = np.asarray(values)
        if x.dtype != np.float64:
            x = x.astype(np.float64)
        x = x.ravel()
        self.rows += x.size + unparseable
        self.unparseable += unparseable
        scratch = np.empty(min(x.size, _BLOCK), dtype=np.float64)
        for start in range(0, x.size, _BLOCK):
            self._update_block(x[start : start + _BLOCK], scratch)

    def _update_block(self, x: np.ndarray, scratch: np.ndarray) -> None:
        lo, hi = float(x.min()), float(x.max())  # NaN when the block holds a NaN
        if not (lo >= -MAX_MAGNITUDE and hi <= MAX_MAGNITUDE):
            # Slow path only for blocks with missing or non-finite cells (drift_core.finite: counted as
            # unparseable, left out of every statistic).
            nan = np.isnan(x)
            ok = usable(x)
            self.missing += int(nan.sum())
            self.unparseable += int((~nan & ~ok).sum())
            x = x[ok]
            if x.size == 0:
                return
            lo, hi = float(x.min()), float(x.max())
        d = np.subtract(x, self.shift, out=scratch[: x.size]) if self.shift else x
        s = float(d.sum())
        n = x.size
        block_mean = s / n
        block_m2 = float(np.einsum("i,i->", d, d)) - s * block_mean
        # One-pass M2 = sum(d^2) - n mean^2 cancels when the mean is large against the spread (e.g. a constant
        # far from the shift); then the block pays one more pass for the exact two-pass M2.
        if not block_m2 > 1e-6 * (block_m2 + s * block_mean):
            block_m2 = float(np.einsum("i,i->", d - block_mean, d - block_mean))
        self._combine(n, block_mean, block_m2)
        self.minimum = min(self.minimum, lo)
        self.maximum = max(self.maximum, hi)
        if self.sketch is not None:
            self.sketch.update(x)
        # The shifted copy is no longer needed: its buffer becomes the binning scratch space.
        self.raw += self.binner.raw_histogram(x, scratch=scratch[: x.size], bounds=(lo, hi))

    def track_integral(self, values: np.ndarray) -> None:
        """Only the baseline needs Model Monitor's Integral/Fractional type, so this costs nothing
        elsewhere."""
        x = np.asarray(values, dtype=np.float64)
        x = x[usable(x)]
        if self.all_integral and x.size:
            self.all_integral = bool(np.all(x == np.floor(x)))

    def merge(self, other: NumericAccumulator) -> NumericAccumulator:
        """Combine with an accumulator of a disjoint chunk (same edges); returns self."""
        same = other.binner is self.binner or (
            other.raw.shape == self.raw.shape
            and np.array_equal(other.edges, self.edges)
            and other.binner.grid_params() == self.binner.grid_params()
        )
        if not same:
            raise ValueError("cannot merge accumulators with different bins")
        if other.present:
            # The other's mean, re-expressed around this shift; M2 does not depend on the shift.
            self._combine(other.present, other.mean_d + (other.shift - self.shift), other.m2)
        self.rows += other.rows
        self.missing += other.missing
        self.unparseable += other.unparseable
        self.minimum = min(self.minimum, other.minimum)
        self.maximum = max(self.maximum, other.maximum)
        self.all_integral = self.all_integral and other.all_integral
        self.raw += other.raw
        # A sketch must cover every value: one side without a sketch leaves the merged accumulator without one.
        if self.sketch is not None and other.sketch is not None:
            self.sketch.merge(other.sketch)
        else:
            self.sketch = None
        return self

    def _combine(self, n: int, mean_d: float, m2: float) -> None:
        """Chan et al.'s pairwise update of (count, mean, M2): stable for any sizes and offsets."""
        total = self.present + n
        delta = mean_d - self.mean_d
        self.mean_d += delta * n / total
        self.m2 += m2 + delta * delta * self.present * n / total
        self.present = total

    @property
    def mean(self) -> float | None:
        return self.shift + self.mean_d if self.present else None

    @property
    def std(self) -> float | None:
        """Sample standard deviation (ddof=1, as pandas and Model Monitor); 0.0 for a single value."""
        if self.present == 0:
            return None
        if self.present == 1:
            return 0.0
        return math.sqrt(max(self.m2, 0.0) / (self.present - 1))

    @property
    def total(self) -> float | None:
        return (self.shift + self.mean_d) * self.present if self.present else None

    @property
    def completeness(self) -> float | None:
        """Share of rows holding a parseable, present value; None for an empty window."""
        return self.present / self.rows if self.rows else None
