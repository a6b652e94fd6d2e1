"""Drift statistics against scipy and the behaviour of the rules on drifted / not drifted data."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import ks_2samp

import drift_core

ROWS = 20_000


def _report(base: np.ndarray, cur: np.ndarray, **kwargs: float) -> drift_core.FeatureDrift:
    baseline = drift_core.build_baseline({"f": base})
    return drift_core.compute_drift(baseline, {"f": cur}, **kwargs).features["f"]


@settings(max_examples=40, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.integers(50, 5000),
    st.floats(-2, 2),
    st.floats(0.3, 3),
    st.sampled_from(["normal", "lognormal", "integers"]),
)
def test_ks_agrees_with_scipy_within_the_stated_bound(
    seed: int, m: int, shift: float, scale: float, family: str
) -> None:
    rng = np.random.default_rng(seed)
    draw = {
        "normal": lambda n, s, c: rng.normal(s, c, n),
        "lognormal": lambda n, s, c: rng.lognormal(s, c, n),
        "integers": lambda n, s, c: rng.integers(0, 10, n) + round(s),
    }[family]
    base, cur = draw(5000, 0.0, 1.0).astype(float), draw(m, shift, scale).astype(float)
    f = _report(base, cur)
    exact = ks_2samp(base, cur).statistic
    assert f.ks is not None and f.ks_error_bound is not None
    assert f.ks - 1e-12 <= exact <= f.ks + f.ks_error_bound + 1e-12
    assert math.isclose(f.linf_robust, max(0.0, f.ks - 1.8 * math.sqrt((5000 + m) / (5000 * m))))


def test_ks_error_bound_is_the_bin_resolution_without_drift() -> None:
    rng = np.random.default_rng(1)
    f = _report(rng.standard_normal(100_000), rng.standard_normal(100_000))
    assert f.ks_error_bound <= 2.5e-3  # ~2 bins of 1/1000 baseline mass


def test_no_drift_is_not_flagged_at_k1() -> None:
    # The sigma rule judges the window mean: for n rows it moves ~1/sqrt(n) sigma, far below k = 1.
    rng = np.random.default_rng(2)
    base = rng.normal(50, 10, ROWS)
    for _ in range(20):
        f = _report(base, rng.normal(50, 10, 1000), sigma=1.0)
        assert f.mean_shift_sigma < 0.2
        assert not f.drifted, f.reasons


def test_two_sigma_shift_is_flagged() -> None:
    rng = np.random.default_rng(3)
    f = _report(rng.normal(0, 1, ROWS), rng.normal(2, 1, 1000), sigma=1.0)
    assert 1.8 < f.mean_shift_sigma < 2.2
    assert "mean_shift" in f.reasons
    # The default k = 3 leaves the mean rule quiet, the distribution rules still see it.
    g = _report(rng.normal(0, 1, ROWS), rng.normal(2, 1, 1000))
    assert "mean_shift" not in g.reasons and g.drifted


def test_scale_change_missed_by_sagemaker_ks_is_caught_by_psi() -> None:
    rng = np.random.default_rng(4)
    f = _report(rng.normal(0, 1, 100_000), rng.normal(0, 1.5, 20_000))
    assert f.linf_simple < 0.11 and f.linf_robust < 0.1  # SageMaker's 0.1 threshold misses it
    assert "baseline_drift" not in f.reasons
    assert f.psi > 0.15 and "psi" in f.reasons


def test_false_alarms_stay_under_one_percent_per_feature() -> None:
    rng = np.random.default_rng(5)
    baseline = drift_core.build_baseline(
        {
            "normal": rng.normal(0, 1, ROWS),
            "skewed": rng.lognormal(0, 1, ROWS),
            "counts": rng.poisson(3, ROWS).astype(float),
            "cat": rng.choice(np.array(["a", "b", "c"], dtype=object), ROWS, p=[0.6, 0.3, 0.1]),
        }
    )
    windows = 300
    alarms = dict.fromkeys(baseline.features, 0)
    for _ in range(windows):
        window = {
            "normal": rng.normal(0, 1, 1000),
            "skewed": rng.lognormal(0, 1, 1000),
            "counts": rng.poisson(3, 1000).astype(float),
            "cat": rng.choice(np.array(["a", "b", "c"], dtype=object), 1000, p=[0.6, 0.3, 0.1]),
        }
        for name in drift_core.compute_drift(baseline, window, sigma=1.0).drifted_features:
            alarms[name] += 1
    assert all(count / windows < 0.01 for count in alarms.values()), alarms


def test_constant_baseline_empty_window_and_nan_are_defined() -> None:
    baseline = drift_core.build_baseline({"k": np.full(100, 5.0), "n": np.full(100, np.nan)})
    same = drift_core.compute_drift(baseline, {"k": np.full(10, 5.0), "n": np.full(10, np.nan)})
    assert same.features["k"].mean_shift_sigma == 0.0 and not same.features["k"].drifted
    assert same.features["k"].ks == 0.0 and same.features["k"].ks_error_bound == 0.0
    moved = drift_core.compute_drift(baseline, {"k": np.full(10, 6.0), "n": np.array([1.0])})
    assert math.isinf(moved.features["k"].mean_shift_sigma) and moved.features["k"].drifted
    assert moved.to_dict()["features"]["k"]["mean_shift_sigma"] is None  # JSON has no infinity
    empty = drift_core.compute_drift(baseline, {"k": np.array([]), "n": np.array([])})
    assert empty.rows == 0 and empty.drifted_features == []
    assert empty.features["k"].mean is None and empty.features["k"].completeness is None
    nan_only = drift_core.compute_drift(baseline, {"k": np.full(4, np.nan), "n": np.full(4, np.nan)})
    assert nan_only.features["k"].completeness == 0.0 and "completeness" in nan_only.features["k"].reasons


def test_completeness_and_unparseable() -> None:
    rng = np.random.default_rng(6)
    baseline = drift_core.build_baseline({"x": rng.standard_normal(1000)})
    window = drift_core.WindowAccumulator(baseline)
    window.update({"x": np.array(["1.0", "abc", None, "2"], dtype=object)})
    f = drift_core.compute_drift(baseline, window).features["x"]
    assert (f.rows, f.missing, f.unparseable) == (4, 1, 1)
    assert f.completeness == 0.5 and "completeness" in f.reasons


def test_categorical_distances() -> None:
    base = np.array(["a"] * 70 + ["b"] * 30, dtype=object)
    cur = np.array(["a"] * 40 + ["b"] * 40 + ["c"] * 20, dtype=object)
    f = drift_core.compute_drift(drift_core.build_baseline({"c": base}), {"c": cur}).features["c"]
    assert math.isclose(f.linf, 0.3)
    assert 0 < f.js_divergence < 1 and f.new_categories == ["c"]
    assert "baseline_drift" in f.reasons


def test_label_shift_and_accuracy_against_a_min() -> None:
    rng = np.random.default_rng(8)
    labels = rng.choice(np.array(["No", "Yes"], dtype=object), 2000, p=[0.9, 0.1])
    baseline = drift_core.build_baseline(
        {"x": rng.standard_normal(2000), "default": labels},
        target="default",
        thresholds=drift_core.Thresholds(min_accuracy=0.8),
    )
    assert "default" not in baseline.features
    truth = rng.choice(np.array(["No", "Yes"], dtype=object), 500, p=[0.6, 0.4])
    flipped = np.where(truth == "No", "Yes", "No")
    predictions = np.where(rng.random(500) < 0.7, truth, flipped).astype(object)  # ~70% accurate
    report = drift_core.compute_drift(
        baseline,
        {"x": rng.standard_normal(500), "default": truth, "pred": predictions},
        prediction_column="pred",
    )
    assert report.label_shift is not None and report.label_shift["drifted"]
    assert report.model_quality is not None and report.model_quality["below_min"]
    checks = [v["constraint_check_type"] for v in drift_core.constraint_violations(report)["violations"]]
    assert "model_quality_check" in checks
