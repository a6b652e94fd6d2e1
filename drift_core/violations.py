"""constraint_violations.json in Model Monitor's format, from a drift report.

Model Monitor's check types are used where they mean the same thing (baseline_drift_check, completeness_check,
missing_column_check); the sigma rule and PSI, which Model Monitor lacks, get their own check types.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from drift_core.report import DriftReport, FeatureDrift

VIOLATIONS = "constraint_violations.json"


def _describe(f: FeatureDrift, reason: str) -> tuple[str, str]:
    if reason == "mean_shift":
        return "mean_shift_check", (
            f"Mean shifted by {f.mean_shift_sigma:.3g} baseline standard deviations (limit {f.sigma_threshold:g})"
        )
    if reason == "psi":
        return "psi_check", f"PSI on baseline deciles {f.psi:.3g} above the threshold"
    if reason == "completeness":
        return "completeness_check", (
            f"Completeness {f.completeness:.3g} below baseline completeness {f.baseline_completeness:.3g}"
        )
    if f.kind == "numeric":
        return "baseline_drift_check", (
            f"Baseline drift distance: linf_simple {f.linf_simple:.3g}, linf_robust {f.linf_robust:.3g} "
            "exceeds threshold"
        )
    return "baseline_drift_check", f"Baseline drift distance: L-infinity {f.linf:.3g} exceeds threshold"


def constraint_violations(report: DriftReport) -> dict[str, Any]:
    violations: list[dict[str, str]] = []
    for name in report.missing_columns:
        violations.append(
            {
                "feature_name": name,
                "constraint_check_type": "missing_column_check",
                "description": "Baseline column missing from the data",
            }
        )
    for f in report.features.values():
        for reason in f.reasons:
            check, text = _describe(f, reason)
            violations.append({"feature_name": f.name, "constraint_check_type": check, "description": text})
    quality = report.model_quality
    if quality and quality.get("below_min"):
        violations.append(
            {
                "feature_name": "accuracy",
                "constraint_check_type": "model_quality_check",
                "description": f"Accuracy {quality['accuracy']:.3g} below A_min {quality['min_accuracy']:g}",
            }
        )
    return {"violations": violations}


def write_constraint_violations(report: DriftReport, out_dir: str | Path) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / VIOLATIONS
    path.write_text(json.dumps(constraint_violations(report), indent=2, allow_nan=False))
    return path
