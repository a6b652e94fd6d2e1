"""Baseline files: our round trip, a baseline written by Model Monitor, and constraint_violations.json."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

import drift_core


def _columns(rng: np.random.Generator, n: int, shift: float = 0.0) -> dict[str, np.ndarray]:
    balance = np.abs(rng.normal(835 + shift * 480, 480, n))
    balance[:5] = np.nan
    return {
        "student": rng.choice(np.array(["No", "Yes"], dtype=object), n, p=[0.7, 0.3]),
        "balance": balance,
        "income": rng.normal(33_500, 13_300, n),
        "age": rng.integers(18, 90, n).astype(float),
        "default": rng.choice(np.array(["No", "Yes"], dtype=object), n, p=[0.97, 0.03]),
    }


def test_round_trip_gives_the_same_report(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    baseline = drift_core.build_baseline(
        _columns(rng, 10_000), target="default", thresholds=drift_core.Thresholds(sigma=2.0)
    )
    drift_core.write_baseline(baseline, tmp_path)
    again = drift_core.read_baseline(tmp_path)
    window = _columns(rng, 3000, shift=1.0)
    before = drift_core.compute_drift(baseline, window).to_dict()
    after = drift_core.compute_drift(again, window).to_dict()
    assert before == after
    assert again.thresholds.sigma == 2.0 and again.target_name == "default"


def test_files_follow_model_monitor_formats(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    drift_core.write_baseline(drift_core.build_baseline(_columns(rng, 5000), target="default"), tmp_path)
    stats = json.loads((tmp_path / "statistics.json").read_text())
    constraints = json.loads((tmp_path / "constraints.json").read_text())
    assert stats["dataset"]["item_count"] == 5000
    by_name = {f["name"]: f for f in stats["features"]}
    assert set(by_name) == {"student", "balance", "income", "age"}  # the label stays out of `features`
    num = by_name["balance"]["numerical_statistics"]
    assert num["common"] == {"num_present": 4995, "num_missing": 5}
    assert {"mean", "sum", "std_dev", "min", "max"} <= set(num)
    kll = num["distribution"]["kll"]
    assert sum(b["count"] for b in kll["buckets"]) == 4995
    assert kll["sketch"]["parameters"] == {"c": 0.64, "k": 2048.0}
    assert by_name["age"]["inferred_type"] == "Integral"
    buckets = by_name["student"]["string_statistics"]["distribution"]["categorical"]["buckets"]
    assert {b["value"] for b in buckets} == {"No", "Yes"}
    dist = constraints["monitoring_config"]["distribution_constraints"]
    assert dist["comparison_threshold"] == 0.1 and dist["perform_comparison"] == "Enabled"
    assert constraints["mlops_drift"]["sigma"] == 3.0


def _model_monitor_statistics() -> dict[str, object]:
    """A statistics.json as Model Monitor writes it: no mlops_drift keys, KLL sketch levels of weight 2**i."""
    rng = np.random.default_rng(2)
    data = np.sort(rng.normal(100, 15, 4096))
    # Each level a uniform subsample of the sorted data, as KLL compactions leave them.
    level0 = data[0::4].tolist()
    level1 = data[2::4].tolist()
    return {
        "version": 0.0,
        "dataset": {"item_count": 4096},
        "features": [
            {
                "name": "score",
                "inferred_type": "Fractional",
                "numerical_statistics": {
                    "common": {"num_present": 4096, "num_missing": 0},
                    "mean": float(data.mean()),
                    "sum": float(data.sum()),
                    "std_dev": float(data.std()),
                    "min": float(data.min()),
                    "max": float(data.max()),
                    "distribution": {
                        "kll": {
                            "buckets": [{"lower_bound": 40.0, "upper_bound": 160.0, "count": 4096.0}],
                            "sketch": {"parameters": {"c": 0.64, "k": 2048.0}, "data": [level0, level1]},
                        }
                    },
                },
            },
            {
                "name": "city",
                "inferred_type": "String",
                "string_statistics": {
                    "common": {"num_present": 90, "num_missing": 10},
                    "distinct_count": 2.0,
                    "distribution": {
                        "categorical": {"buckets": [{"value": "A", "count": 60}, {"value": "B", "count": 30}]}
                    },
                },
            },
        ],
    }


def test_reads_a_baseline_written_by_model_monitor(tmp_path: Path) -> None:
    (tmp_path / "statistics.json").write_text(json.dumps(_model_monitor_statistics()))
    (tmp_path / "constraints.json").write_text(
        json.dumps(
            {
                "version": 0.0,
                "features": [],
                "monitoring_config": {
                    "distribution_constraints": {"comparison_threshold": 0.2, "comparison_method": "Simple"}
                },
            }
        )
    )
    baseline = drift_core.read_baseline(tmp_path)
    assert baseline.thresholds.comparison_threshold == 0.2
    rng = np.random.default_rng(3)
    city = np.array(["A"] * 60 + ["B"] * 30 + [None] * 10, dtype=object)
    calm = drift_core.compute_drift(baseline, {"score": rng.normal(100, 15, 2000), "city": city})
    assert calm.drifted_features == []
    assert calm.features["score"].ks < 0.06
    moved = drift_core.compute_drift(baseline, {"score": rng.normal(130, 15, 2000), "city": city})
    assert moved.drifted_features == ["score"] and moved.features["score"].mean_shift_sigma > 1.8


def test_reads_buckets_when_there_is_no_sketch(tmp_path: Path) -> None:
    stats = _model_monitor_statistics()
    feature = stats["features"][0]["numerical_statistics"]  # type: ignore[index]
    edges = np.linspace(40, 160, 11)
    feature["distribution"]["kll"] = {
        "buckets": [
            {"lower_bound": float(lo), "upper_bound": float(hi), "count": 409.6} for lo, hi in itertools.pairwise(edges)
        ]
    }
    (tmp_path / "statistics.json").write_text(json.dumps(stats))
    baseline = drift_core.read_baseline(tmp_path)
    acc = baseline.features["score"]
    assert isinstance(acc, drift_core.NumericAccumulator) and acc.counts.sum() == 4096


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "file not found"),
        ("{not json", "not readable JSON"),
        ('{"features": [{"name": "x"}]}', "malformed"),
    ],
)
def test_bad_baseline_files_name_the_file(tmp_path: Path, content: str | None, message: str) -> None:
    if content is not None:
        (tmp_path / "statistics.json").write_text(content)
    with pytest.raises(drift_core.BaselineFormatError, match=message):
        drift_core.read_baseline(tmp_path)


def test_constraint_violations_file(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    baseline = drift_core.build_baseline(_columns(rng, 5000))
    report = drift_core.compute_drift(baseline, _columns(rng, 2000, shift=3.0), sigma=1.0)
    path = drift_core.write_constraint_violations(report, tmp_path)
    violations = json.loads(path.read_text())["violations"]
    kinds = {(v["feature_name"], v["constraint_check_type"]) for v in violations}
    assert ("balance", "mean_shift_check") in kinds and ("balance", "baseline_drift_check") in kinds
    assert all(set(v) == {"feature_name", "constraint_check_type", "description"} for v in violations)
    assert not any(v["feature_name"] == "income" for v in violations)


def test_kll_buckets_are_model_monitors_equal_width_buckets_from_min_to_max(tmp_path: Path) -> None:
    """Issue #15 item 6: Model Monitor's analyzer reads its own layout (10 equal-width buckets, min to max), not
    our decile grid, which stays under `mlops_drift`."""
    rng = np.random.default_rng(3)
    columns = _columns(rng, 20_000)
    drift_core.write_baseline(drift_core.build_baseline(columns, target="default"), tmp_path)
    stats = json.loads((tmp_path / "statistics.json").read_text())
    for name in ("balance", "income", "age"):
        entry = next(f for f in stats["features"] if f["name"] == name)
        num = entry["numerical_statistics"]
        buckets = num["distribution"]["kll"]["buckets"]
        lows = np.array([b["lower_bound"] for b in buckets])
        highs = np.array([b["upper_bound"] for b in buckets])
        assert len(buckets) == 10 and lows[0] == num["min"] and highs[-1] == num["max"]
        np.testing.assert_allclose(highs - lows, (num["max"] - num["min"]) / 10)
        np.testing.assert_allclose(lows[1:], highs[:-1])
        values = columns[name][~np.isnan(columns[name])]
        exact, _ = np.histogram(values, bins=np.concatenate((lows, highs[-1:])))
        counts = np.array([b["count"] for b in buckets])
        assert counts.sum() == values.size
        # Counts come from the baseline's bins: within 1% of the rows of the exact histogram.
        assert np.abs(counts - exact).max() <= 0.01 * values.size, (name, counts, exact)
        assert "edges" in entry["mlops_drift"]  # our grid is kept for the drift core
