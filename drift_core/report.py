"""The drift report: per-feature statistics of a window against a baseline, and which rules fired.

Rules (a feature is drifted if any fires):
- sigma rule: mean_shift_sigma = |mean_cur - mean_base| / std_base > k. It tests the window *mean*: for n rows
  of the baseline distribution the statistic is ~ |N(0, 1/sqrt(n))|, so k = 1 is a large shift of the mean,
  not a single outlier; k = 3 (default) flags shifts of 3 baseline standard deviations.
- PSI on baseline deciles > psi threshold (0.1 by default: catches a x1.5 scale change, PSI ~0.19, that the KS
  threshold of 0.1 misses, KS ~0.097).
- SageMaker's baseline_drift_check: linf_robust (or linf_simple) > comparison_threshold; categorical
  L-infinity > categorical threshold.
- completeness below the baseline's by more than the tolerance.

Beyond the per-feature rules the report carries the multivariate drift (PCA reconstruction error, see
drift_core/multivariate.py), the CBPE performance estimate (drift_core/estimation.py) and `drift_kinds`, which
names what kind of drift the window shows: feature drift (per feature), multivariate drift, label shift (the
label or prediction distribution moved from the training labels') and concept drift (accuracy, or the estimated
accuracy, below A_min).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from drift_core import distances
from drift_core.baseline import Accumulator, Baseline, Thresholds
from drift_core.categorical import CategoricalAccumulator
from drift_core.numeric import NumericAccumulator
from drift_core.window import PairCounts, WindowAccumulator


@dataclass
class FeatureDrift:
    """Statistics of one feature; None where undefined (e.g. an empty window)."""

    name: str
    kind: str
    rows: int
    missing: int
    unparseable: int
    completeness: float | None
    baseline_completeness: float | None
    drifted: bool = False
    reasons: list[str] = field(default_factory=list)
    mean: float | None = None
    std: float | None = None
    min: float | None = None
    max: float | None = None
    baseline_mean: float | None = None
    baseline_std: float | None = None
    mean_shift_sigma: float | None = None
    sigma_threshold: float | None = None
    psi: float | None = None
    ks: float | None = None
    ks_error_bound: float | None = None
    linf_simple: float | None = None
    linf_robust: float | None = None
    linf: float | None = None
    js_divergence: float | None = None
    new_categories: list[str] | None = None


@dataclass
class DriftReport:
    """The whole report; `to_dict()` gives the JSON the CLI prints (non-finite numbers become null)."""

    rows: int
    features: dict[str, FeatureDrift]
    label_shift: dict[str, Any] | None = None
    model_quality: dict[str, Any] | None = None
    missing_columns: list[str] = field(default_factory=list)
    performance_estimate: dict[str, Any] | None = None
    multivariate: dict[str, Any] | None = None

    @property
    def drifted_features(self) -> list[str]:
        return [name for name, f in self.features.items() if f.drifted]

    @property
    def drift_kinds(self) -> dict[str, Any]:
        """Which kinds of drift the window shows; None where the window cannot tell (no labels, no PCA)."""
        signals = []
        if self.model_quality is not None and self.model_quality.get("below_min"):
            signals.append("accuracy")
        if self.performance_estimate is not None and self.performance_estimate.get("below_min"):
            signals.append("estimated_accuracy")
        measured = self.model_quality is not None or self.performance_estimate is not None
        kinds = {
            "feature_drift": self.drifted_features,
            "multivariate_drift": self.multivariate.get("drifted") if self.multivariate else None,
            "label_shift": self.label_shift.get("drifted") if self.label_shift else None,
            "concept_drift": bool(signals) if measured else None,
            "concept_drift_signals": signals,
        }
        names = {"feature_drift": bool(self.drifted_features)}
        names.update({k: bool(kinds[k]) for k in ("multivariate_drift", "label_shift", "concept_drift")})
        kinds["detected"] = [k for k, found in names.items() if found]
        return kinds

    def to_dict(self) -> dict[str, Any]:
        return _clean(
            {
                "rows": self.rows,
                "drifted_features": self.drifted_features,
                "features": {name: asdict(f) for name, f in self.features.items()},
                "label_shift": self.label_shift,
                "model_quality": self.model_quality,
                "missing_columns": self.missing_columns,
                "performance_estimate": self.performance_estimate,
                "multivariate": self.multivariate,
                "drift_kinds": self.drift_kinds,
            }
        )


def _clean(value: Any) -> Any:
    """JSON has no NaN/inf: undefined statistics are null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _finite_or_none(x: float | None) -> float | None:
    return None if x is None or math.isnan(x) else x


def compute_drift(
    baseline: Baseline,
    window: WindowAccumulator | Mapping[str, np.ndarray],
    *,
    sigma: float | None = None,
    psi_threshold: float | None = None,
    min_accuracy: float | None = None,
    prediction_column: str | None = None,
    probability_column: str | None = None,
) -> DriftReport:
    """Drift of a window (an accumulator, or in-memory columns) against the baseline.

    `sigma` overrides k for every feature (else the baseline's per-feature k, else its default).
    """
    if not isinstance(window, WindowAccumulator):
        acc = WindowAccumulator(baseline, prediction_column=prediction_column, probability_column=probability_column)
        acc.update(window)
        window = acc
    t = baseline.thresholds
    features: dict[str, FeatureDrift] = {}
    for name, base in baseline.features.items():
        cur = window.features[name]
        k = sigma if sigma is not None else t.sigma_for(name)
        cached = baseline.bin_counts(name) if isinstance(base, NumericAccumulator) else None
        features[name] = feature_drift(name, base, cur, t, k, psi_threshold, cached)
    a_min = min_accuracy if min_accuracy is not None else t.min_accuracy
    return DriftReport(
        rows=window.rows,
        features=features,
        label_shift=_label_shift(baseline, window),
        model_quality=_model_quality(window.quality, a_min),
        missing_columns=sorted(window.missing_columns),
        performance_estimate=window.performance.result(a_min) if window.performance is not None else None,
        multivariate=window.multivariate.result(t.multivariate_ratio) if window.multivariate is not None else None,
    )


def feature_drift(
    name: str,
    base: Accumulator,
    cur: Accumulator,
    t: Thresholds,
    k: float,
    psi_threshold: float | None = None,
    base_counts: np.ndarray | None = None,
) -> FeatureDrift:
    """Statistics and rule outcomes of one feature (`base_counts`: the baseline's bin counts, if cached)."""
    result = FeatureDrift(
        name=name,
        kind="numeric" if isinstance(base, NumericAccumulator) else "categorical",
        rows=cur.rows,
        missing=cur.missing,
        unparseable=cur.unparseable if isinstance(cur, NumericAccumulator) else 0,
        completeness=cur.completeness,
        baseline_completeness=base.completeness,
    )
    psi_limit = t.psi if psi_threshold is None else psi_threshold
    if isinstance(base, NumericAccumulator) and isinstance(cur, NumericAccumulator):
        _numeric(result, base, cur, t, k, psi_limit, base_counts)
    elif isinstance(base, CategoricalAccumulator) and isinstance(cur, CategoricalAccumulator):
        _categorical(result, base, cur, t, psi_limit)
    tolerance = t.completeness_tolerance
    if (
        result.completeness is not None
        and result.baseline_completeness is not None
        and result.completeness < result.baseline_completeness - tolerance
    ):
        result.reasons.append("completeness")
    result.drifted = bool(result.reasons)
    return result


def _numeric(
    r: FeatureDrift,
    base: NumericAccumulator,
    cur: NumericAccumulator,
    t: Thresholds,
    k: float,
    psi_limit: float,
    base_counts: np.ndarray | None,
) -> None:
    r.baseline_mean, r.baseline_std = base.mean, base.std
    r.sigma_threshold = k
    if cur.present == 0:
        return
    r.mean, r.std = cur.mean, cur.std
    r.min, r.max = cur.minimum, cur.maximum
    r.mean_shift_sigma = _finite_or_none(distances.mean_shift_sigma(cur.mean, base.mean, base.std))
    if r.mean_shift_sigma is None and base.present:
        r.mean_shift_sigma = math.inf  # constant baseline and a different mean: infinitely many sigmas
    bc = base.counts if base_counts is None else base_counts
    cc = cur.counts
    lower, upper = distances.ks_bounds(bc, cc)
    if base.minimum == base.maximum == cur.minimum == cur.maximum:
        upper = lower  # both samples are the same single value: the CDFs coincide everywhere
    r.ks, r.ks_error_bound = _finite_or_none(lower), _finite_or_none(upper - lower)
    r.psi = _finite_or_none(distances.binned_psi(bc, cc))
    r.linf_simple = r.ks
    r.linf_robust = _finite_or_none(distances.linf_robust(lower, base.present, cur.present))
    if r.mean_shift_sigma is not None and r.mean_shift_sigma > k:
        r.reasons.append("mean_shift")
    if r.psi is not None and r.psi > psi_limit:
        r.reasons.append("psi")
    distance = r.linf_robust if t.comparison_method.lower() == "robust" else r.linf_simple
    if distance is not None and distance > t.comparison_threshold:
        r.reasons.append("baseline_drift")


def _categorical(
    r: FeatureDrift,
    base: CategoricalAccumulator,
    cur: CategoricalAccumulator,
    t: Thresholds,
    psi_limit: float,
) -> None:
    if cur.present == 0 or base.present == 0:
        return
    keys, p, q = distances.categorical_shares(base.frequencies(), cur.frequencies())
    r.linf = distances.linf(p, q)
    r.js_divergence = distances.js_divergence(p, q)
    r.psi = distances.psi(p, q)
    r.new_categories = [key for key in keys if key not in base.counts]
    if r.linf > t.categorical_threshold:
        r.reasons.append("baseline_drift")
    if r.psi > psi_limit:
        r.reasons.append("psi")


def _label_shift(baseline: Baseline, window: WindowAccumulator) -> dict[str, Any] | None:
    """Class-prior change of the target between training data and the window's ground truth."""
    base, cur = baseline.target, window.target
    if base is None or cur is None or cur.rows == 0:
        return None
    if isinstance(base, CategoricalAccumulator) and isinstance(cur, CategoricalAccumulator):
        bf, cf = base.frequencies(), cur.frequencies()
        _, p, q = distances.categorical_shares(bf, cf)
        return {
            "target": baseline.target_name,
            "baseline_priors": bf,
            "current_priors": cf,
            "linf": distances.linf(p, q),
            "js_divergence": distances.js_divergence(p, q),
            "drifted": distances.linf(p, q) > baseline.thresholds.categorical_threshold,
        }
    t = Thresholds()
    f = feature_drift(baseline.target_name or "target", base, cur, t, t.sigma)
    return {"target": baseline.target_name, **asdict(f)}


def _model_quality(quality: PairCounts, min_accuracy: float | None) -> dict[str, Any] | None:
    """Accuracy against ground truth vs A_min (concept drift)."""
    accuracy = quality.accuracy
    if accuracy is None:
        return None
    below = min_accuracy is not None and accuracy < min_accuracy
    return {"rows": quality.total, "accuracy": accuracy, "min_accuracy": min_accuracy, "below_min": below}
