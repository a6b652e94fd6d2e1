"""The verdict of a demo run, from its record: which alarms fired when, and why the story did not complete.

Each reason names a part of the story that did not happen as the platform promises (DemoResult.reasons; none:
the story completed).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from contracts import metrics
from mlops.twin.emulators.alarm_definitions import CompositeAlarm, MetricAlarm
from mlops.twin.emulators.alarms import TwinAlarms
from mlops.twin.story.demo_result import DemoResult, StepRecord
from mlops.twin.story.demo_text import short_arn

# Alarms are told apart by the metric they watch, as synthesized (not by logical id): realised accuracy is measured
# against ground truth (the drift function's Accuracy, Model Monitor's accuracy); estimated accuracy is computed
# from the model's own probabilities without labels (the drift function's EstimatedAccuracy; not its StdErr).
REALISED_ACCURACY_METRICS = frozenset({metrics.ACCURACY, metrics.MODEL_MONITOR_ACCURACY})
ESTIMATED_ACCURACY_METRICS = frozenset({metrics.ESTIMATED_ACCURACY})


def accuracy_kind(alarm: MetricAlarm | CompositeAlarm) -> str | None:
    """ "realised" or "estimated" for an alarm on accuracy, else None."""
    return metric_kind(alarm.metric_name) if isinstance(alarm, MetricAlarm) else None


def metric_kind(metric_name: str) -> str | None:
    """ "realised" or "estimated" for an accuracy metric, else None."""
    if metric_name in REALISED_ACCURACY_METRICS:
        return "realised"
    return "estimated" if metric_name in ESTIMATED_ACCURACY_METRICS else None


def alarms_in_alarm(alarms: TwinAlarms, name_or_arn: str) -> list[str]:
    """The alarm and, for a composite, the alarms in ALARM under it (depth first): what a state change carried."""
    alarm = alarms.alarm(name_or_arn)
    names = [alarm.name]
    if isinstance(alarm, CompositeAlarm):
        for _, reference in alarm.expression.references():
            if alarms.state(reference).value == "ALARM":
                names += [n for n in alarms_in_alarm(alarms, reference) if n not in names]
    return names


def alarm_summary(steps: Sequence[StepRecord], alarms: TwinAlarms) -> list[dict[str, Any]]:
    """The alarms that entered ALARM: the step they first did, their feature and metric, their state at the end."""
    first: dict[str, int] = {}
    for record in steps:
        for text in record.alarms:
            name, state = text.rsplit(" -> ", 1)
            if state == "ALARM":
                first.setdefault(name, record.step)
    out = []
    for name, step in first.items():
        alarm = alarms.alarm(name)
        feature = alarm.dimensions.get(metrics.FEATURE) if isinstance(alarm, MetricAlarm) else None
        metric = alarm.metric_name if isinstance(alarm, MetricAlarm) else "composite"
        out.append({"name": name, "feature": feature, "metric": metric, "first_alarm_step": step,
                    "kind": accuracy_kind(alarm), "state_at_end": alarms.state(name).value})  # fmt: skip
    return out


def story_reasons(result: DemoResult) -> list[str]:
    """Why the story did not complete, in the order of the story (empty: it completed)."""
    settings = result.settings
    reasons: list[str] = []
    feature_alarms = [a for a in result.alarms if a["feature"]]
    if not feature_alarms:
        reasons.append("no drift alarm entered ALARM")
    early = [a["name"] for a in result.alarms if a["first_alarm_step"] < settings.drift_started_step]
    if early:
        reasons.append(f"alarms before the drift began: {early}")
    if result.accuracy_alarm_step is None and result.estimated_accuracy_alarm_step is None:
        reasons.append("neither the accuracy alarm nor the estimated-accuracy alarm entered ALARM")
    warned = [s for s in (result.accuracy_alarm_step, result.estimated_accuracy_alarm_step) if s is not None]
    started = result.retraining_started_step
    if started is not None and (not warned or started < min(warned)):
        reasons.append(f"retraining started at step {started}, before an accuracy alarm")
    if result.retrainings != 1:
        reasons.append(f"{result.retrainings} retraining runs (expected exactly one)")
    comparison = result.comparison or {}
    if comparison and not comparison.get("better"):
        reasons.append(f"the challenger was not approved: {comparison.get('reason')}")
    if len(result.models) < 2:
        reasons.append("the retraining registered no new model")
    elif result.final_package != result.models[-1].package:
        reasons.append(f"the new model {short_arn(result.models[-1].package)} is not the one served at the end")
    elif result.new_model_traffic_share < 1.0:
        reasons.append(f"the new model serves {result.new_model_traffic_share:.0%} of the final step's traffic")
    reasons.extend(_served_accuracy_reasons(result))
    if result.failed_requests:
        reasons.append(f"{result.failed_requests} failed requests")
    if result.iam_denials:
        reasons.append(f"{result.iam_denials} calls denied by IAM (see the IAM lines above)")
    missing = sorted(set(result.handlers_deployed) - set(result.handlers_called))
    if missing:
        reasons.append(f"deployed handlers the run never called: {missing}")
    return reasons


def _served_accuracy_reasons(result: DemoResult) -> list[str]:
    """The point of retraining: on the drifted traffic the new model is above A_min and clearly (non-overlapping
    95% intervals) better than the champion was."""
    champion, new_model = result.served_accuracy()
    if champion is None or new_model is None:
        return [] if len(result.models) < 2 else ["no labelled drifted traffic served by both models"]
    reasons = []
    if new_model.accuracy <= result.min_accuracy:
        reasons.append(f"the new model's served accuracy {new_model.accuracy:.3f} is not above A_min")
    if new_model.interval()[0] <= champion.interval()[1]:
        reasons.append(
            f"the new model's served accuracy {new_model.accuracy:.3f} {_ci(new_model.interval())} is not clearly "
            f"above the champion's {champion.accuracy:.3f} {_ci(champion.interval())}"
        )
    return reasons


def _ci(interval: tuple[float, float]) -> str:
    return f"[{interval[0]:.3f}, {interval[1]:.3f}]"
