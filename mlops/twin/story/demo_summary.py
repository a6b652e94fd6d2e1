"""The verdict of a demo run, from its record: which alarms fired when, and why the story did not complete.

Each reason names a part of the story that did not happen as the platform promises (DemoResult.reasons; none:
the story completed).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mlops.twin.emulators.alarm_definitions import MetricAlarm
from mlops.twin.emulators.alarms import TwinAlarms
from mlops.twin.story.demo_result import DemoResult, StepRecord
from mlops.twin.story.demo_text import short_arn


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
        feature = alarm.dimensions.get("Feature") if isinstance(alarm, MetricAlarm) else None
        metric = alarm.metric_name if isinstance(alarm, MetricAlarm) else "composite"
        out.append({"name": name, "feature": feature, "metric": metric, "first_alarm_step": step,
                    "state_at_end": alarms.state(name).value})  # fmt: skip
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
    if result.failed_requests:
        reasons.append(f"{result.failed_requests} failed requests")
    if result.iam_denials:
        reasons.append(f"{result.iam_denials} calls denied by IAM (see the IAM lines above)")
    missing = sorted(set(result.handlers_deployed) - set(result.handlers_called))
    if missing:
        reasons.append(f"deployed handlers the run never called: {missing}")
    return reasons
