"""drift_core: baselines and drift statistics with numpy alone (shipped as a Lambda layer).

Public API
----------
Columns are a mapping of column name -> 1-d numpy array: float/int arrays are numeric features (NaN =
missing), object/str/bool arrays are categorical (None, NaN and "" = missing).

Baseline (pipeline baseline step, `mlops drift baseline`):
    build_baseline(columns, *, target=None, max_bins=1000, thresholds=None, unparseable=None) -> Baseline
    build_baseline_chunks(chunks, *, target=None, max_bins=1000, sample_size=100_000, thresholds=None, seed=0)
        -> Baseline          # chunks() is called twice and yields (columns, {column: unparseable count})
    Thresholds(sigma=3.0, psi=0.1, comparison_threshold=0.1, comparison_method="Robust",
               categorical_threshold=0.1, completeness_tolerance=0.05, min_accuracy=None, sigma_overrides={})
    write_baseline(baseline, out_dir) -> (statistics.json path, constraints.json path)
    read_baseline(directory) -> Baseline      # ours, or one written by SageMaker Model Monitor
    read_calibration(path) -> Calibration    # the evaluate step's calibration.json; errors name the file
    statistics_document(baseline), constraints_document(baseline)    # the two JSON documents as dicts
    baseline_from_documents(stats, constraints=None) -> Baseline

Drift of a current window (drift Lambda, `mlops drift check`):
    compute_drift(baseline, window, *, sigma=None, psi_threshold=None, min_accuracy=None,
                  prediction_column=None) -> DriftReport   # window: WindowAccumulator or in-memory columns
    WindowAccumulator(baseline, prediction_column=None, strict=True)
        .update(columns, unparseable=None)   # one chunk; raises MissingColumnError if strict
        .merge(other)                        # windows over other rows/files/invocations: exact merge
    DriftReport.to_dict() -> {"rows", "drifted_features", "features": {name: {... "mean_shift_sigma" ...}},
                              "label_shift", "model_quality", "missing_columns"}
    WindowAccumulator(baseline, probability_column=P, probability_label_column=L)  # + CBPE estimate
    DriftReport.to_dict() also holds "performance_estimate", "multivariate" and "drift_kinds"
    constraint_violations(report) -> {"violations": [...]}
    write_constraint_violations(report, out_dir) -> path of constraint_violations.json

Performance estimation and multivariate drift:
    Calibration(pooled=(x, y), per_label={label: (x, y)})   # isotonic map confidence -> P(correct), in the
        baseline as Baseline.calibration (statistics.json mlops_drift.calibration); PerformanceAccumulator (CBPE)
    Baseline.multivariate: PCAModel fitted at baseline time; MultivariateAccumulator (reconstruction error)

Model Monitor's sketch: drift_core.kll.KLLSketch(k=2048, c=0.64).update(values).merge(other), .rank(values),
.quantile(fractions), .rank_error_bound, .to_dict() (`distribution.kll.sketch`); baselines carry one per numeric
feature (NumericAccumulator.sketch), windows none.

A categorical chunk may also be given pre-counted as CategoryCounts(counts={category: n}, missing=n).
Building blocks: NumericAccumulator, CategoricalAccumulator (mergeable, O(bins) memory), and the distances in
`drift_core.distances` (ks_bounds, binned_psi, linf_robust, js_divergence, mean_shift_sigma).
Data capture: `drift_core.capture_codec` reads SageMaker data-capture lines (decode_line, read_lines) for the
CLI and the drift Lambda alike.

Guarantees: chunked == one-shot (counts and histograms exactly, moments to float rounding); the binned KS `ks`
satisfies ks <= scipy.stats.ks_2samp(base, cur).statistic <= ks + ks_error_bound, where ks_error_bound is at
most the largest bin mass (~1/1000 for the baseline); constant baselines, empty windows and NaN give defined
results (null in JSON), never a division error.
"""

from drift_core.baseline import Baseline, Thresholds, build_baseline, build_baseline_chunks
from drift_core.categorical import CategoricalAccumulator, CategoryCounts
from drift_core.estimation import Calibration, CalibrationFormatError, PerformanceAccumulator
from drift_core.formats import (
    BaselineFormatError,
    baseline_from_documents,
    constraints_document,
    read_baseline,
    read_calibration,
    statistics_document,
    write_baseline,
)
from drift_core.multivariate import MultivariateAccumulator, PCAModel
from drift_core.numeric import NumericAccumulator
from drift_core.report import DriftReport, FeatureDrift, compute_drift
from drift_core.violations import constraint_violations, write_constraint_violations
from drift_core.window import MissingColumnError, WindowAccumulator

__all__ = [
    "Baseline",
    "BaselineFormatError",
    "Calibration",
    "CalibrationFormatError",
    "CategoricalAccumulator",
    "CategoryCounts",
    "DriftReport",
    "FeatureDrift",
    "MissingColumnError",
    "MultivariateAccumulator",
    "NumericAccumulator",
    "PCAModel",
    "PerformanceAccumulator",
    "Thresholds",
    "WindowAccumulator",
    "baseline_from_documents",
    "build_baseline",
    "build_baseline_chunks",
    "compute_drift",
    "constraint_violations",
    "constraints_document",
    "read_baseline",
    "read_calibration",
    "statistics_document",
    "write_baseline",
    "write_constraint_violations",
]
