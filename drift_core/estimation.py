"""Confidence-based performance estimation (CBPE, as NannyML): expected accuracy of unlabelled traffic.

The served model answers each request with its predicted label and its probability of that label (its
confidence). Calibrated on the holdout set at training time, a confidence c becomes P(prediction correct | c);
the expected accuracy of a window of n rows is then the mean of the calibrated confidences, and, if the
calibration holds on the window, the realised accuracy is a sum of independent Bernoulli(c_i) draws
(Poisson-binomial), whose standard deviation around that mean is sqrt(sum c_i (1 - c_i)) / n.

The calibration is isotonic (fitted by scikit-learn in the evaluate step, pipeline_code/evaluate.py) and stored as
plain numbers: its thresholds (x, y), one map per predicted label and one pooled map for labels with too few
holdout rows. Applying it is linear interpolation clipped at the ends (`np.interp`), which is what
IsotonicRegression(out_of_bounds="clip").predict does.

Limits (docs/performance-estimation.md): the estimate sees covariate shift, the model's confidence moving into
regions where it is less often right; it cannot see concept drift where P(y | x) changes while the model stays
just as confident. The standard error excludes the calibration's own error (a finite holdout set).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from drift_core.binning import BinIndex

METHOD = "isotonic"
# Calibration target: P(the predicted label is right | the model's probability of that label).
TARGET = "confidence_of_predicted_label"
Z95 = 1.959963984540054

Curve = tuple[np.ndarray, np.ndarray]


class CalibrationFormatError(ValueError):
    """A calibration document is malformed; the message names the field."""


@dataclass
class Calibration:
    """Isotonic maps confidence -> P(correct): per predicted label, plus a pooled map for any other label."""

    pooled: Curve
    per_label: dict[str, Curve] = field(default_factory=dict)
    rows: int = 0
    method: str = METHOD

    def calibrated(self, confidence: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
        """P(correct) of each row; `labels` (the predicted labels) pick the per-label map where there is one."""
        c = np.asarray(confidence, dtype=np.float64)
        out = _interpolator(self.pooled)(c)
        if labels is not None and self.per_label:
            keys = np.asarray(labels, dtype=object).astype(str)
            for label, curve in self.per_label.items():
                mask = keys == label
                if mask.any():
                    out[mask] = _interpolator(curve)(c[mask])
        return out

    def to_document(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "target": TARGET,
            "rows": self.rows,
            "pooled": _curve_document(self.pooled),
            "per_label": {label: _curve_document(curve) for label, curve in self.per_label.items()},
        }

    @classmethod
    def from_document(cls, doc: Any) -> Calibration:
        if not isinstance(doc, dict):
            raise CalibrationFormatError("calibration: expected a JSON object")
        if doc.get("method") != METHOD:
            raise CalibrationFormatError(f"calibration.method: expected {METHOD!r}, got {doc.get('method')!r}")
        per_label = doc.get("per_label") or {}
        if not isinstance(per_label, dict):
            raise CalibrationFormatError("calibration.per_label: expected an object of label -> {x, y}")
        return cls(
            pooled=_curve(doc.get("pooled"), "calibration.pooled"),
            per_label={str(k): _curve(v, f"calibration.per_label.{k}") for k, v in per_label.items()},
            rows=int(doc.get("rows") or 0),
        )


class _Interpolator:
    """np.interp(x, xp, fp) for many x: the segment of each x found with drift_core's gridded bin index (exact,
    ~4x faster than np.interp's binary search on a million unsorted values), then one multiply-add."""

    def __init__(self, curve: Curve) -> None:
        xp, fp = curve
        self.index = BinIndex(xp)
        slope = np.diff(fp) / np.diff(xp) if xp.size > 1 else np.zeros(0)
        # Segment k holds xp[k-1] <= x < xp[k]; below xp[0] and from xp[-1] on, the end values (as np.interp).
        self.slope = np.concatenate(([0.0], slope, [0.0]))
        self.intercept = np.concatenate(([fp[0]], fp[:-1] - slope * xp[:-1], [fp[-1]]))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        segment = self.index.assign(x)
        out = np.take(self.slope, segment)
        out *= x
        out += np.take(self.intercept, segment)
        return out


_interpolators: dict[int, tuple[Curve, _Interpolator]] = {}


def _interpolator(curve: Curve) -> _Interpolator:
    """One interpolator per curve object (a baseline's calibration is applied to every window)."""
    cached = _interpolators.get(id(curve))
    if cached is None or cached[0] is not curve:
        cached = (curve, _Interpolator(curve))
        _interpolators[id(curve)] = cached
    return cached[1]


def _curve_document(curve: Curve) -> dict[str, Any]:
    return {"x": [float(v) for v in curve[0]], "y": [float(v) for v in curve[1]]}


def _curve(doc: Any, where: str) -> Curve:
    if not isinstance(doc, dict) or "x" not in doc or "y" not in doc:
        raise CalibrationFormatError(f"{where}: expected an object with 'x' and 'y' lists")
    try:
        x, y = np.asarray(doc["x"], dtype=np.float64), np.asarray(doc["y"], dtype=np.float64)
    except (TypeError, ValueError):
        raise CalibrationFormatError(f"{where}: 'x' and 'y' must be lists of numbers") from None
    if x.ndim != 1 or x.size == 0 or x.shape != y.shape:
        raise CalibrationFormatError(f"{where}: 'x' and 'y' must be non-empty lists of the same length")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))) or np.any(np.diff(x) <= 0):
        raise CalibrationFormatError(f"{where}: 'x' must be finite and strictly increasing, 'y' finite")
    if np.any(y < 0) or np.any(y > 1):
        raise CalibrationFormatError(f"{where}: 'y' are probabilities, between 0 and 1")
    return x, y


def confidences(values: np.ndarray) -> np.ndarray:
    """A probability column as float64: text cells parsed, empty/unparseable/outside [0, 1] -> NaN."""
    arr = np.asarray(values)
    if arr.dtype.kind in "fiub":
        out = arr.astype(np.float64, copy=False)
        if out.size == 0 or (out.min() >= 0.0 and out.max() <= 1.0):  # NaN fails both: it takes the path below
            return out
        out = out.copy()
    else:
        out = np.empty(arr.size, dtype=np.float64)
        for i, v in enumerate(arr.ravel().tolist()):
            try:
                out[i] = float(v)
            except (TypeError, ValueError):
                out[i] = math.nan
    with np.errstate(invalid="ignore"):
        out[~((out >= 0.0) & (out <= 1.0))] = math.nan
    return out


@dataclass
class PerformanceAccumulator:
    """Running CBPE sums of a window; mergeable like the other accumulators (O(1) memory)."""

    calibration: Calibration
    rows: int = 0
    missing: int = 0  # rows without a usable probability (not in the estimate)
    expected_correct: float = 0.0  # sum of calibrated P(correct)
    variance: float = 0.0  # sum of p (1 - p): the variance of the number of correct predictions
    confidence: float = 0.0  # sum of the model's own (uncalibrated) confidence

    def update(self, confidence: np.ndarray, labels: np.ndarray | None = None) -> None:
        c = confidences(confidence)
        if labels is not None:
            labels = np.asarray(labels, dtype=object)
            if labels.size != c.size:
                raise ValueError(f"{labels.size} predicted labels but {c.size} probabilities")
        total = float(c.sum())
        if not math.isfinite(total):  # only a chunk with unusable probabilities pays for the mask
            ok = ~np.isnan(c)
            self.missing += int(c.size - ok.sum())
            c, labels = c[ok], (labels[ok] if labels is not None else None)
            total = float(c.sum())
        p = self.calibration.calibrated(c, labels)
        expected = float(p.sum())
        self.rows += int(c.size)
        self.expected_correct += expected
        self.variance += expected - float(np.einsum("i,i->", p, p))  # sum p (1 - p)
        self.confidence += total

    def merge(self, other: PerformanceAccumulator) -> PerformanceAccumulator:
        self.rows += other.rows
        self.missing += other.missing
        self.expected_correct += other.expected_correct
        self.variance += other.variance
        self.confidence += other.confidence
        return self

    @property
    def estimated_accuracy(self) -> float | None:
        return self.expected_correct / self.rows if self.rows else None

    @property
    def standard_error(self) -> float | None:
        return math.sqrt(max(self.variance, 0.0)) / self.rows if self.rows else None

    def result(self, min_accuracy: float | None) -> dict[str, Any] | None:
        """The JSON block `performance_estimate` of the drift report; None for a window without probabilities."""
        estimate, se = self.estimated_accuracy, self.standard_error
        if estimate is None or se is None:
            return None
        return {
            "method": "CBPE",
            "calibration": self.calibration.method,
            "rows": self.rows,
            "rows_without_probability": self.missing,
            "estimated_accuracy": estimate,
            "standard_error": se,
            "ci95": [max(0.0, estimate - Z95 * se), min(1.0, estimate + Z95 * se)],
            "mean_confidence": self.confidence / self.rows,
            "min_accuracy": min_accuracy,
            "below_min": min_accuracy is not None and estimate < min_accuracy,
        }
