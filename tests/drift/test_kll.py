"""drift_core.kll: a KLL sketch as Deequ lays it out (issue #15 item 6): streaming updates, merges and quantile
queries within the rank error bound the sketch tracks, against exact ranks; the baseline writes it into Model
Monitor's `distribution.kll.sketch`."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

import drift_core
from drift_core.kll import KLLSketch

QUERIES = np.linspace(0.0, 1.0, 401)


def _exact_rank(values: np.ndarray, points: np.ndarray) -> np.ndarray:
    return np.searchsorted(np.sort(values), points, side="right")


def _stream(values: np.ndarray, chunk: int, k: int = 2048) -> KLLSketch:
    sketch = KLLSketch(k)
    for start in range(0, values.size, chunk):
        sketch.update(values[start : start + chunk])
    return sketch


def _worst_rank_error(sketch: KLLSketch, values: np.ndarray) -> int:
    points = np.quantile(values, QUERIES)
    return int(np.abs(sketch.rank(points) - _exact_rank(values, points)).max())


DATA = {
    "normal": lambda rng, n: rng.normal(0.0, 1.0, n),
    "lognormal": lambda rng, n: rng.lognormal(0.0, 1.5, n),
    "integers with ties": lambda rng, n: rng.integers(0, 50, n).astype(np.float64),
    "sorted": lambda rng, n: np.sort(rng.normal(0.0, 1.0, n)),
    "reverse sorted": lambda rng, n: np.sort(rng.normal(0.0, 1.0, n))[::-1].copy(),
}


@pytest.mark.parametrize("chunk", [1, 997, 100_000], ids=["one at a time", "chunks of 997", "chunks of 100k"])
@pytest.mark.parametrize("kind", list(DATA))
def test_ranks_are_within_the_tracked_bound_and_the_bound_is_small(kind: str, chunk: int) -> None:
    n = 20_000 if chunk == 1 else 300_000
    values = DATA[kind](np.random.default_rng(7), n)
    sketch = _stream(values, chunk, k=256 if chunk == 1 else 2048)
    assert sketch.n == n == sum(level.size << h for h, level in enumerate(sketch.levels))
    error = _worst_rank_error(sketch, values)
    assert error <= sketch.rank_error_bound
    # Compactions happened (this is a sketch, not a copy of the data), and the bound stays a small share of n.
    assert sketch.size < n / 4 and len(sketch.levels) > 2
    assert sketch.rank_error_bound <= 0.05 * n


def test_at_the_default_k_a_million_values_are_ranked_within_a_fraction_of_a_percent() -> None:
    values = np.random.default_rng(1).lognormal(0.0, 1.0, 1_000_000)
    sketch = _stream(values, 262_144)  # the block size NumericAccumulator feeds it
    assert _worst_rank_error(sketch, values) <= sketch.rank_error_bound <= 0.002 * values.size
    # Memory: Deequ's capacities sum to about 2k / (1 - c) items, whatever the stream length.
    assert sketch.size <= sum(sketch.capacity(h) for h in range(len(sketch.levels))) <= 2 * 2048 / (1 - 0.64) + 64


def test_quantiles_are_the_values_of_the_estimated_ranks() -> None:
    values = np.random.default_rng(2).normal(10.0, 3.0, 200_000)
    sketch = _stream(values, 10_000)
    found = sketch.quantile(QUERIES)
    ranks = _exact_rank(values, found)
    # The value returned for q has exact rank within the bound of q x n (plus its own tie).
    assert np.all(np.abs(ranks - QUERIES * values.size) <= sketch.rank_error_bound + 1)
    # Items are values of the stream (the extremes may have been compacted away; statistics.json has min and max).
    assert np.isin(found, values).all() and np.all(np.diff(found) >= 0)


def test_capacities_are_deequs() -> None:
    sketch = KLLSketch(2048, 0.64)
    # QuantileNonSample.capacity(height) = 2 * (ceil(sketchSize * shrinkingFactor^height / 2) + 1)
    assert [sketch.capacity(h) for h in range(4)] == [2050, 1314, 842, 540]
    assert all(sketch.capacity(h) >= 4 and sketch.capacity(h) % 2 == 0 for h in range(60))


@pytest.mark.parametrize("parts", [2, 7])
def test_merged_sketches_rank_the_union_within_the_summed_bound(parts: int) -> None:
    rng = np.random.default_rng(3)
    pieces = [rng.normal(i, 1.0 + i, 50_000 + 1_000 * i) for i in range(parts)]
    merged = _stream(pieces[0], 5_000)
    for piece in pieces[1:]:
        merged.merge(_stream(piece, 5_000))
    union = np.concatenate(pieces)
    assert merged.n == union.size
    assert _worst_rank_error(merged, union) <= merged.rank_error_bound <= 0.01 * union.size
    assert merged.size <= sum(merged.capacity(h) for h in range(len(merged.levels)))


def test_merging_a_sketch_with_other_parameters_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot merge"):
        KLLSketch(2048).merge(KLLSketch(1024))


def test_an_empty_sketch_ranks_nothing_and_has_no_quantiles() -> None:
    sketch = KLLSketch()
    assert sketch.rank([0.0, 1.0]).tolist() == [0, 0] and sketch.to_dict()["data"] == [[]]
    with pytest.raises(ValueError, match="empty"):
        sketch.quantile([0.5])


# ---- in the baseline ------------------------------------------------------------------------------------------


def _statistics(tmp_path: Path, baseline: drift_core.Baseline) -> dict:
    drift_core.write_baseline(baseline, tmp_path)
    return json.loads((tmp_path / "statistics.json").read_text())


def test_the_baseline_writes_the_sketch_levels_in_model_monitors_layout(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    income = rng.lognormal(10.0, 0.5, 300_000)
    income[::101] = np.nan  # missing cells stay out of the sketch
    doc = _statistics(tmp_path, drift_core.build_baseline({"income": income}))
    (feature,) = doc["features"]
    kll = feature["numerical_statistics"]["distribution"]["kll"]
    assert kll["sketch"]["parameters"] == {"c": 0.64, "k": 2048.0}
    levels = kll["sketch"]["data"]
    present = feature["numerical_statistics"]["common"]["num_present"]
    assert len(levels) > 2 and sum(len(level) << h for h, level in enumerate(levels)) == present
    # Read back as Model Monitor reads it (weights 2**level), the sketch ranks the raw values within its bound.
    sketch = KLLSketch.from_dict(kll["sketch"], feature["mlops_drift"]["kll_rank_error_bound"])
    finite = income[~np.isnan(income)]
    assert _worst_rank_error(sketch, finite) <= sketch.rank_error_bound <= 0.002 * finite.size
    # Buckets: Model Monitor's 10 equal-width buckets from min to max; our grid stays under mlops_drift.
    buckets = kll["buckets"]
    assert len(buckets) == 10 and buckets[0]["lower_bound"] == feature["numerical_statistics"]["min"]
    assert math.isclose(buckets[-1]["upper_bound"], feature["numerical_statistics"]["max"])
    assert len(feature["mlops_drift"]["edges"]) > 100


def test_chunked_and_one_shot_baselines_both_carry_a_sketch_and_read_back(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    balance = rng.gamma(2.0, 400.0, 120_000)

    def chunks():
        for start in range(0, balance.size, 25_000):
            yield {"balance": balance[start : start + 25_000]}, {}

    chunked = drift_core.build_baseline_chunks(chunks)
    sketch = chunked.features["balance"].sketch
    assert sketch is not None and sketch.n == balance.size
    assert _worst_rank_error(sketch, balance) <= sketch.rank_error_bound
    doc = _statistics(tmp_path, chunked)
    again = drift_core.read_baseline(tmp_path).features["balance"].sketch
    assert (
        again is not None
        and again.to_dict() == doc["features"][0]["numerical_statistics"]["distribution"]["kll"]["sketch"]
    )
    assert again.rank_error_bound == sketch.rank_error_bound


def test_a_window_accumulator_carries_no_sketch() -> None:
    """Only the baseline pays for the sketch: the drift Lambda's windows do not."""
    baseline = drift_core.build_baseline({"x": np.random.default_rng(6).normal(0, 1, 5_000)})
    window = drift_core.WindowAccumulator(baseline)
    window.update({"x": np.random.default_rng(7).normal(0, 1, 1_000)})
    assert all(getattr(acc, "sketch", None) is None for acc in window.features.values())
