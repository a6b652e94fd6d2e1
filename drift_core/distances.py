"""Distances between a baseline and a current window, from binned counts (numeric) or frequencies
(categorical).

KS from binned CDFs: both empirical CDFs are known exactly at the bin edges, so the gap at the edges, `ks`, is
a lower bound of the exact two-sample statistic D, and inside a bin each CDF stays between its values at the
two ends, which gives the upper bound `ks + ks_error_bound`; `ks_error_bound` never exceeds the largest bin
mass of either sample (~1/bins for the baseline). So |ks - scipy.stats.ks_2samp(...).statistic| <=
ks_error_bound.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

# Empty bins would make PSI infinite; the usual floor on a bin's share keeps it finite and comparable.
PSI_EPSILON = 1e-4
# SageMaker's "Robust" comparison subtracts this many standard errors of the KS statistic.
ROBUST_FACTOR = 1.8


def ks_bounds(base_counts: np.ndarray, cur_counts: np.ndarray) -> tuple[float, float]:
    """(lower, upper) bounds of the KS statistic of two samples binned on the same edges."""
    nb, nc = base_counts.sum(), cur_counts.sum()
    if nb == 0 or nc == 0:
        return math.nan, math.nan
    cb = np.cumsum(base_counts) / nb
    cc = np.cumsum(cur_counts) / nc
    lower = float(np.max(np.abs(cb[:-1] - cc[:-1]))) if cb.size > 1 else 0.0
    pb = np.concatenate(([0.0], cb[:-1]))
    pc = np.concatenate(([0.0], cc[:-1]))
    upper = float(max(np.max(cb - pc), np.max(cc - pb)))
    return lower, max(upper, lower)


def decile_groups(base_counts: np.ndarray, groups: int = 10) -> np.ndarray:
    """Start index of each group of consecutive bins holding ~1/groups of the baseline each."""
    total = base_counts.sum()
    if total == 0:
        return np.array([0])
    cum = np.cumsum(base_counts) / total
    cuts = np.searchsorted(cum, np.arange(1, groups) / groups, side="left") + 1
    return np.unique(np.concatenate(([0], cuts[cuts < base_counts.size])))


def psi(base_share: np.ndarray, cur_share: np.ndarray) -> float:
    """Population stability index of two share vectors over the same groups."""
    b = np.maximum(base_share, PSI_EPSILON)
    c = np.maximum(cur_share, PSI_EPSILON)
    return float(np.sum((c - b) * np.log(c / b)))


def binned_psi(base_counts: np.ndarray, cur_counts: np.ndarray, groups: int = 10) -> float:
    """PSI on the baseline's deciles (bins merged into groups of ~10% baseline mass)."""
    nb, nc = base_counts.sum(), cur_counts.sum()
    if nb == 0 or nc == 0:
        return math.nan
    starts = decile_groups(base_counts, groups)
    return psi(np.add.reduceat(base_counts, starts) / nb, np.add.reduceat(cur_counts, starts) / nc)


def linf_robust(d: float, n: int, m: int) -> float:
    """SageMaker's robust L-infinity: max(0, D - 1.8 * sqrt((n + m) / (n * m)))."""
    if n <= 0 or m <= 0 or math.isnan(d):
        return math.nan
    return max(0.0, d - ROBUST_FACTOR * math.sqrt((n + m) / (n * m)))


def mean_shift_sigma(mean_cur: float | None, mean_base: float | None, std_base: float | None) -> float:
    """|mean_cur - mean_base| / std_base; 0 or inf (never a division error) for a constant baseline."""
    if mean_cur is None or mean_base is None or std_base is None:
        return math.nan
    gap = abs(mean_cur - mean_base)
    if std_base > 0:
        return gap / std_base
    return 0.0 if gap == 0 else math.inf


def categorical_shares(base: Mapping[str, float], cur: Mapping[str, float]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Aligned share vectors over the union of categories (baseline order first)."""
    keys = list(base) + [k for k in cur if k not in base]
    return keys, np.array([base.get(k, 0.0) for k in keys]), np.array([cur.get(k, 0.0) for k in keys])


def linf(p: np.ndarray, q: np.ndarray) -> float:
    return float(np.max(np.abs(p - q))) if p.size else math.nan


def js_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence in bits, in [0, 1]; 0 for identical distributions."""
    if p.size == 0 or p.sum() == 0 or q.sum() == 0:
        return math.nan
    m = 0.5 * (p + q)

    def kl(a: np.ndarray) -> float:
        mask = a > 0
        return float(np.sum(a[mask] * np.log2(a[mask] / m[mask])))

    return max(0.0, 0.5 * kl(p) + 0.5 * kl(q))
