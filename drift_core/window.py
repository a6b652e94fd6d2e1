"""Streaming accumulation of a current window against a baseline: feed chunks, merge partial windows.

A window holds one accumulator per baseline feature (binned on the baseline's edges), the target's class
counts when ground truth is present, and the (label, prediction) pair counts for accuracy. Memory is
O(features x bins).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from drift_core.baseline import Accumulator, Baseline
from drift_core.categorical import CategoricalAccumulator, CategoryCounts, category_key, is_missing
from drift_core.estimation import PerformanceAccumulator
from drift_core.multivariate import MultivariateAccumulator
from drift_core.numeric import NumericAccumulator


class MissingColumnError(KeyError):
    """A baseline feature is absent from the data; `column` names it."""

    def __init__(self, column: str) -> None:
        super().__init__(column)
        self.column = column

    def __str__(self) -> str:
        return f"column {self.column!r} of the baseline is missing from the data"


def empty_like(acc: Accumulator) -> Accumulator:
    """A fresh accumulator on the same bins and shift as a baseline accumulator."""
    if isinstance(acc, NumericAccumulator):
        return NumericAccumulator(acc.binner, shift=acc.shift)
    return CategoricalAccumulator()


@dataclass
class PairCounts:
    """Counts of (label, prediction) pairs: mergeable, enough for accuracy and a confusion matrix."""

    pairs: dict[tuple[str, str], int] = field(default_factory=dict)

    def update(self, labels: np.ndarray, predictions: np.ndarray) -> None:
        labels, predictions = np.asarray(labels), np.asarray(predictions)
        # zip(strict=True) would say this, but the step containers run Python 3.9 (zip has no strict before 3.10).
        if len(labels) != len(predictions):
            raise ValueError(f"{len(labels)} labels but {len(predictions)} predictions")
        for label, pred in zip(labels.tolist(), predictions.tolist()):
            if is_missing(label) or is_missing(pred):
                continue
            key = (_label_key(label), _label_key(pred))
            self.pairs[key] = self.pairs.get(key, 0) + 1

    def merge(self, other: PairCounts) -> PairCounts:
        for key, n in other.pairs.items():
            self.pairs[key] = self.pairs.get(key, 0) + n
        return self

    @property
    def total(self) -> int:
        return sum(self.pairs.values())

    @property
    def accuracy(self) -> float | None:
        total = self.total
        return sum(n for (t, p), n in self.pairs.items() if t == p) / total if total else None


def _label_key(value: object) -> str:
    # 1 and 1.0 are the same class whether it came from an int or a float column.
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return category_key(value)


@dataclass
class WindowAccumulator:
    """The current window, accumulated chunk by chunk against `baseline`.

    `probability_column`: the model's probability of its predicted label, per row; with the baseline's
    calibration it gives the CBPE estimate of accuracy. The predicted label that picks the calibration map is
    `probability_label_column` (default: `prediction_column`; none: the pooled map).
    """

    baseline: Baseline
    prediction_column: str | None = None
    strict: bool = True
    probability_column: str | None = None
    probability_label_column: str | None = None
    features: dict[str, Accumulator] = field(default_factory=dict)
    target: Accumulator | None = None
    quality: PairCounts = field(default_factory=PairCounts)
    missing_columns: set[str] = field(default_factory=set)
    multivariate: MultivariateAccumulator | None = None
    performance: PerformanceAccumulator | None = None

    def __post_init__(self) -> None:
        if not self.features:
            self.features = {name: empty_like(acc) for name, acc in self.baseline.features.items()}
        if self.multivariate is None and self.baseline.multivariate is not None:
            self.multivariate = MultivariateAccumulator(self.baseline.multivariate)
        if self.performance is None and self.baseline.calibration is not None and self.probability_column:
            self.performance = PerformanceAccumulator(self.baseline.calibration)
        if self.probability_label_column is None:
            self.probability_label_column = self.prediction_column

    def update(
        self, columns: Mapping[str, np.ndarray | CategoryCounts], unparseable: Mapping[str, int] | None = None
    ) -> None:
        """Add a chunk: column name -> values. A missing baseline column raises MissingColumnError
        (strict)."""
        bad = unparseable or {}
        for name, acc in self.features.items():
            if name not in columns:
                if self.strict:
                    raise MissingColumnError(name)
                self.missing_columns.add(name)
                continue
            _feed(acc, columns[name], bad.get(name, 0))
        self._update_labels(columns, bad)
        if self.multivariate is not None:
            self.multivariate.update(columns)
        probabilities = columns.get(self.probability_column or "")
        # Only row values carry probabilities: a column already counted by category (CategoryCounts) has none.
        if self.performance is not None and probabilities is not None and not isinstance(probabilities, CategoryCounts):
            values = np.asarray(probabilities)
            labels = columns.get(self.probability_label_column or "")
            aligned = labels if isinstance(labels, np.ndarray) and labels.size == values.size else None
            self.performance.update(values, aligned)

    def _update_labels(self, columns: Mapping[str, np.ndarray | CategoryCounts], bad: Mapping[str, int]) -> None:
        name = self.baseline.target_name
        if name is None or name not in columns or self.baseline.target is None:
            return
        if self.target is None:
            self.target = empty_like(self.baseline.target)
        _feed(self.target, columns[name], bad.get(name, 0))
        labels, predictions = columns[name], columns.get(self.prediction_column or "")
        # Quality needs labels and predictions row by row: counts of categories cannot be paired.
        if isinstance(labels, np.ndarray) and isinstance(predictions, np.ndarray):
            self.quality.update(labels, predictions)

    def merge(self, other: WindowAccumulator) -> WindowAccumulator:
        """Fold in a window over other rows (another file, another Lambda invocation); returns self."""
        for name, acc in self.features.items():
            acc.merge(other.features[name])  # type: ignore[arg-type]
        if other.target is not None:
            if self.target is None:
                self.target = empty_like(other.target)
            self.target.merge(other.target)  # type: ignore[arg-type]
        self.quality.merge(other.quality)
        self.missing_columns |= other.missing_columns
        if self.multivariate is not None and other.multivariate is not None:
            self.multivariate.merge(other.multivariate)
        if other.performance is not None:
            if self.performance is None:
                self.performance = PerformanceAccumulator(other.performance.calibration)
            self.performance.merge(other.performance)
        return self

    @property
    def rows(self) -> int:
        return max((acc.rows for acc in self.features.values()), default=0)


def _feed(acc: Accumulator, values: np.ndarray | CategoryCounts, unparseable: int) -> None:
    if isinstance(values, CategoryCounts):
        if not isinstance(acc, CategoricalAccumulator):
            raise TypeError("pre-counted categories given for a numeric feature")
        acc.update(values)
    elif isinstance(acc, NumericAccumulator):
        arr = np.asarray(values)
        if arr.dtype.kind not in "fiub":
            arr, extra = _coerce_numeric(arr)
            unparseable += extra
        acc.update(arr, unparseable=unparseable)
    else:
        acc.update(np.asarray(values, dtype=object))


def _coerce_numeric(values: np.ndarray) -> tuple[np.ndarray, int]:
    """Parse an object/str array for a numeric feature: missing -> NaN, garbage -> dropped and counted."""
    out = np.empty(values.size, dtype=np.float64)
    keep = np.ones(values.size, dtype=bool)
    bad = 0
    for i, v in enumerate(values.ravel().tolist()):
        if is_missing(v):
            out[i] = np.nan
            continue
        try:
            out[i] = float(v)
        except (TypeError, ValueError):
            keep[i] = False
            bad += 1
    return out[keep], bad
