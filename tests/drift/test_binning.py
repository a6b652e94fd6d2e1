"""Fast binning must equal searchsorted(edges, x, side="right") exactly, whatever the data."""

from __future__ import annotations

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from drift_core.binning import BinIndex, GridBins, quantile_binner

finite = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False)


def _reference(edges: np.ndarray, x: np.ndarray) -> np.ndarray:
    return np.bincount(np.searchsorted(edges, x, side="right"), minlength=edges.size + 1)


def _probe_values(edges: np.ndarray, extra: np.ndarray) -> np.ndarray:
    # Values exactly on, just below and just above every edge are where an inexact binning would slip.
    return np.concatenate((extra, edges, np.nextafter(edges, -np.inf), np.nextafter(edges, np.inf), [-1e300, 1e300]))


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, st.integers(2, 400), elements=finite), arrays(np.float64, 50, elements=finite))
@example(base=np.array([0.0, 5e-324]), extra=np.zeros(50))  # subnormal span: the grid scale overflows
def test_quantile_binner_is_exact(base: np.ndarray, extra: np.ndarray) -> None:
    binner = quantile_binner(base, 100)
    x = _probe_values(binner.edges, np.concatenate((base, extra)))
    assert np.array_equal(binner.to_bins(binner.raw_histogram(x)), _reference(binner.edges, x))


@settings(max_examples=40, deadline=None)
@given(st.lists(finite, min_size=1, max_size=300, unique=True), arrays(np.float64, 100, elements=finite))
def test_bin_index_is_exact_for_arbitrary_edges(edges_list: list[float], extra: np.ndarray) -> None:
    edges = np.sort(np.array(edges_list))
    index = BinIndex(edges)
    x = _probe_values(edges, extra)
    assert np.array_equal(index.raw_histogram(x), _reference(edges, x))


def test_grid_covers_skewed_and_discrete_data() -> None:
    rng = np.random.default_rng(3)
    cases = [
        rng.lognormal(0.0, 2.5, 50_000),
        rng.integers(0, 7, 50_000).astype(float),
        1e9 + rng.standard_normal(50_000),
        np.concatenate((rng.standard_normal(50_000) * 1e-6, [1e9])),
    ]
    for base in cases:
        binner = quantile_binner(base, 1000)
        x = _probe_values(binner.edges, rng.choice(base, 20_000))
        assert np.array_equal(binner.to_bins(binner.raw_histogram(x)), _reference(binner.edges, x))


def test_stored_grid_is_verified_or_rejected() -> None:
    base = np.random.default_rng(0).standard_normal(10_000)
    grid = GridBins.snap(np.unique(np.quantile(base, np.linspace(0, 1, 101))))
    assert grid is not None
    assert GridBins.verified(grid.scale, grid.offset, grid.cells, grid.edges) is not None
    # Edges that are not the grid's boundaries must not be trusted to the comparison-free path.
    assert GridBins.verified(grid.scale, grid.offset, grid.cells, grid.edges + 1e-3) is None
