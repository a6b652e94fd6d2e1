"""Streaming: chunked accumulation and merging equal the one-shot result."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import drift_core
from drift_core.categorical import CategoricalAccumulator
from drift_core.numeric import NumericAccumulator

values = arrays(
    np.float64,
    st.integers(0, 3000),
    elements=st.one_of(st.floats(-1e6, 1e6, allow_nan=False), st.just(math.nan)),
)


def _baseline() -> drift_core.Baseline:
    rng = np.random.default_rng(7)
    return drift_core.build_baseline(
        {
            "x": rng.standard_normal(5000) * 1000,
            "c": rng.choice(np.array(["a", "b", "c"], dtype=object), 5000),
        }
    )


BASELINE = _baseline()


@settings(max_examples=60, deadline=None)
@given(values, st.lists(st.integers(0, 3000), max_size=5))
def test_numeric_chunked_equals_one_shot(x: np.ndarray, cuts: list[int]) -> None:
    base = BASELINE.features["x"]
    assert isinstance(base, NumericAccumulator)
    whole = NumericAccumulator(base.binner, shift=base.shift)
    whole.update(x)
    merged = NumericAccumulator(base.binner, shift=base.shift)
    for part in np.split(x, sorted(c for c in cuts if c <= x.size)):
        piece = NumericAccumulator(base.binner, shift=123.0)  # a different shift must merge exactly too
        piece.update(part)
        merged.merge(piece)
    assert np.array_equal(whole.counts, merged.counts)
    assert (whole.rows, whole.missing, whole.present) == (merged.rows, merged.missing, merged.present)
    assert whole.minimum == merged.minimum and whole.maximum == merged.maximum
    if whole.present:
        assert math.isclose(whole.mean, merged.mean, rel_tol=1e-9, abs_tol=1e-6)
        assert math.isclose(whole.std, merged.std, rel_tol=1e-6, abs_tol=1e-4)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", "z", "", None]), max_size=500), st.integers(0, 500))
def test_window_chunked_equals_one_shot(cats: list[str | None], cut: int) -> None:
    rng = np.random.default_rng(len(cats))
    x = rng.standard_normal(len(cats)) * 900
    c = np.array(cats, dtype=object)
    one = drift_core.WindowAccumulator(BASELINE)
    one.update({"x": x, "c": c})
    left, right = drift_core.WindowAccumulator(BASELINE), drift_core.WindowAccumulator(BASELINE)
    left.update({"x": x[:cut], "c": c[:cut]})
    right.update({"x": x[cut:], "c": c[cut:]})
    merged = left.merge(right)
    a = drift_core.compute_drift(BASELINE, one).to_dict()
    b = drift_core.compute_drift(BASELINE, merged).to_dict()
    assert a["drifted_features"] == b["drifted_features"]
    for name in ("x", "c"):
        fa, fb = a["features"][name], b["features"][name]
        for key in ("rows", "missing", "ks", "psi", "linf", "new_categories"):
            assert fa[key] == fb[key] or math.isclose(fa[key], fb[key], rel_tol=1e-9), key


def test_sums_are_shifted_for_large_offsets() -> None:
    rng = np.random.default_rng(0)
    data = 1e9 + rng.standard_normal(1_000_000)
    baseline = drift_core.build_baseline({"v": data})
    acc = baseline.features["v"]
    assert isinstance(acc, NumericAccumulator)
    assert abs(acc.std - 1.0) < 0.01
    window = drift_core.compute_drift(baseline, {"v": 1e9 + rng.standard_normal(100_000)})
    assert abs(window.features["v"].std - 1.0) < 0.01
    assert window.features["v"].mean_shift_sigma < 0.05


def test_categorical_counts_missing() -> None:
    acc = CategoricalAccumulator()
    acc.update(np.array(["a", None, float("nan"), "", "a", 3], dtype=object))
    assert acc.counts == {"a": 2, "3": 1}
    assert (acc.rows, acc.missing) == (6, 3)
    acc.update(drift_core.CategoryCounts({"a": 1}, missing=2))
    assert acc.counts["a"] == 3 and acc.missing == 5


def test_memory_is_bins_not_rows() -> None:
    base = BASELINE.features["x"]
    assert isinstance(base, NumericAccumulator)
    acc = NumericAccumulator(base.binner, shift=base.shift)
    size_before = acc.raw.nbytes
    for _ in range(5):
        acc.update(np.random.default_rng(1).standard_normal(200_000))
    assert acc.raw.nbytes == size_before and acc.present == 1_000_000


def test_chunked_baseline_equals_one_shot_when_the_sample_holds_everything() -> None:
    rng = np.random.default_rng(11)
    x = rng.lognormal(0, 1, 30_000)
    x[::97] = np.nan
    c = rng.choice(np.array(["a", "b", None], dtype=object), 30_000)

    def chunks() -> Iterator[tuple[dict[str, np.ndarray], dict[str, int]]]:
        for start in range(0, 30_000, 7_000):
            part = slice(start, start + 7_000)
            yield {"x": x[part], "c": c[part]}, {"x": 1}

    streamed = drift_core.build_baseline_chunks(chunks, sample_size=50_000)
    one_shot = drift_core.build_baseline({"x": x, "c": c}, unparseable={"x": 5})
    a, b = streamed.features["x"], one_shot.features["x"]
    assert isinstance(a, NumericAccumulator) and isinstance(b, NumericAccumulator)
    assert np.array_equal(a.edges, b.edges) and np.array_equal(a.counts, b.counts)
    assert (a.rows, a.missing, a.unparseable) == (b.rows, b.missing, b.unparseable) == (30_005, 310, 5)
    assert math.isclose(a.mean, b.mean, rel_tol=1e-12) and math.isclose(a.std, b.std, rel_tol=1e-9)
    assert streamed.features["c"] == one_shot.features["c"]


def test_chunked_baseline_with_a_small_sample_keeps_exact_counts() -> None:
    rng = np.random.default_rng(12)
    x = rng.standard_normal(50_000)

    def chunks() -> Iterator[tuple[dict[str, np.ndarray], dict[str, int]]]:
        for start in range(0, 50_000, 10_000):
            yield {"x": x[start : start + 10_000]}, {}

    baseline = drift_core.build_baseline_chunks(chunks, sample_size=5_000)
    acc = baseline.features["x"]
    assert isinstance(acc, NumericAccumulator) and acc.counts.sum() == 50_000
    assert acc.counts.max() < 200  # edges from a 5,000-value sample still split 50,000 rows finely
