"""Exact, fast assignment of values to non-uniform (quantile) bins.

`np.searchsorted` over 1000 edges costs ~60 ms per million values, which alone would blow the 15x-of-a-read
budget of the drift report. Instead a uniform grid of `grid_size` cells is laid over the edges: a value's cell
is one multiply-add, a lookup table gives the number of edges in earlier cells, and a few comparisons against
the edges inside the value's own cell make the result exact (identical to `searchsorted(edges, x,
side="right")`).

Exactness argument: the cell of a value is computed by the same monotone float expression as the cell of an
edge, so cell(x) > cell(e) implies x > e and cell(x) < cell(e) implies x < e; only edges in the same cell need
comparing.
"""

from __future__ import annotations

import math

import numpy as np

_MAX_GRID = 1 << 17  # 1 MiB of table per feature at most
_MAX_EDGES_PER_CELL = 3


class BinIndex:
    """Maps finite values to bin numbers 0..len(edges): the number of edges <= value."""

    def __init__(self, edges: np.ndarray, grid_size: int = 1 << 15) -> None:
        self.edges = np.ascontiguousarray(edges, dtype=np.float64)
        if self.edges.ndim != 1 or self.edges.size == 0 or np.any(np.diff(self.edges) <= 0):
            raise ValueError("edges must be a non-empty, strictly increasing 1-d array")
        self.n_bins = self.edges.size + 1
        # Sentinel +inf so that the correction step never indexes past the last edge.
        self._edges_pad = np.append(self.edges, np.inf)
        self._setup_grid(grid_size)

    def _setup_grid(self, grid_size: int) -> None:
        lo, hi = float(self.edges[0]), float(self.edges[-1])
        span = hi - lo
        # A span so small that (grid - 1) / span overflows (subnormal edges) cannot be gridded: 0 * inf is NaN.
        self._fallback = span <= 0 or not math.isfinite(span) or not math.isfinite((grid_size - 1) / span)
        if self._fallback:
            return
        grid = grid_size
        while True:
            self._grid = grid
            self._lo = lo
            self._scale = (grid - 1) / span
            per_cell = np.bincount(self.cells(self.edges), minlength=grid)
            if int(per_cell.max()) <= _MAX_EDGES_PER_CELL or grid >= _MAX_GRID:
                break
            grid *= 4
        # Skewed data (a dense cluster far from outliers) leaves a few cells with many edges: values in those
        # cells are binned by searchsorted, all others by the grid, so the result stays exact either way.
        self._crowded = per_cell > _MAX_EDGES_PER_CELL
        self._has_crowded = bool(self._crowded.any())
        self._steps = int(per_cell[~self._crowded].max(initial=0))
        # table[c] = number of edges whose cell is < c.
        self._table = np.concatenate(([0], np.cumsum(per_cell)[:-1])).astype(np.intp)

    def cells(self, values: np.ndarray) -> np.ndarray:
        """Grid cell of each value, with the exact float expression used for edges and values alike."""
        # Far-out values overflow to +-inf here; the clip right after maps them to the end cells.
        with np.errstate(over="ignore"):
            u = np.subtract(values, self._lo)
            np.multiply(u, self._scale, out=u)
        np.clip(u, 0.0, self._grid - 1, out=u)
        return u.astype(np.intp)

    def assign(self, values: np.ndarray) -> np.ndarray:
        """Bin number of every (finite) value; NaN must be removed by the caller."""
        if self._fallback:
            return np.searchsorted(self.edges, values, side="right")
        cells = self.cells(values)
        b = np.take(self._table, cells)
        for _ in range(self._steps):
            b += values >= np.take(self._edges_pad, b)
        if self._has_crowded:
            slow = np.flatnonzero(np.take(self._crowded, cells))
            if slow.size:
                b[slow] = np.searchsorted(self.edges, values[slow], side="right")
        return b

    @property
    def raw_size(self) -> int:
        return self.n_bins

    def grid_params(self) -> dict[str, float] | None:
        return None

    def raw_histogram(
        self, values: np.ndarray, scratch: np.ndarray | None = None, bounds: tuple[float, float] | None = None
    ) -> np.ndarray:
        """Counts per bin (length len(edges) + 1); scratch and bounds are unused here."""
        return np.bincount(self.assign(values), minlength=self.n_bins)

    def to_bins(self, raw: np.ndarray) -> np.ndarray:
        return np.asarray(raw, dtype=np.int64)


# Adding 1.5 * 2**52 rounds a float in [0, 2**51) to an integer held in the low mantissa bits; reading those
# bits back as int64 is several times cheaper than `astype(np.intp)`. Rounding is monotone, which is all we
# need.
_MAGIC = 6755399441055744.0
_MAGIC_BITS = np.array(_MAGIC).view(np.int64).item()


class GridBins:
    """Bins whose edges sit exactly on the boundaries of a uniform grid, so binning needs no comparison at
    all.

    The grid maps a value to cell round(clip(x * scale + offset, 0, cells - 1)); a baseline's quantile edges
    are snapped to the smallest float of their cell, so counting cells (one `bincount`) and summing cells
    between edges gives exactly `searchsorted(edges, x, side="right")` counts. Cells 0 and cells-1 lie outside
    the edges and collect everything below / above the baseline range.
    """

    def __init__(self, scale: float, offset: float, cells: int, edges: np.ndarray) -> None:
        self.scale = float(scale)
        self.offset = float(offset)
        self.cells = int(cells)
        self._shifted_offset = self.offset + _MAGIC
        # Inside [low, high] a value surely lands in cells 0..cells-1; inside the safe range the magic-number
        # rounding is valid (|x * scale + offset| far below 2**51).
        self._low = (1.0 - self.offset) / self.scale
        self._high = (self.cells - 2 - self.offset) / self.scale
        self._safe_low = (-(2.0**40) - self.offset) / self.scale
        self._safe_high = (2.0**40 - self.offset) / self.scale
        self.edges = np.ascontiguousarray(edges, dtype=np.float64)
        self.edge_cells = self.cell_of(self.edges)
        self.n_bins = self.edges.size + 1

    @classmethod
    def snap(cls, quantiles: np.ndarray, cells: int = 1 << 13) -> GridBins | None:
        """Grid bins approximating the given (sorted, unique) quantile edges; None if snapping merges too
        many."""
        q = np.asarray(quantiles, dtype=np.float64)
        if q.size < 2 or not np.isfinite(q).all():
            return None
        span = float(q[-1] - q[0])
        if not (span > 0 and math.isfinite(span)):
            return None
        while cells <= (1 << 18):
            scale = (cells - 4) / span
            offset = 2.0 - float(q[0]) * scale
            probe = cls(scale, offset, cells, q[:1])
            edge_cells = np.unique(probe.cell_of(q))
            if edge_cells.size >= 0.9 * q.size:
                edges = probe.boundaries(edge_cells)
                return cls(scale, offset, cells, edges)
            cells *= 4
        return None

    @classmethod
    def verified(cls, scale: float, offset: float, cells: int, edges: np.ndarray) -> GridBins | None:
        """Rebuild stored grid bins, or None if the edges are not exact cell boundaries (then use
        BinIndex)."""
        try:
            grid = cls(scale, offset, cells, edges)
        except (ValueError, ZeroDivisionError, OverflowError):
            return None
        below = grid.cell_of(np.nextafter(grid.edges, -np.inf))
        ok = (
            np.all(np.diff(grid.edge_cells) > 0)
            and np.all(below < grid.edge_cells)
            and grid.edge_cells[0] >= 1
            and grid.edge_cells[-1] <= grid.cells - 1
        )
        return grid if ok else None

    def cell_of(
        self, values: np.ndarray, out: np.ndarray | None = None, bounds: tuple[float, float] | None = None
    ) -> np.ndarray:
        """Cell of each finite value, as an int64 view of `out` (overwritten when given).

        cell(x) = clip(bits(fl(fl(x * scale) + offset + MAGIC)) - MAGIC_BITS, 0, cells - 1): monotone in x and
        the same function for edges and data. `bounds` (the min and max of `values`, known to the caller) lets
        the common in-range case skip both clips.
        """
        x = np.asarray(values, dtype=np.float64)
        if bounds is None:
            bounds = (float(x.min()), float(x.max())) if x.size else (0.0, 0.0)
        lo, hi = bounds
        if lo < self._safe_low or hi > self._safe_high:
            x = np.clip(x, self._safe_low, self._safe_high)
        u = np.multiply(x, self.scale, out=out)
        u += self._shifted_offset
        cells = u.view(np.int64)
        cells -= _MAGIC_BITS
        if lo < self._low or hi > self._high:
            np.clip(cells, 0, self.cells - 1, out=cells)
        return cells

    def boundaries(self, edge_cells: np.ndarray) -> np.ndarray:
        """Smallest float whose cell is >= each given cell: bisection over the floats in their integer
        order."""
        target = np.asarray(edge_cells, dtype=np.int64)
        guess = (target - 0.5 - self.offset) / self.scale
        width = 1e-6 * (abs(self.offset) + self.cells + 1.0) / self.scale
        lo, hi = guess - width, guess + width
        while True:
            bad_lo = self.cell_of(lo) >= target
            bad_hi = self.cell_of(hi) < target
            if not (bad_lo.any() or bad_hi.any()):
                break
            width *= 16
            lo = np.where(bad_lo, guess - width, lo)
            hi = np.where(bad_hi, guess + width, hi)
        # Invariant: cell(lo) < target <= cell(hi); halve the ordered-integer gap until it is one float.
        klo, khi = _ordered(lo), _ordered(hi)
        while np.any(khi > klo + 1):
            # Halves first: khi - klo can overflow int64 when the bracket straddles zero.
            mid = klo // 2 + khi // 2 + (klo % 2 + khi % 2) // 2
            up = self.cell_of(_from_ordered(mid)) >= target
            khi = np.where(up, mid, khi)
            klo = np.where(up, klo, mid)
        return _from_ordered(khi)

    @property
    def raw_size(self) -> int:
        return self.cells

    def grid_params(self) -> dict[str, float] | None:
        return {"scale": self.scale, "offset": self.offset, "cells": self.cells}

    def raw_histogram(
        self, values: np.ndarray, scratch: np.ndarray | None = None, bounds: tuple[float, float] | None = None
    ) -> np.ndarray:
        """Counts per grid cell; sum them into bins with `to_bins`."""
        return np.bincount(self.cell_of(values, out=scratch, bounds=bounds), minlength=self.cells)

    def to_bins(self, cell_counts: np.ndarray) -> np.ndarray:
        """Sum cell counts between edges: bin 0 = below the first edge, bin k = [edge k-1, edge k)."""
        starts = np.concatenate(([0], self.edge_cells))
        return np.add.reduceat(cell_counts, starts).astype(np.int64)


def _ordered(x: np.ndarray) -> np.ndarray:
    """Map floats to int64 keys with the same order (negative floats have their magnitude bits flipped)."""
    bits = np.asarray(x, dtype=np.float64).view(np.int64)
    return np.where(bits < 0, -(bits & 0x7FFFFFFFFFFFFFFF), bits)


def _from_ordered(keys: np.ndarray) -> np.ndarray:
    bits = np.where(keys < 0, (-keys) | np.int64(-0x8000000000000000), keys)
    return bits.astype(np.int64).view(np.float64)


Binner = BinIndex | GridBins


def make_binner(edges: np.ndarray, grid: dict[str, float] | None = None) -> Binner:
    """Grid bins when the stored grid reproduces the edges exactly, else the general exact index."""
    if grid:
        try:
            rebuilt = GridBins.verified(float(grid["scale"]), float(grid["offset"]), int(grid["cells"]), edges)
        except (KeyError, TypeError, ValueError):
            rebuilt = None
        if rebuilt is not None:
            return rebuilt
    return BinIndex(edges)


def quantile_binner(values: np.ndarray, max_bins: int) -> Binner:
    """Bins at (up to) max_bins quantiles of the sorted finite values: snapped to a grid when possible."""
    probs = np.linspace(0.0, 1.0, max_bins + 1)
    quantiles = np.unique(np.quantile(values, probs, method="inverted_cdf"))
    grid = GridBins.snap(quantiles)
    return grid if grid is not None else BinIndex(quantiles)
