"""CBPE: expected accuracy from calibrated probabilities, against simulations where the truth is known."""

from __future__ import annotations

import numpy as np
import pytest

import drift_core
from drift_core.estimation import Calibration, CalibrationFormatError, PerformanceAccumulator

IDENTITY = Calibration(pooled=(np.array([0.0, 1.0]), np.array([0.0, 1.0])))


def _simulate(rng: np.random.Generator, rows: int, low: float, high: float) -> tuple[np.ndarray, np.ndarray]:
    """Calibrated confidences, and whether each prediction was right drawn from exactly that probability."""
    p = rng.uniform(low, high, rows)
    return p, rng.random(rows) < p


@pytest.mark.parametrize(("low", "high"), [(0.5, 1.0), (0.55, 0.8), (0.9, 1.0)])
def test_realised_accuracy_falls_inside_the_ci_at_the_stated_rate(low: float, high: float) -> None:
    rng = np.random.default_rng(0)
    inside = 0
    trials = 200
    for _ in range(trials):
        p, correct = _simulate(rng, 2_000, low, high)
        acc = PerformanceAccumulator(IDENTITY)
        acc.update(p)
        result = acc.result(0.85)
        lo, hi = result["ci95"]
        inside += lo <= correct.mean() <= hi
    # 95% intervals: 190 of 200 expected; a binomial(200, 0.95) is below 181 with probability < 0.001.
    assert inside >= 181
    assert inside <= 199  # an interval that always covers would be too wide to be the stated 95%


def test_standard_error_matches_the_spread_of_realised_accuracy() -> None:
    rng = np.random.default_rng(1)
    p = rng.uniform(0.5, 1.0, 1_000)
    acc = PerformanceAccumulator(IDENTITY)
    acc.update(p)
    realised = [(rng.random(p.size) < p).mean() for _ in range(2_000)]
    assert np.std(realised) == pytest.approx(acc.standard_error, rel=0.08)
    assert np.mean(realised) == pytest.approx(acc.estimated_accuracy, abs=3 * acc.standard_error / np.sqrt(2_000))


def test_calibration_maps_an_overconfident_model_back_to_the_truth() -> None:
    rng = np.random.default_rng(2)
    truth, correct = _simulate(rng, 50_000, 0.5, 0.9)
    raw = np.sqrt(truth)  # the model says sqrt(p): over-confident
    grid = np.linspace(0.5, 1.0, 101)
    calibration = Calibration(pooled=(np.sqrt(grid), grid))  # the inverse map, as isotonic regression learns it
    acc = PerformanceAccumulator(calibration)
    acc.update(raw)
    assert acc.result(None)["mean_confidence"] > correct.mean() + 0.05  # uncalibrated, it would be far off
    assert abs(acc.estimated_accuracy - correct.mean()) < 3 * acc.standard_error


def test_per_label_maps_and_chunks_merge() -> None:
    calibration = Calibration(
        pooled=(np.array([0.5, 1.0]), np.array([0.5, 1.0])),
        per_label={"Yes": (np.array([0.5, 1.0]), np.array([0.4, 0.6]))},
    )
    p = np.array([0.9, 0.9, 0.7, 0.7])
    labels = np.array(["Yes", "No", "Yes", "No"], dtype=object)
    whole = PerformanceAccumulator(calibration)
    whole.update(p, labels)
    a, b = PerformanceAccumulator(calibration), PerformanceAccumulator(calibration)
    a.update(p[:1], labels[:1])
    b.update(p[1:], labels[1:])
    a.merge(b)
    expected = np.array([0.56, 0.9, 0.48, 0.7])
    assert whole.estimated_accuracy == pytest.approx(expected.mean())
    assert a.estimated_accuracy == pytest.approx(whole.estimated_accuracy)
    assert a.standard_error == pytest.approx(np.sqrt(np.sum(expected * (1 - expected))) / 4)


def test_unusable_probabilities_are_counted_not_estimated() -> None:
    acc = PerformanceAccumulator(IDENTITY)
    acc.update(np.array(["0.9", "", "abc", "1.5", "0.7"], dtype=object))
    assert (acc.rows, acc.missing) == (2, 3)
    assert acc.estimated_accuracy == pytest.approx(0.8)


def test_the_report_names_concept_drift_from_the_estimate(tmp_path) -> None:
    rng = np.random.default_rng(3)
    baseline = drift_core.build_baseline({"x": rng.standard_normal(2_000)})
    baseline.calibration = IDENTITY
    drift_core.write_baseline(baseline, tmp_path)
    baseline = drift_core.read_baseline(tmp_path)
    assert baseline.calibration is not None
    window = {"x": rng.standard_normal(500), "p": rng.uniform(0.5, 0.8, 500)}
    report = drift_core.compute_drift(baseline, window, min_accuracy=0.85, probability_column="p").to_dict()
    assert report["performance_estimate"]["below_min"] is True
    assert report["drift_kinds"]["concept_drift"] is True
    assert report["drift_kinds"]["concept_drift_signals"] == ["estimated_accuracy"]
    assert report["drift_kinds"]["feature_drift"] == []


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({"method": "platt"}, "calibration.method"),
        ({"method": "isotonic", "pooled": {"x": [0.5, 0.4], "y": [0.5, 0.6]}}, "calibration.pooled"),
        ({"method": "isotonic", "pooled": {"x": [0.5], "y": [1.5]}}, "calibration.pooled"),
    ],
)
def test_malformed_calibration_names_the_field(doc: dict, field: str) -> None:
    with pytest.raises(CalibrationFormatError, match=field):
        Calibration.from_document(doc)


def test_interpolation_equals_numpy_interp_exactly() -> None:
    rng = np.random.default_rng(4)
    x = np.unique(rng.uniform(0.5, 1.0, 40))
    y = np.sort(rng.uniform(0.3, 1.0, x.size))
    calibration = Calibration(pooled=(x, y))
    c = np.concatenate([rng.uniform(0.0, 1.0, 10_000), x, [0.0, 1.0, x[0] - 1e-12, x[-1] + 1e-12]])
    assert np.allclose(calibration.calibrated(c), np.interp(c, x, y), rtol=0, atol=1e-12)
