"""Multivariate drift (PCA reconstruction error): what no single-feature test sees, streaming, sampling bound."""

from __future__ import annotations

import numpy as np
import pytest

import drift_core
from drift_core.multivariate import MultivariateAccumulator, fit_pca

ROWS = 20_000


def _correlated(rng: np.random.Generator, rows: int, rho: float) -> dict[str, np.ndarray]:
    """Two standard normal features with correlation rho, plus an independent third one."""
    a = rng.standard_normal(rows)
    b = rho * a + np.sqrt(1.0 - rho * rho) * rng.standard_normal(rows)
    return {"a": a, "b": b, "c": rng.standard_normal(rows)}


def test_a_correlation_flip_with_unchanged_marginals_is_found_by_pca_only() -> None:
    rng = np.random.default_rng(0)
    baseline = drift_core.build_baseline(_correlated(rng, ROWS, 0.9))
    report = drift_core.compute_drift(baseline, _correlated(rng, ROWS, -0.9))
    # Every marginal is still N(0, 1): no per-feature rule fires.
    assert report.drifted_features == []
    mv = report.to_dict()["multivariate"]
    assert mv["drifted"] is True
    assert mv["ratio"] > 2.0
    assert report.drift_kinds["multivariate_drift"] is True
    assert "multivariate_drift" in report.drift_kinds["detected"]
    assert "feature_drift" not in report.drift_kinds["detected"]


def test_no_drift_keeps_the_ratio_near_one() -> None:
    rng = np.random.default_rng(1)
    baseline = drift_core.build_baseline(_correlated(rng, ROWS, 0.9))
    for rows in (200, 5_000):
        mv = drift_core.compute_drift(baseline, _correlated(rng, rows, 0.9)).multivariate
        assert mv is not None
        assert mv["drifted"] is False
        assert abs(mv["ratio"] - 1.0) < 0.15


def test_chunked_window_equals_one_shot_and_merges() -> None:
    rng = np.random.default_rng(2)
    baseline = drift_core.build_baseline(_correlated(rng, ROWS, 0.8))
    window = _correlated(rng, 9_000, 0.3)
    one = drift_core.compute_drift(baseline, window).multivariate
    parts = []
    for start in range(0, 9_000, 2_000):
        part = drift_core.WindowAccumulator(baseline)
        part.update({k: v[start : start + 2_000] for k, v in window.items()})
        parts.append(part)
    merged = parts[0]
    for part in parts[1:]:
        merged.merge(part)
    chunked = drift_core.compute_drift(baseline, merged).multivariate
    assert chunked["rows"] == one["rows"] == 9_000
    assert chunked["reconstruction_error"] == pytest.approx(one["reconstruction_error"], rel=1e-9)


def test_baseline_round_trips_through_statistics_json(tmp_path) -> None:
    rng = np.random.default_rng(3)
    baseline = drift_core.build_baseline(_correlated(rng, ROWS, 0.9))
    drift_core.write_baseline(baseline, tmp_path)
    again = drift_core.read_baseline(tmp_path)
    assert again.multivariate is not None
    window = _correlated(rng, 3_000, -0.5)
    a = drift_core.compute_drift(baseline, window).multivariate
    b = drift_core.compute_drift(again, window).multivariate
    assert b["ratio"] == pytest.approx(a["ratio"], rel=1e-6)


def test_chunked_baseline_fits_the_same_structure() -> None:
    rng = np.random.default_rng(4)
    data = _correlated(rng, ROWS, 0.9)

    def chunks():
        for start in range(0, ROWS, 3_000):
            yield {k: v[start : start + 3_000] for k, v in data.items()}, {}

    streamed = drift_core.build_baseline_chunks(chunks)
    in_memory = drift_core.build_baseline(data)
    assert streamed.multivariate is not None and in_memory.multivariate is not None
    assert streamed.multivariate.components == in_memory.multivariate.components == 2
    assert streamed.multivariate.error_mean == pytest.approx(in_memory.multivariate.error_mean, rel=0.02)


def test_sampled_large_chunk_stays_within_its_stated_error_bound() -> None:
    rng = np.random.default_rng(5)
    rows = 400_000
    base = _correlated(rng, 20_000, 0.7)
    model = fit_pca(list(base), np.vstack(list(base.values())))
    assert model is not None
    window = _correlated(rng, rows, 0.2)
    exact = float(model.errors(list(window.values())).mean())
    misses = 0
    for seed in range(20):
        acc = MultivariateAccumulator(model, seed=seed)
        acc.update(window)
        assert acc.used < rows / 4  # the chunk was sampled, not read whole
        se = np.sqrt(acc.sampling_variance) / acc.rows
        misses += abs(acc.mean - exact) > 3 * se
    assert misses <= 1


def test_missing_cells_are_imputed_and_misaligned_chunks_are_counted() -> None:
    rng = np.random.default_rng(6)
    baseline = drift_core.build_baseline(_correlated(rng, ROWS, 0.9))
    window = _correlated(rng, 1_000, 0.9)
    window["a"][:10] = np.nan
    acc = drift_core.WindowAccumulator(baseline, strict=False)
    acc.update(window)
    acc.update({"a": window["a"][:5], "b": window["b"][:4], "c": window["c"][:5]})  # a dropped unparseable cell
    mv = drift_core.compute_drift(baseline, acc).multivariate
    assert mv["rows"] == 1_000
    assert mv["rows_skipped"] == 5
    assert np.isfinite(mv["reconstruction_error"])


def test_fewer_than_two_numeric_features_have_no_pca() -> None:
    rng = np.random.default_rng(7)
    baseline = drift_core.build_baseline({"a": rng.standard_normal(500), "k": np.array(["x", "y"] * 250, dtype=object)})
    assert baseline.multivariate is None
    window = {"a": rng.standard_normal(100), "k": np.array(["x"] * 100, dtype=object)}
    assert drift_core.compute_drift(baseline, window).to_dict()["multivariate"] is None
