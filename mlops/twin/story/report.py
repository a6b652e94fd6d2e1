"""The demo's drift report: one HTML page with PNG plots (matplotlib, Agg backend: no display needed).

Plots, in this order: the served accuracy over time (what retraining is for: per model, with its 95% Wilson band,
the Accuracy metric the platform saw when ground truth arrived, the estimated accuracy when the drift function
publishes one, A_min, and the drift, alarm, retraining and deploy moments); for each feature whose drift alarm fired,
its distribution in the training data (the baseline) against the traffic sent after the drift began; and every
feature's PSI (and mean shift) per step, with the threshold, the drift start and the model changes.
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")  # before pyplot: files only, never a window
import matplotlib.pyplot as plt
import pandas as pd

from contracts import metrics
from mlops.twin.story.demo_result import ServedAccuracy

if TYPE_CHECKING:
    from mlops.twin.story.demo_result import DemoResult
    from mlops.twin.story.traffic import Population
    from platform_config.platform import PlatformConfig


def drifted_features(result: DemoResult) -> list[str]:
    return sorted({str(a["feature"]) for a in result.alarms if a.get("feature")})


def write_report(
    result: DemoResult, data: pd.DataFrame, population: Population, config: PlatformConfig, folder: Path
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    current = result.drifted_traffic if result.drifted_traffic is not None else population.sample(5000, drifted=True)
    plots = [p for p in [_accuracy_over_time(result, folder)] if p]
    plots += [_distribution(feature, data, current, folder) for feature in drifted_features(result)]
    per_feature = (metrics.PSI, metrics.MEAN_SHIFT_SIGMA)
    plots += [p for metric in per_feature if (p := _over_time(result, metric, config, folder))]
    page = folder / "drift_report.html"
    page.write_text(_html(result, plots), encoding="utf-8")
    return page


ACCURACY_PLOT = "accuracy_over_time.png"


def _accuracy_over_time(result: DemoResult, folder: Path) -> Path | None:
    """Served accuracy per step and model (the twin knows every label at once), with its 95% Wilson band; what the
    platform saw; A_min; and the story's moments."""
    if not any(record.scored for record in result.steps):
        return None
    figure, axis = plt.subplots(figsize=(11, 4.5))
    names = {m.version: ("champion" if i == 0 else f"model {i + 1}") for i, m in enumerate(result.models)}
    versions = list(dict.fromkeys(v for record in result.steps for v in record.scored))
    plotted = [result.min_accuracy]  # every value drawn, so the y range shows all of them
    for version in versions:
        points = [(r.step, *r.scored[version]) for r in result.steps if r.scored.get(version, (0, 0))[0]]
        steps = [s for s, _, _ in points]
        bands = [ServedAccuracy(n, c).interval() for _, n, c in points]
        plotted += [b[0] for b in bands]
        (line,) = axis.plot(steps, [c / n for _, n, c in points], marker="o",
                            label=f"served accuracy: {names.get(version, version[:8])}")  # fmt: skip
        axis.fill_between(steps, [b[0] for b in bands], [b[1] for b in bands], color=line.get_color(), alpha=0.2,
                          label="95% Wilson interval")  # fmt: skip
    for attribute, label, style in (
        ("reported_accuracy", f"Accuracy metric (ground truth, {result.settings.label_delay} step(s) late)", "s--"),
        ("estimated_accuracy", "estimated accuracy (no labels)", "d:"),
    ):
        points = [(r.step, getattr(r, attribute)) for r in result.steps if getattr(r, attribute) is not None]
        if points:
            axis.plot([s for s, _ in points], [v for _, v in points], style, label=label)
            plotted += [v for _, v in points]
    axis.axhline(result.min_accuracy, color="red", linestyle="--", label=f"A_min {result.min_accuracy:g}")
    axis.axvline(result.drift_started_step - 0.5, color="grey", linestyle=":", label="drift begins")
    moments = [
        (result.estimated_accuracy_alarm_step, "purple", "estimated-accuracy alarm"),
        (result.accuracy_alarm_step, "red", "accuracy alarm"),
        (result.retraining_started_step, "black", "retraining started"),
    ]
    moments += [(r.step, "green", "new model deployed") for r in result.steps if r.sync == "deployed"]
    for step, color, label in moments:
        if step is not None:  # alarms wide and pale, so a retraining started in the same step shows on top
            wide = "alarm" in label
            axis.axvline(step, color=color, linestyle="-" if wide else "-.", linewidth=4 if wide else 1.2,
                         alpha=0.35 if wide else 0.9, label=f"{label} (step {step})")  # fmt: skip
    # From the lowest value drawn (at most A_min - 0.15, so A_min never sits on the edge), in steps of 0.05.
    axis.set_ylim(max(0.0, math.floor(min(min(plotted), result.min_accuracy - 0.15) * 20) / 20 - 0.02), 1.0)
    axis.set_xlabel("step (one drift-check period each)")
    axis.set_ylabel("accuracy")
    axis.set_title("Accuracy over time: served predictions against the true labels")
    axis.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    path = folder / ACCURACY_PLOT
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path


def _distribution(feature: str, data: pd.DataFrame, traffic: pd.DataFrame, folder: Path) -> Path:
    current = traffic[feature]
    figure, axis = plt.subplots(figsize=(7, 4))
    if pd.api.types.is_numeric_dtype(data[feature]):
        bins = 50
        axis.hist(data[feature], bins=bins, density=True, alpha=0.55, label="baseline (training data)")
        axis.hist(current, bins=bins, density=True, alpha=0.55, label="current (traffic after the drift)")
        axis.set_ylabel("density")
    else:
        shares = pd.DataFrame(
            {"baseline": data[feature].value_counts(normalize=True), "current": current.value_counts(normalize=True)}
        )
        shares.plot.bar(ax=axis)
        axis.set_ylabel("share")
    axis.set_title(f"{feature}: baseline vs current distribution")
    axis.set_xlabel(feature)
    axis.legend()
    path = folder / f"distribution_{feature}.png"
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path


def _over_time(result: DemoResult, metric: str, config: PlatformConfig, folder: Path) -> Path | None:
    series: dict[str, list[tuple[int, float]]] = {}
    for record in result.steps:
        for feature, value in record.drift.get(metric, {}).items():
            series.setdefault(feature, []).append((record.step, value))
    if not series:
        return None
    figure, axis = plt.subplots(figsize=(8, 4))
    for feature, points in sorted(series.items()):
        axis.plot([s for s, _ in points], [v for _, v in points], marker="o", label=feature)
    threshold = config.psi_threshold if metric == metrics.PSI else config.drift_sigma
    axis.axhline(threshold, color="red", linestyle="--", label=f"alarm threshold {threshold:g}")
    axis.axvline(result.drift_started_step - 0.5, color="grey", linestyle=":", label="drift begins")
    if result.approval_step:
        step = result.approval_step
        axis.axvline(step, color="orange", linestyle="-.", label=f"new model approved: its baseline (step {step})")
    for record in result.steps:
        if record.sync == "deployed":
            axis.axvline(record.step, color="green", linestyle="-.", label=f"new model deployed (step {record.step})")
    axis.set_xlabel("step (one drift-check period each)")
    axis.set_ylabel(metric)
    axis.set_title(f"{metric} per feature over time (drift function, against the approved package's baseline)")
    axis.legend(fontsize=8)
    path = folder / f"{metric.lower()}_over_time.png"
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path


def _html(result: DemoResult, plots: list[Path]) -> str:
    e = html.escape
    features = drifted_features(result)
    rows = "".join(
        f"<tr><td>{s.step}</td><td>{e(s.phase)}</td><td>{s.requests}</td><td>{s.failed}</td>"
        f"<td>{e(', '.join(f'{v[:10]}: {n}' for v, n in s.served.items()))}</td>"
        f"<td>{e(', '.join(f'{v[:10]}: {a:.3f}' for v, a in s.accuracy.items()))}</td>"
        f"<td>{e(', '.join(f'{f}={v:.3f}' for f, v in sorted(s.drift.get(metrics.PSI, {}).items())))}</td>"
        f"<td>{e('; '.join(s.alarms))}</td></tr>"
        for s in result.steps
    )
    alarms = "".join(
        f"<tr><td>{e(a['name'])}</td><td>{e(str(a['feature'] or '-'))}</td><td>{a['first_alarm_step']}</td>"
        f"<td>{e(a['state_at_end'])}</td></tr>"
        for a in result.alarms
    )
    timeline = "".join(f"<li>step {t.step} ({t.time:%Y-%m-%d %H:%M}Z): {e(t.text)}</li>" for t in result.timeline)
    figures = [f'<figure><img src="{p.name}" alt="{e(p.stem)}"><figcaption>{e(p.stem)}</figcaption></figure>'
               for p in plots]  # fmt: skip
    top = figures.pop(0) if plots and plots[0].name == ACCURACY_PLOT else ""
    images = "".join(figures)
    verdict = "completed" if result.completed else "did not complete: " + "; ".join(result.reasons)
    champion, new_model = result.served_accuracy()
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>mlops demo: drift report</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;
padding:3px 6px;font-size:13px}}img{{max-width:100%}}</style></head><body>
<h1>Drift report</h1>
<p>Story {e(verdict)}. Drifted features: <b>{e(", ".join(features) or "none")}</b>.
Drift began at step {result.drift_started_step}; retrainings: {result.retrainings};
requests: {result.requests}, failed: {result.failed_requests}.</p>
<p>Served accuracy on the drifted traffic: champion {e(served_text(champion))}, new model {e(served_text(new_model))}.
Holdout accuracy of the final model: {result.final_model_accuracy} (A_min {result.min_accuracy}).
Ground truth arrives {result.settings.label_delay} step(s) after a request. {e(retraining_text(result))}</p>
{top}
<h2>Alarms that fired</h2><table><tr><th>alarm</th><th>feature</th><th>first ALARM step</th><th>state at the end</th>
</tr>{alarms}</table>
<h2>Drift plots</h2>
<p>The drift function compares each period's captured traffic with the baseline of the package approved at that time
(the SSM parameter the deploy function writes), so the drift clears once the challenger is approved, one sync before
the endpoint has moved to it.</p>{images}
<h2>Timeline</h2><ul>{timeline}</ul>
<h2>Steps</h2><table><tr><th>step</th><th>phase</th><th>requests</th><th>failed</th><th>served by</th>
<th>accuracy</th><th>PSI</th><th>alarm transitions</th></tr>{rows}</table>
</body></html>
"""


def timeline_lines(result: DemoResult) -> list[str]:
    """The final timeline printed by `mlops demo`: what fired when, which model served when, accuracy."""
    period = result.steps[1].start - result.steps[0].start if len(result.steps) > 1 else None
    minutes = f"{period.total_seconds() / 60:g} min" if period else "one drift-check period"
    lines = [f"Timeline (twin clock; one step = {minutes}):"]
    lines += [f"  step {t.step:>2}  {t.time:%m-%d %H:%M}Z  {t.text}" for t in result.timeline]
    lines.append("Served models (steps in which each answered requests):")
    for model in result.models:
        steps = [s.step for s in result.steps if s.served.get(model.version)]
        span = f"steps {steps[0]}-{steps[-1]}" if steps else "never served"
        lines.append(
            f"  {model.package.rsplit('/', 2)[-2]}/{model.package.rsplit('/', 1)[-1]} (version {model.version[:8]}, "
            f"holdout accuracy {model.holdout_accuracy:.4f}): {span}"
        )
    champion, new_model = result.served_accuracy()
    lines.append(
        f"Served accuracy on drifted traffic: champion {served_text(champion)}, new model {served_text(new_model)} "
        f"(A_min {result.min_accuracy:g}; ground truth {result.settings.label_delay} step(s) late)"
    )
    lines.append(retraining_text(result))
    fired = ", ".join(
        f"{a['feature'] or a['name']} ({a['metric']}) at step {a['first_alarm_step']}" for a in result.alarms
    )
    lines.append(f"Alarms that fired (drift began at step {result.drift_started_step}): {fired or 'none'}")
    lines.append(
        f"Requests: {result.requests}, failed: {result.failed_requests}; retrainings: {result.retrainings}; "
        f"new model's share of the last step's traffic: {result.new_model_traffic_share:.0%}"
    )
    if result.iam_summary:
        lines.append(result.iam_summary)
        lines.extend(f"  {line}" for line in result.iam_report)
    lines.append(f"Drift report: {result.report}")
    lines.append("Story: " + ("completed" if result.completed else "did not complete: " + "; ".join(result.reasons)))
    return lines


def served_text(served: ServedAccuracy | None) -> str:
    if served is None:
        return "-"
    low, high = served.interval()
    return f"{served.accuracy:.3f} [{low:.3f}, {high:.3f}] over {served.requests} requests"


def retraining_text(result: DemoResult) -> str:
    """Which alarm started retraining, and when, against the accuracy alarms."""
    alarms = (
        f"accuracy alarm at step {result.accuracy_alarm_step or '-'}, "
        f"estimated-accuracy alarm at step {result.estimated_accuracy_alarm_step or '-'}"
    )
    if result.retraining_started_step is None:
        return f"No retraining started ({alarms})."
    trigger = ", ".join(result.retraining_trigger) or "an unknown alarm"
    return f"Retraining started at step {result.retraining_started_step} by {trigger} ({alarms})."
