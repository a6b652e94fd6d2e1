"""statistics.json / constraints.json in SageMaker Model Monitor's formats, extended under `mlops_drift`.

Model Monitor's own fields (version, dataset.item_count, features[].numerical_statistics with
common/mean/sum/std_dev/min/max/distribution.kll, string_statistics with distribution.categorical.buckets;
constraints with features[].completeness and monitoring_config.distribution_constraints) are written so that
Model Monitor can use our baseline. What the sigma rule and the exact KS/PSI need (bin edges, exact counts,
shifted sums, the grid that makes binning fast) sits under `mlops_drift` keys, which Model Monitor ignores. A
baseline written by Model Monitor (no `mlops_drift` keys) is read from its KLL sketch or buckets instead.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from drift_core.baseline import Accumulator, Baseline, Thresholds
from drift_core.binning import BinIndex, make_binner
from drift_core.categorical import CategoricalAccumulator
from drift_core.estimation import Calibration, CalibrationFormatError
from drift_core.kll import DEFAULT_C, DEFAULT_K, KLLSketch
from drift_core.multivariate import PCAModel
from drift_core.numeric import NumericAccumulator, reference_shift

EXTENSION = "mlops_drift"
FORMAT_VERSION = 1
STATISTICS = "statistics.json"
CONSTRAINTS = "constraints.json"
# Model Monitor's default KLL parameters, written so its readers find the fields they expect.
KLL_PARAMETERS = {"c": DEFAULT_C, "k": float(DEFAULT_K)}


class BaselineFormatError(ValueError):
    """A baseline file is malformed; the message names the file and field."""


# ---- writing -----------------------------------------------------------------------------------------------


def statistics_document(baseline: Baseline) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "version": 0.0,
        "dataset": {"item_count": baseline.item_count},
        "features": [_feature_statistics(name, acc) for name, acc in baseline.features.items()],
    }
    ext: dict[str, Any] = {}
    if baseline.target is not None and baseline.target_name is not None:
        # Outside `features`, so that Model Monitor does not expect the label in captured requests.
        ext["target"] = _feature_statistics(baseline.target_name, baseline.target)
    if baseline.multivariate is not None:
        ext["multivariate"] = baseline.multivariate.to_document()
    if baseline.calibration is not None:
        ext["calibration"] = baseline.calibration.to_document()
    if ext:
        doc[EXTENSION] = ext
    return doc


def _feature_statistics(name: str, acc: Accumulator) -> dict[str, Any]:
    common = {"num_present": acc.present, "num_missing": acc.missing}
    if isinstance(acc, CategoricalAccumulator):
        buckets = [{"value": k, "count": v} for k, v in sorted(acc.counts.items(), key=lambda kv: -kv[1])]
        return {
            "name": name,
            "inferred_type": "String",
            "string_statistics": {
                "common": common,
                "distinct_count": float(len(acc.counts)),
                "distribution": {"categorical": {"buckets": buckets}},
            },
        }
    stats: dict[str, Any] = {
        "common": common,
        "mean": _num(acc.mean),
        "sum": _num(acc.total),
        "std_dev": _num(acc.std),
        "min": _num(acc.minimum if acc.present else None),
        "max": _num(acc.maximum if acc.present else None),
        "distribution": {"kll": _kll(acc)},
    }
    ext = {
        "version": FORMAT_VERSION,
        "edges": acc.edges.tolist(),
        "counts": acc.counts.tolist(),
        "grid": acc.binner.grid_params(),
        "shift": acc.shift,
        "mean_shifted": acc.mean_d,
        "m2": acc.m2,
        "rows": acc.rows,
        "num_unparseable": acc.unparseable,
    }
    if acc.sketch is not None:
        # Not in Model Monitor's format: the largest rank error of any query on distribution.kll.sketch.
        ext["kll_rank_error_bound"] = acc.sketch.rank_error_bound
    inferred = "Integral" if acc.all_integral and acc.present else "Fractional"
    return {"name": name, "inferred_type": inferred, "numerical_statistics": stats, EXTENSION: ext}


def _num(x: float | None) -> float:
    return float(x) if x is not None and math.isfinite(x) else 0.0


MODEL_MONITOR_BUCKETS = 10


def _kll(acc: NumericAccumulator) -> dict[str, Any]:
    """Model Monitor's `distribution.kll`: its bucket layout and a KLL sketch of the raw values.

    Buckets: equal-width from min to max (10, as its analyzer writes them), not our decile grid (which stays under
    `mlops_drift`). Their counts come from the binned distribution: exact where a bucket bound falls on one of our
    bin edges, otherwise split linearly inside the bin (an error of at most one bin's mass per bound); they sum to
    num_present. Sketch: the compactor levels of the KLL sketch (drift_core.kll) streamed over the same values
    ("Schema for Statistics (statistics.json file)",
    https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-byoc-statistics.html).
    """
    sketch = acc.sketch.to_dict() if acc.sketch is not None else {"parameters": KLL_PARAMETERS, "data": [[]]}
    if acc.present == 0:
        return {"buckets": [], "sketch": sketch}
    low, high = float(acc.minimum), float(acc.maximum)
    bounds = np.linspace(low, high, MODEL_MONITOR_BUCKETS + 1) if high > low else np.array([low, high])
    bins = np.array(_bin_bounds(acc))
    cum = np.concatenate(([0.0], np.cumsum(acc.counts, dtype=np.float64)))
    xs = np.concatenate(([bins[0, 0]], bins[:, 1]))
    # Our bins are left-closed, so the binned CDF at an edge counts the values below it, as Model Monitor's (and
    # numpy's) buckets do; integers below a fractional bound are the integers below its ceiling.
    inner = np.ceil(bounds[1:-1]) if acc.all_integral else bounds[1:-1]
    below = np.concatenate(([0.0], np.interp(inner, xs, cum), [float(acc.present)]))
    counts = _whole_counts(np.diff(below), acc.present)
    buckets = [
        {"lower_bound": float(lo), "upper_bound": float(hi), "count": float(c)}
        for lo, hi, c in zip(bounds[:-1], bounds[1:], counts)  # equal lengths (no strict=: Python 3.9 images)
    ]
    return {"buckets": buckets, "sketch": sketch}


def _whole_counts(mass: np.ndarray, total: int) -> np.ndarray:
    """Round fractional bucket masses to whole counts that sum to `total` (largest remainders get the rest)."""
    scaled = mass * (total / mass.sum()) if mass.sum() > 0 else np.zeros_like(mass)
    counts = np.floor(scaled).astype(np.int64)
    order = np.argsort(-(scaled - counts), kind="stable")
    counts[order[: total - int(counts.sum())]] += 1
    return counts


def _bin_bounds(acc: NumericAccumulator) -> list[tuple[float, float]]:
    """Finite bounds of each bin: the open outer bins are closed by the observed min and max."""
    e = acc.edges
    lows = np.concatenate(([min(acc.minimum, e[0])], e))
    highs = np.concatenate((e, [max(acc.maximum, e[-1])]))
    return list(zip(lows.tolist(), highs.tolist()))  # equal lengths: one per bin


def constraints_document(baseline: Baseline) -> dict[str, Any]:
    t = baseline.thresholds
    features = []
    for name, acc in baseline.features.items():
        entry: dict[str, Any] = {
            "name": name,
            "inferred_type": _inferred_type(acc),
            "completeness": acc.completeness if acc.completeness is not None else 1.0,
        }
        if isinstance(acc, NumericAccumulator):
            entry["num_constraints"] = {"is_non_negative": bool(acc.present and acc.minimum >= 0)}
        else:
            entry["string_constraints"] = {"domains": sorted(acc.counts)}
        if name in t.sigma_overrides:
            entry[EXTENSION] = {"sigma": t.sigma_overrides[name]}
        features.append(entry)
    return {
        "version": 0.0,
        "features": features,
        "monitoring_config": {
            "evaluate_constraints": "Enabled",
            "emit_metrics": "Enabled",
            "datatype_check_threshold": 1.0,
            "domain_content_threshold": 1.0,
            "distribution_constraints": {
                "perform_comparison": "Enabled",
                "comparison_threshold": t.comparison_threshold,
                "comparison_method": t.comparison_method,
                "categorical_comparison_threshold": t.categorical_threshold,
                "categorical_drift_method": "LInfinity",
            },
        },
        EXTENSION: {
            "version": FORMAT_VERSION,
            "sigma": t.sigma,
            "psi_threshold": t.psi,
            "completeness_tolerance": t.completeness_tolerance,
            "min_accuracy": t.min_accuracy,
            "multivariate_ratio": t.multivariate_ratio,
            "target": baseline.target_name,
        },
    }


def _inferred_type(acc: Accumulator) -> str:
    if isinstance(acc, CategoricalAccumulator):
        return "String"
    return "Integral" if acc.all_integral and acc.present else "Fractional"


def write_baseline(baseline: Baseline, out_dir: str | Path) -> tuple[Path, Path]:
    """Write statistics.json and constraints.json into out_dir (created if needed); returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stats_path, constraints_path = out / STATISTICS, out / CONSTRAINTS
    stats_path.write_text(json.dumps(statistics_document(baseline), allow_nan=False))
    constraints_path.write_text(json.dumps(constraints_document(baseline), indent=2, allow_nan=False))
    return stats_path, constraints_path


# ---- reading -----------------------------------------------------------------------------------------------


def read_baseline(directory: str | Path) -> Baseline:
    """Read a baseline directory written by us or by Model Monitor (constraints.json is optional).

    Every error names the file at fault: missing, not UTF-8 JSON, not an object, or a field of the wrong shape."""
    d = Path(directory)
    stats_path = d / STATISTICS
    if not stats_path.is_file():
        raise BaselineFormatError(f"{stats_path}: file not found")
    stats = _load_json(stats_path)
    constraints_path = d / CONSTRAINTS
    constraints = _load_json(constraints_path) if constraints_path.is_file() else None
    with _malformed(stats_path):
        parts = _statistics_parts(stats)
    with _malformed(constraints_path):
        limits = _thresholds(constraints)
    return _assemble(parts, limits)


def read_calibration(path: str | Path) -> Calibration:
    """The evaluate step's calibration.json. Not UTF-8 JSON or a malformed document: a CalibrationFormatError naming
    the file (a missing file is the caller's to judge: the CLI refuses it, the baseline step goes without)."""
    source = Path(path)
    try:
        return Calibration.from_document(json.loads(source.read_text(encoding="utf-8")))
    except (UnicodeDecodeError, json.JSONDecodeError, CalibrationFormatError) as exc:
        raise CalibrationFormatError(f"{source}: {exc}") from exc


@contextlib.contextmanager
def _malformed(path: Path) -> Iterator[None]:
    """A field of the wrong type or shape in `path` becomes one BaselineFormatError naming the file."""
    try:
        yield
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        raise BaselineFormatError(f"{path}: malformed baseline ({type(exc).__name__}: {exc})") from exc


def _load_json(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BaselineFormatError(f"{path}: not readable JSON ({exc})") from exc
    if not isinstance(doc, dict):
        raise BaselineFormatError(f"{path}: expected a JSON object, got {type(doc).__name__}")
    return doc


def baseline_from_documents(stats: dict[str, Any], constraints: dict[str, Any] | None = None) -> Baseline:
    return _assemble(_statistics_parts(stats), _thresholds(constraints))


class _Statistics(NamedTuple):
    features: dict[str, Accumulator]
    target: Accumulator | None
    target_name: str | None  # as statistics.json names it; constraints.json's name wins
    multivariate: PCAModel | None = None
    calibration: Calibration | None = None


def _statistics_parts(stats: dict[str, Any]) -> _Statistics:
    entries = stats.get("features")
    if not isinstance(entries, list):
        raise ValueError(f"'features' must be a list of feature objects, got {type(entries).__name__}")
    features: dict[str, Accumulator] = {}
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise ValueError(f"every entry of 'features' needs a string 'name', got {entry!r:.80}")
        features[entry["name"]] = _feature_from_statistics(entry)
    ext = stats.get(EXTENSION) or {}
    # The PCA of the numeric features and the model's calibration (issue #16), when the baseline step stored them.
    multivariate = PCAModel.from_document(ext["multivariate"]) if ext.get("multivariate") else None
    calibration = Calibration.from_document(ext["calibration"]) if ext.get("calibration") else None
    target_entry = ext.get("target")
    if not target_entry:
        return _Statistics(features, None, None, multivariate, calibration)
    target = _feature_from_statistics(target_entry)
    return _Statistics(features, target, str(target_entry["name"]), multivariate, calibration)


def _assemble(parts: _Statistics, limits: tuple[Thresholds, str | None]) -> Baseline:
    thresholds, target_name = limits
    return Baseline(
        parts.features,
        thresholds,
        target_name or parts.target_name,
        parts.target,
        parts.multivariate,
        parts.calibration,
    )


def _feature_from_statistics(entry: dict[str, Any]) -> Accumulator:
    name = entry.get("name")
    if "string_statistics" in entry:
        s = entry["string_statistics"]
        buckets = s.get("distribution", {}).get("categorical", {}).get("buckets", [])
        acc = CategoricalAccumulator()
        acc.update_counts({str(b["value"]): int(b["count"]) for b in buckets}, int(s["common"]["num_missing"]))
        return acc
    if "numerical_statistics" not in entry:
        raise KeyError(f"feature {name!r}: neither numerical_statistics nor string_statistics")
    s = entry["numerical_statistics"]
    ext = entry.get(EXTENSION)
    if ext:
        return _numeric_from_extension(s, ext, entry.get("inferred_type"))
    return _numeric_from_model_monitor(s, entry.get("inferred_type"))


def _numeric_from_extension(s: dict[str, Any], ext: dict[str, Any], inferred: str | None) -> NumericAccumulator:
    edges = np.asarray(ext["edges"], dtype=np.float64)
    binner = make_binner(edges, ext.get("grid"))
    acc = NumericAccumulator(binner, shift=float(ext["shift"]))
    counts = np.asarray(ext["counts"], dtype=np.int64)
    if counts.size != edges.size + 1:
        raise ValueError("mlops_drift.counts must have len(edges) + 1 entries")
    # Bin counts are put back into the binner's raw layout: for grid bins, each bin's count in its first cell.
    acc.raw = _raw_from_counts(binner, counts)
    common = s["common"]
    acc.present, acc.missing = int(common["num_present"]), int(common["num_missing"])
    acc.unparseable = int(ext.get("num_unparseable", 0))
    acc.rows = int(ext.get("rows", acc.present + acc.missing + acc.unparseable))
    acc.mean_d, acc.m2 = float(ext["mean_shifted"]), float(ext["m2"])
    acc.minimum = float(s["min"]) if acc.present else math.inf
    acc.maximum = float(s["max"]) if acc.present else -math.inf
    acc.all_integral = inferred == "Integral"
    if "kll_rank_error_bound" in ext:  # written with a KLL sketch (not the older single level of quantiles)
        sketch = s.get("distribution", {}).get("kll", {}).get("sketch", {})
        acc.sketch = KLLSketch.from_dict(sketch, int(ext["kll_rank_error_bound"]))
    return acc


def _raw_from_counts(binner: Any, counts: np.ndarray) -> np.ndarray:
    if isinstance(binner, BinIndex):
        return counts.copy()
    raw = np.zeros(binner.raw_size, dtype=np.int64)
    starts = np.concatenate(([0], binner.edge_cells))
    np.add.at(raw, starts, counts)
    return raw


def _numeric_from_model_monitor(s: dict[str, Any], inferred: str | None) -> NumericAccumulator:
    """Rebuild bins from a Model Monitor baseline: KLL sketch items (weight 2**level) or else its buckets."""
    common = s["common"]
    present, missing = int(common["num_present"]), int(common["num_missing"])
    mean, std = float(s.get("mean", 0.0)), float(s.get("std_dev", 0.0))
    kll = s.get("distribution", {}).get("kll", {})
    edges, counts = _bins_from_sketch(kll.get("sketch", {}).get("data"), present)
    if edges is None:
        edges, counts = _bins_from_buckets(kll.get("buckets", []), present, s)
    acc = NumericAccumulator(BinIndex(edges), shift=reference_shift(mean, std))
    acc.raw = counts
    acc.present, acc.missing, acc.rows = present, missing, present + missing
    acc.mean_d = mean - acc.shift
    acc.m2 = (present - 1) * std * std if present > 1 else 0.0
    acc.minimum = float(s.get("min", edges[0])) if present else math.inf
    acc.maximum = float(s.get("max", edges[-1])) if present else -math.inf
    acc.all_integral = inferred == "Integral"
    return acc


def _bins_from_sketch(data: Any, present: int) -> tuple[np.ndarray | None, np.ndarray]:
    if not data or not any(len(level) for level in data):
        return None, np.zeros(0, dtype=np.int64)
    items = np.concatenate([np.asarray(level, dtype=np.float64) for level in data])
    weights = np.concatenate([np.full(len(level), 2.0**i) for i, level in enumerate(data)])
    order = np.argsort(items, kind="stable")
    items, weights = items[order], weights[order]
    edges = np.unique(items)
    if edges.size > 1000:
        edges = np.unique(np.quantile(items, np.linspace(0, 1, 1001), method="inverted_cdf"))
    mass = np.bincount(np.searchsorted(edges, items, side="right"), weights=weights, minlength=edges.size + 1)
    return edges, _scale_counts(mass, present)


def _bins_from_buckets(buckets: list[dict[str, Any]], present: int, s: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    if not buckets:
        lo = float(s.get("min", 0.0))
        return np.array([lo]), np.array([0, present], dtype=np.int64)
    lows = [float(b["lower_bound"]) for b in buckets]
    edges = np.unique(np.array([*lows, float(buckets[-1]["upper_bound"])]))
    mass = np.zeros(edges.size + 1)
    for b in buckets:
        # A bucket [lo, hi) falls in the bin that starts at its lower bound.
        mass[int(np.searchsorted(edges, float(b["lower_bound"]), side="right"))] += float(b["count"])
    return edges, _scale_counts(mass, present)


def _scale_counts(mass: np.ndarray, present: int) -> np.ndarray:
    """Integer counts proportional to mass that add up to `present` (largest remainders get the rest)."""
    total = mass.sum()
    if total <= 0 or present <= 0:
        return np.zeros(mass.size, dtype=np.int64)
    exact = mass * (present / total)
    counts = np.floor(exact).astype(np.int64)
    short = present - int(counts.sum())
    if short > 0:
        counts[np.argsort(counts - exact)[:short]] += 1
    return counts


def _thresholds(constraints: dict[str, Any] | None) -> tuple[Thresholds, str | None]:
    t = Thresholds()
    if constraints is None:
        return t, None
    if not isinstance(constraints.get("features"), list):
        raise ValueError("'features' must be a list of feature constraints")
    dist = constraints.get("monitoring_config", {}).get("distribution_constraints", {})
    t.comparison_threshold = float(dist.get("comparison_threshold", t.comparison_threshold))
    t.comparison_method = str(dist.get("comparison_method", t.comparison_method))
    t.categorical_threshold = float(dist.get("categorical_comparison_threshold", t.categorical_threshold))
    ext = constraints.get(EXTENSION) or {}
    t.sigma = float(ext.get("sigma", t.sigma))
    t.psi = float(ext.get("psi_threshold", t.psi))
    t.completeness_tolerance = float(ext.get("completeness_tolerance", t.completeness_tolerance))
    t.multivariate_ratio = float(ext.get("multivariate_ratio", t.multivariate_ratio))
    if ext.get("min_accuracy") is not None:
        t.min_accuracy = float(ext["min_accuracy"])
    for entry in constraints.get("features", []):
        override = (entry.get(EXTENSION) or {}).get("sigma")
        if override is not None:
            t.sigma_overrides[str(entry["name"])] = float(override)
    target = ext.get("target")
    return t, (str(target) if target is not None else None)
