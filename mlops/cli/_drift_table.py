"""Human-readable rendering of a drift report (the default output of `mlops drift check`)."""

from __future__ import annotations

import math

from drift_core import DriftReport, FeatureDrift

_HEADER = ("feature", "kind", "rows", "complete", "shift_sd", "psi", "ks", "linf", "drift")


def _fmt(x: float | None, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if math.isinf(x):
        return "inf"
    return f"{x:.{digits}f}"


def _row(f: FeatureDrift) -> tuple[str, ...]:
    ks = "-" if f.ks is None else f"{f.ks:.3f}±{f.ks_error_bound or 0.0:.3f}"
    linf = f.linf_robust if f.kind == "numeric" else f.linf
    drift = ("YES " + ",".join(f.reasons)) if f.drifted else "no"
    return (
        f.name,
        f.kind[:3],
        str(f.rows),
        _fmt(f.completeness),
        _fmt(f.mean_shift_sigma, 2),
        _fmt(f.psi),
        ks,
        _fmt(linf),
        drift,
    )


def render_table(report: DriftReport) -> str:
    rows = [_HEADER] + [_row(f) for f in report.features.values()]
    widths = [max(len(r[i]) for r in rows) for i in range(len(_HEADER))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    drifted = report.drifted_features
    summary = f"{len(drifted)} of {len(report.features)} features drifted over {report.rows} rows"
    lines.append(summary + (": " + ", ".join(drifted) if drifted else ""))
    for f in report.features.values():
        if f.unparseable:
            lines.append(f"note: {f.name}: {f.unparseable} unparseable value(s) counted as incomplete")
    if report.label_shift:
        ls = report.label_shift
        lines.append(f"label shift ({ls.get('target')}): L-inf {_fmt(ls.get('linf'))}")
    if report.model_quality:
        mq = report.model_quality
        flag = " BELOW A_min" if mq.get("below_min") else ""
        lines.append(f"accuracy {_fmt(mq['accuracy'])} over {mq['rows']} labelled rows{flag}")
    if report.performance_estimate:
        pe = report.performance_estimate
        flag = " BELOW A_min" if pe.get("below_min") else ""
        lo, hi = pe["ci95"]
        lines.append(
            f"estimated accuracy (CBPE) {_fmt(pe['estimated_accuracy'])} ± {_fmt(pe['standard_error'])}"
            f" (95% {_fmt(lo)}..{_fmt(hi)}) over {pe['rows']} rows{flag}"
        )
    if report.multivariate:
        mv = report.multivariate
        flag = " DRIFT" if mv.get("drifted") else ""
        lines.append(
            f"multivariate (PCA, {mv['components']} of {len(mv['features'])} axes): reconstruction error"
            f" {_fmt(mv['reconstruction_error'])} vs {_fmt(mv['baseline_reconstruction_error'])} in training,"
            f" ratio {_fmt(mv['ratio'])}{flag}"
        )
    detected = report.drift_kinds["detected"]
    lines.append("drift kinds: " + (", ".join(detected) if detected else "none"))
    return "\n".join(lines)
