"""Multivariate drift: PCA reconstruction error of the numeric features (NannyML's data reconstruction).

Fit (baseline time, on a row sample of the training data): standardise each numeric feature with its mean and
standard deviation (a missing or non-finite cell becomes 0, the mean), take the principal axes of the sample's
correlation matrix and keep the fewest that explain `variance_target` of the variance (at most d - 1, so that
there is always a residual to measure). A row's reconstruction error is the Euclidean distance between the
standardised row z and its reconstruction from the kept axes, which equals |R^T z| for R the discarded axes (the
axes are orthonormal): one float32 matmul by a d x (d - k) matrix, whatever k is.

A window's statistic is the mean reconstruction error of its rows, against the baseline's (ratio), computed
chunk by chunk: sums merge exactly across chunks, files and Lambda invocations. A relationship between features
that changes while every marginal stays the same (a correlation that flips) moves rows off the kept axes, so the
error rises although no single-feature test fires.

Cost: a chunk of up to `sample_rows` rows is used whole. A larger chunk is sampled: `sample_rows // RUN` runs of
RUN consecutive rows, one run at a random offset in each of as many equal strata of the chunk (contiguous runs
copy at memory speed; single rows strided across the chunk cost almost a full read). The chunk's mean error is
then the mean of the run means, and its sampling variance is estimated from the spread of the run means (valid
whatever the correlation of neighbouring rows, conservative because the runs are stratified); it is carried as
`sampling_variance` and reported as `reconstruction_error_stderr`, so the bound travels with the number.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from drift_core.bottom_k import BottomK
from drift_core.finite import usable

VARIANCE_TARGET = 0.9
FIT_ROWS = 50_000  # training rows the PCA is fitted on (a covariance from 50,000 rows is within ~1% of the full one)
SAMPLE_ROWS = 1 << 15  # rows per chunk above which the errors are computed on a stratified sample of runs
RUN = 1024  # consecutive rows per sampled run
DEFAULT_RATIO = 1.2  # window error / baseline error above which (and 3 standard errors above) it is drift
Z_LIMIT = 3.0  # as NannyML: a change is significant beyond three standard deviations of the reference


@dataclass
class PCAModel:
    """The fitted standardisation and discarded principal axes, plus the baseline's own error statistics."""

    features: list[str]
    mean: np.ndarray
    scale: np.ndarray
    residual: np.ndarray  # d x (d - k): the principal axes not kept, orthonormal columns
    components: int  # k, the axes kept
    explained_variance: float  # share of the fit sample's variance the k axes explain
    variance_target: float = VARIANCE_TARGET
    error_mean: float | None = None  # mean reconstruction error of the training rows
    error_std: float | None = None  # standard deviation of one row's error on the training rows
    rows: int = 0  # training rows behind error_mean
    _projection: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def projection(self) -> np.ndarray:
        """R^T with the standardisation folded in: R^T ((x - mean) / scale) = P x - P mean, P = R^T / scale."""
        if self._projection is None:
            self._projection = np.ascontiguousarray(self.residual.T / self.scale)
        return self._projection

    def errors(self, columns: Sequence[np.ndarray], rows: np.ndarray | None = None) -> np.ndarray:
        """Reconstruction error of each row (of `rows` only, if given) of row-aligned feature columns.

        One copy of the columns into a d x n matrix, one check that it holds only values, one matmul. Folding
        the standardisation into the matmul keeps float64: a feature like 1e9 + N(0, 1) would lose its spread
        to float32 rounding before the mean is subtracted.
        """
        n = columns[0].size if rows is None else rows.size
        x = np.empty((len(columns), n), dtype=np.float64)
        for j, values in enumerate(columns):
            if rows is None:
                x[j] = values
            else:
                np.take(values, rows, out=x[j])
        bad = ~np.isfinite(x.sum(axis=1))
        for row in np.flatnonzero(bad):
            # Missing and non-finite cells: imputed with the baseline mean (z = 0), as NannyML imputes.
            x[row, ~usable(x[row])] = self.mean[row]
        residual = self.projection @ x
        residual -= (self.projection @ self.mean)[:, None]
        return np.sqrt(np.einsum("ij,ij->j", residual, residual))

    def to_document(self) -> dict[str, Any]:
        return {
            "method": "pca_reconstruction",
            "features": list(self.features),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "residual_axes": self.residual.T.tolist(),
            "components": self.components,
            "explained_variance": self.explained_variance,
            "variance_target": self.variance_target,
            "error_mean": self.error_mean,
            "error_std": self.error_std,
            "rows": self.rows,
        }

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> PCAModel:
        features = [str(f) for f in doc["features"]]
        d = len(features)
        residual = np.asarray(doc["residual_axes"], dtype=np.float64).reshape(-1, d).T
        mean, scale = np.asarray(doc["mean"], dtype=np.float64), np.asarray(doc["scale"], dtype=np.float64)
        if mean.shape != (d,) or scale.shape != (d,) or residual.shape[1] == 0:
            raise ValueError("mlops_drift.multivariate: mean, scale and residual_axes must match its features")
        return cls(
            features=features,
            mean=mean,
            scale=scale,
            residual=residual,
            components=int(doc["components"]),
            explained_variance=float(doc["explained_variance"]),
            variance_target=float(doc.get("variance_target", VARIANCE_TARGET)),
            error_mean=_optional(doc.get("error_mean")),
            error_std=_optional(doc.get("error_std")),
            rows=int(doc.get("rows") or 0),
        )


def _optional(value: Any) -> float | None:
    return None if value is None else float(value)


def fit_pca(features: Sequence[str], sample: np.ndarray, variance_target: float = VARIANCE_TARGET) -> PCAModel | None:
    """PCA of a row sample (d x n float64, NaN = missing); None if fewer than two features vary."""
    d = len(features)
    if d < 2 or sample.shape[1] < d + 1:
        return None
    ok = usable(sample)
    counts = ok.sum(axis=1)
    filled = np.where(ok, sample, 0.0)
    mean = filled.sum(axis=1) / np.maximum(counts, 1)
    centred = np.where(ok, sample - mean[:, None], 0.0)
    std = np.sqrt((centred * centred).sum(axis=1) / np.maximum(counts, 1))
    varying = std > 0
    if varying.sum() < 2:
        return None
    scale = np.where(varying, std, 1.0)
    z = centred / scale[:, None]
    values, vectors = np.linalg.eigh(z @ z.T / z.shape[1])
    order = np.argsort(values)[::-1]
    values, vectors = np.clip(values[order], 0.0, None), vectors[:, order]
    share = np.cumsum(values) / values.sum()
    kept = min(int(np.searchsorted(share, variance_target - 1e-12)) + 1, d - 1)
    return PCAModel(
        features=list(features),
        mean=mean,
        scale=scale,
        residual=vectors[:, kept:],
        components=kept,
        explained_variance=float(share[kept - 1]),
        variance_target=variance_target,
    )


@dataclass
class MultivariateAccumulator:
    """Reconstruction errors of a window's rows, as mergeable sums (O(1) memory)."""

    model: PCAModel
    sample_rows: int = SAMPLE_ROWS
    seed: int = 0
    rows: int = 0  # rows the estimate covers
    used: int = 0  # rows whose error was computed
    skipped: int = 0  # rows of chunks whose columns do not line up (a dropped unparseable cell) or are absent
    total: float = 0.0  # estimated sum of the errors of the covered rows
    used_sum: float = 0.0  # sum, and sum of squares, of the computed errors (for the baseline's std)
    used_sum_sq: float = 0.0
    sampling_variance: float = 0.0  # variance of `total` from sampling large chunks
    _rng: np.random.Generator | None = field(default=None, repr=False, compare=False)

    def update(self, columns: Mapping[str, Any]) -> None:
        """Add a chunk: the model's features as row-aligned numeric arrays (others are ignored)."""
        arrays = [columns.get(name) for name in self.model.features]
        present = [a for a in arrays if isinstance(a, np.ndarray)]
        n = present[0].size if present else 0
        if len(present) < len(arrays) or any(a.size != n or a.dtype.kind not in "fiu" for a in present):
            self.skipped += max((np.size(a) for a in present), default=0)
            return
        if n == 0:
            return
        if n <= self.sample_rows:
            self._add(n, self.model.errors(present))
            return
        runs = max(self.sample_rows // RUN, 2)
        bounds = np.linspace(0, n, runs + 1).astype(np.int64)
        length = min(RUN, int(np.diff(bounds).min()))
        starts = bounds[:-1] + self._random().integers(0, bounds[1:] - bounds[:-1] - length + 1)
        rows = (starts[:, None] + np.arange(length)).ravel()
        errors = self.model.errors(present, rows)
        run_means = errors.reshape(runs, length).mean(axis=1)
        self._add(n, errors, estimate=n * float(run_means.mean()), variance=n * n * float(run_means.var(ddof=1)) / runs)

    def _random(self) -> np.random.Generator:
        if self._rng is None:
            self._rng = np.random.default_rng(self.seed)
        return self._rng

    def _add(self, n: int, errors: np.ndarray, estimate: float | None = None, variance: float = 0.0) -> None:
        s = float(errors.sum())
        self.rows += n
        self.used += errors.size
        self.total += s if estimate is None else estimate
        self.used_sum += s
        self.used_sum_sq += float(np.dot(errors, errors))
        self.sampling_variance += variance

    def merge(self, other: MultivariateAccumulator) -> MultivariateAccumulator:
        self.rows += other.rows
        self.used += other.used
        self.skipped += other.skipped
        self.total += other.total
        self.used_sum += other.used_sum
        self.used_sum_sq += other.used_sum_sq
        self.sampling_variance += other.sampling_variance
        return self

    @property
    def mean(self) -> float | None:
        return self.total / self.rows if self.rows else None

    @property
    def std(self) -> float | None:
        """Standard deviation of one row's error (over the rows computed)."""
        if self.used < 2:
            return None
        m = self.used_sum / self.used
        return math.sqrt(max(self.used_sum_sq / self.used - m * m, 0.0) * self.used / (self.used - 1))

    def result(self, ratio_threshold: float = DEFAULT_RATIO) -> dict[str, Any] | None:
        """The JSON block `multivariate` of the drift report; None when no row could be used."""
        mean = self.mean
        if mean is None:
            return None
        m = self.model
        sampling_se = math.sqrt(self.sampling_variance) / self.rows
        ratio = z = None
        drifted = False
        if m.error_mean is not None and m.error_mean > 0:
            ratio = mean / m.error_mean
            # Under no drift the window mean differs from the baseline's by one row's std / sqrt(rows), plus the
            # sampling error of large chunks.
            se = math.sqrt((m.error_std or 0.0) ** 2 / self.rows + sampling_se**2)
            z = (mean - m.error_mean) / se if se > 0 else (math.inf if mean > m.error_mean else 0.0)
            drifted = ratio > ratio_threshold and z > Z_LIMIT
        return {
            "method": "pca_reconstruction",
            "features": list(m.features),
            "components": m.components,
            "explained_variance": m.explained_variance,
            "rows": self.rows,
            "rows_used": self.used,
            "rows_skipped": self.skipped,
            "reconstruction_error": mean,
            "reconstruction_error_stderr": sampling_se,
            "baseline_reconstruction_error": m.error_mean,
            "baseline_error_std": m.error_std,
            "ratio": ratio,
            "z": z,
            "ratio_threshold": ratio_threshold,
            "drifted": drifted,
        }


@dataclass
class RowSampler:
    """Uniform row sample of a stream of chunks (drift_core.bottom_k), row-aligned across features."""

    features: list[str]
    size: int = FIT_ROWS
    seed: int = 0
    bottom: BottomK = field(init=False, repr=False, compare=False)
    _rng: np.random.Generator | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.bottom = BottomK(self.size, (len(self.features),))

    def add(self, columns: Mapping[str, Any]) -> None:
        found = [columns.get(name) for name in self.features]
        arrays = [a for a in found if isinstance(a, np.ndarray) and a.dtype.kind in "fiu"]
        if not arrays or len(arrays) != len(found):
            return
        n = arrays[0].size
        if any(a.size != n for a in arrays) or n == 0:
            return  # rows do not line up (an unparseable cell was dropped): not a usable sample
        if self._rng is None:
            self._rng = np.random.default_rng(self.seed)
        keys = self._rng.random(n)
        entering = np.flatnonzero(keys < self.bottom.threshold)
        if entering.size > self.size:  # only the `size` smallest keys can stay: copy no more rows than that
            entering = np.sort(entering[np.argpartition(keys[entering], self.size)[: self.size]])
        block = np.empty((len(arrays), entering.size), dtype=np.float64)
        for j, a in enumerate(arrays):
            block[j] = a.take(entering)
        self.bottom.offer(block, keys[entering])

    @property
    def sample(self) -> np.ndarray:
        return self.bottom.sample


def with_baseline_errors(model: PCAModel, training: MultivariateAccumulator) -> PCAModel:
    """The model with the training rows' own error statistics (what every window is compared with)."""
    model.error_mean, model.error_std, model.rows = training.mean, training.std, training.rows
    return model
