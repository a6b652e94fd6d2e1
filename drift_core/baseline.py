"""Baselines: per-feature accumulators over the training data plus the thresholds of the drift rules.

One-shot (`build_baseline`) or chunked (`build_baseline_chunks`, two passes: the first draws a bounded random
sample per numeric feature to place the quantile edges, the second counts exactly). Memory stays O(features x
(bins + sample size)) whatever the row count.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from drift_core.binning import BinIndex, Binner, quantile_binner
from drift_core.bottom_k import BottomK
from drift_core.categorical import CategoricalAccumulator, CategoryCounts
from drift_core.estimation import Calibration
from drift_core.finite import usable
from drift_core.kll import KLLSketch
from drift_core.multivariate import (
    DEFAULT_RATIO,
    FIT_ROWS,
    MultivariateAccumulator,
    PCAModel,
    RowSampler,
    fit_pca,
    with_baseline_errors,
)
from drift_core.numeric import NumericAccumulator, reference_shift

DEFAULT_BINS = 1000
DEFAULT_SAMPLE = 100_000

Columns = Mapping[str, np.ndarray]
ChunkColumns = Mapping[str, np.ndarray | CategoryCounts]
Accumulator = NumericAccumulator | CategoricalAccumulator


@dataclass
class Thresholds:
    """The drift rules' parameters; stored in constraints.json (Model Monitor keys plus `mlops_drift`)."""

    sigma: float = 3.0
    psi: float = 0.1
    comparison_threshold: float = 0.1
    comparison_method: str = "Robust"
    categorical_threshold: float = 0.1
    completeness_tolerance: float = 0.05
    min_accuracy: float | None = None
    sigma_overrides: dict[str, float] = field(default_factory=dict)
    multivariate_ratio: float = DEFAULT_RATIO  # window / baseline PCA reconstruction error above which it drifted

    def sigma_for(self, feature: str) -> float:
        return self.sigma_overrides.get(feature, self.sigma)


@dataclass
class Baseline:
    """Baseline statistics per feature (in column order), the optional target, and the thresholds."""

    features: dict[str, Accumulator]
    thresholds: Thresholds = field(default_factory=Thresholds)
    target_name: str | None = None
    target: Accumulator | None = None
    # PCA of the numeric features (multivariate drift) and the model's calibration (performance estimation)
    multivariate: PCAModel | None = None
    calibration: Calibration | None = None

    _bin_counts: dict[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)

    def bin_counts(self, name: str) -> np.ndarray:
        """Per-bin counts of a numeric baseline feature, cached: every window is compared with them."""
        if name not in self._bin_counts:
            acc = self.features[name]
            if not isinstance(acc, NumericAccumulator):
                raise TypeError(f"feature {name!r} is not numeric")
            self._bin_counts[name] = acc.counts
        return self._bin_counts[name]

    @property
    def item_count(self) -> int:
        return max((acc.rows for acc in self.features.values()), default=0)


def is_numeric_array(values: np.ndarray | CategoryCounts) -> bool:
    """Float/int arrays are numeric features; bool, object and string arrays are categorical."""
    return not isinstance(values, CategoryCounts) and np.asarray(values).dtype.kind in "fiu"


def _binner_for(finite: np.ndarray, max_bins: int) -> Binner:
    if finite.size == 0:
        return BinIndex(np.array([0.0]))
    return quantile_binner(finite, max_bins)


def _numeric_baseline(values: np.ndarray, max_bins: int, unparseable: int = 0) -> NumericAccumulator:
    x = np.asarray(values, dtype=np.float64).ravel()
    finite = x[usable(x)]
    mean = float(finite.mean()) if finite.size else None
    std = float(finite.std()) if finite.size else None
    acc = NumericAccumulator(_binner_for(finite, max_bins), shift=reference_shift(mean, std), sketch=KLLSketch())
    acc.update(x, unparseable=unparseable)
    acc.track_integral(finite)
    return acc


def _categorical_baseline(values: np.ndarray) -> CategoricalAccumulator:
    acc = CategoricalAccumulator()
    acc.update(values)
    return acc


def _split_target(columns: Columns, target: str | None) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    features = {name: np.asarray(values) for name, values in columns.items() if name != target}
    if target is not None and target not in columns:
        raise KeyError(f"target column {target!r} not found")
    return features, (np.asarray(columns[target]) if target is not None else None)


def build_baseline(
    columns: Columns,
    *,
    target: str | None = None,
    max_bins: int = DEFAULT_BINS,
    thresholds: Thresholds | None = None,
    unparseable: Mapping[str, int] | None = None,
) -> Baseline:
    """Baseline of in-memory columns: numeric arrays (NaN = missing) or object/str arrays (categoricals)."""
    features, target_values = _split_target(columns, target)
    bad = unparseable or {}
    multivariate = _fit_in_memory(features)
    accs: dict[str, Accumulator] = {}
    for name, values in features.items():
        if is_numeric_array(values):
            accs[name] = _numeric_baseline(values, max_bins, bad.get(name, 0))
        else:
            accs[name] = _categorical_baseline(values)
    target_acc: Accumulator | None = None
    if target_values is not None:
        target_acc = (
            _numeric_baseline(target_values, max_bins)
            if is_numeric_array(target_values)
            else _categorical_baseline(target_values)
        )
    return Baseline(accs, thresholds or Thresholds(), target, target_acc, multivariate)


def _fit_in_memory(features: Mapping[str, np.ndarray]) -> PCAModel | None:
    """PCA of in-memory numeric features: fitted on a row sample, the baseline error measured on every row."""
    numeric = [name for name, values in features.items() if is_numeric_array(values)]
    sampler = RowSampler(numeric)
    sampler.add(features)
    model = fit_pca(numeric, sampler.sample)
    if model is None:
        return None
    training = MultivariateAccumulator(model)
    training.update(features)
    return with_baseline_errors(model, training)


@dataclass
class _Sampler:
    """A feature's uniform sample (drift_core.bottom_k) and the running moments of its finite values."""

    size: int
    rng: np.random.Generator
    bottom: BottomK = field(init=False)
    n: int = 0
    total: float = 0.0
    total_sq: float = 0.0
    first: float | None = None

    def __post_init__(self) -> None:
        self.bottom = BottomK(self.size)

    def add(self, x: np.ndarray) -> None:
        finite = x[usable(x)]
        if finite.size == 0:
            return
        if self.first is None:
            self.first = float(finite[0])
        # Running moments around the first value: only needed to pick the reference shift of pass two.
        d = finite - self.first
        self.n += finite.size
        self.total += float(d.sum())
        self.total_sq += float(np.einsum("i,i->", d, d))
        keys = self.rng.random(finite.size)
        entering = keys < self.bottom.threshold
        self.bottom.offer(finite[entering], keys[entering])

    @property
    def values(self) -> np.ndarray:
        return self.bottom.sample

    def mean_std(self) -> tuple[float | None, float | None]:
        if self.n == 0 or self.first is None:
            return None, None
        m = self.total / self.n
        return self.first + m, math.sqrt(max(self.total_sq / self.n - m * m, 0.0))


def build_baseline_chunks(
    chunks: Callable[[], Iterable[tuple[ChunkColumns, Mapping[str, int]]]],
    *,
    target: str | None = None,
    max_bins: int = DEFAULT_BINS,
    sample_size: int = DEFAULT_SAMPLE,
    thresholds: Thresholds | None = None,
    seed: int = 0,
) -> Baseline:
    """Baseline of data too large for memory; `chunks()` is called twice and yields (columns, unparseable)."""
    rng = np.random.default_rng(seed)
    samplers: dict[str, _Sampler] = {}
    categorical: dict[str, CategoricalAccumulator] = {}
    order: list[str] = []
    rows: RowSampler | None = None
    for columns, _ in chunks():
        if rows is None:  # the PCA's features: the numeric columns of the first chunk
            rows = RowSampler([n for n, v in columns.items() if n != target and is_numeric_array(v)], FIT_ROWS, seed)
        rows.add(columns)
        for name, values in columns.items():
            if name not in samplers and name not in categorical:
                order.append(name)
                if is_numeric_array(values):
                    samplers[name] = _Sampler(sample_size, rng)
                else:
                    categorical[name] = CategoricalAccumulator()
            if name in samplers:
                samplers[name].add(np.asarray(values, dtype=np.float64).ravel())
            else:
                categorical[name].update(values if isinstance(values, CategoryCounts) else np.asarray(values))
    numeric: dict[str, NumericAccumulator] = {}
    for name, sampler in samplers.items():
        mean, std = sampler.mean_std()
        numeric[name] = NumericAccumulator(
            _binner_for(sampler.values, max_bins), reference_shift(mean, std), sketch=KLLSketch()
        )
    model = fit_pca(rows.features, rows.sample) if rows is not None else None
    training = MultivariateAccumulator(model, seed=seed) if model is not None else None
    for columns, unparseable in chunks():
        if training is not None:
            training.update(columns)
        for name, values in columns.items():
            if name in numeric:
                x = np.asarray(values, dtype=np.float64).ravel()
                numeric[name].update(x, unparseable=unparseable.get(name, 0))
                numeric[name].track_integral(x)
    accs: dict[str, Accumulator] = {}
    for name in order:
        accs[name] = numeric[name] if name in numeric else categorical[name]
    target_acc = accs.pop(target) if target is not None and target in accs else None
    if target is not None and target_acc is None:
        raise KeyError(f"target column {target!r} not found")
    multivariate = with_baseline_errors(model, training) if model is not None and training is not None else None
    return Baseline(accs, thresholds or Thresholds(), target, target_acc, multivariate)
