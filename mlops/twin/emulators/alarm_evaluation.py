"""AWS's rules for one metric alarm: its evaluation range's datapoints, the state they give and the reason text.

Semantics (AWS's documented ones, "Configuring how CloudWatch alarms treat missing data"):
- Periods are epoch-aligned; a period counts once it has ended at `now` (AWS evaluates closed periods), so a
  datum stamped t is seen by an evaluation at now >= the end of t's period.
- The evaluation range is EvaluationPeriods + 2 periods (the documented examples: 3 periods -> 5). With at least
  N real datapoints in it, the N most recent real ones decide; with fewer, TreatMissingData fills in as few as
  needed; with none, missing -> INSUFFICIENT_DATA, ignore -> unchanged, breaching -> ALARM, notBreaching -> OK.
- Premature-alarm rule (missing/ignore): when fewer than M real datapoints exist, the alarm still goes to ALARM
  (ignore: stays unchanged) if the oldest breaching datapoint of the last N periods is at least M periods old and
  every later one is breaching or missing. This reading reproduces every row of the two documented tables.
- EvaluateLowSampleCountPercentile=ignore keeps the state while an evaluated period has fewer than 10/(1-p)
  (p >= 0.5) or 10/p samples.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from mlops.twin.emulators.alarm_definitions import COMPARISONS, PERCENTILE, MetricAlarm, State
from mlops.twin.emulators.metric_data import MetricSource, significant_samples, statistic, utc

EXTRA_PERIODS = 2  # evaluation range = EvaluationPeriods + this (see the module docstring)


@dataclass(frozen=True)
class Datapoint:
    start: datetime
    value: float | None
    samples: float


def evaluation_range(alarm: MetricAlarm, source: MetricSource, now: datetime) -> list[Datapoint]:
    """The evaluation range's datapoints at `now`, oldest first (closed, epoch-aligned periods)."""
    period = timedelta(seconds=alarm.period)
    end = datetime.fromtimestamp(int(utc(now).timestamp()) // alarm.period * alarm.period, UTC)
    count = alarm.evaluation_periods + EXTRA_PERIODS
    start = end - count * period
    samples = source.samples(alarm.namespace, alarm.metric_name, alarm.dimensions, alarm.unit, start, end)
    points = []
    for index in range(count):
        begin = start + index * period
        inside = [s for s in samples if begin <= s.timestamp < begin + period]
        points.append(Datapoint(begin, statistic(alarm.statistic, inside), sum(s.count for s in inside)))
    return points


def evaluate_datapoints(alarm: MetricAlarm, points: Sequence[Datapoint], current: State) -> tuple[State, str] | None:
    """The state AWS's rules give `points` (the evaluation range, oldest first); None keeps the current state."""
    n, m = alarm.evaluation_periods, alarm.datapoints_to_alarm
    real = [p for p in points if p.value is not None]
    used = real[-n:]
    if _too_few_samples(alarm, used):
        return None
    breaching = [p for p in used if p.value is not None and alarm.breaches(p.value)]
    fill = n - len(used)
    treat = alarm.treat_missing_data
    if not real:
        return _without_data(alarm)
    count = len(breaching) + (fill if treat == "breaching" else 0)
    state: State = "ALARM" if count >= m else "OK"
    # The premature-alarm rule applies only below M real datapoints: documented table 2, row 3 ("0 - X - -",
    # 2 of 3) stays OK although its last 3 periods alone ("X - -") would satisfy the rule.
    if state == "OK" and treat in ("missing", "ignore") and fill and len(real) < m and _premature(alarm, points):
        if treat == "ignore":
            return None
        state = "ALARM"
    return state, _threshold_reason(alarm, used, breaching, fill, state, current)


def _without_data(alarm: MetricAlarm) -> tuple[State, str] | None:
    """No real datapoint in the whole evaluation range: TreatMissingData alone decides."""
    n, treat = alarm.evaluation_periods, alarm.treat_missing_data
    if treat == "ignore":
        return None
    if treat == "missing":
        return "INSUFFICIENT_DATA", f"Insufficient Data: {n} datapoint{_s(n)} {_were(n)} unknown."
    state: State = "ALARM" if treat == "breaching" else "OK"
    label = "Breaching" if treat == "breaching" else "NonBreaching"
    return state, (
        f"Threshold Crossed: no datapoints were received for {n} period{_s(n)} and {n} missing "
        f"datapoint{_s(n)} {_were(n)} treated as [{label}]."
    )


def _too_few_samples(alarm: MetricAlarm, used: Sequence[Datapoint]) -> bool:
    if alarm.low_sample_count != "ignore" or not PERCENTILE.match(alarm.statistic):
        return False
    needed = significant_samples(alarm.statistic)
    return any(p.samples < needed for p in used)


def _premature(alarm: MetricAlarm, points: Sequence[Datapoint]) -> bool:
    """AWS's premature-transition rule: the oldest breaching point of the last N periods is >= M periods old and
    every later point is breaching or missing."""
    window = list(points[-alarm.evaluation_periods :])
    flags = [None if p.value is None else alarm.breaches(p.value) for p in window]
    if True not in flags:
        return False
    oldest = flags.index(True)
    return len(window) - oldest >= alarm.datapoints_to_alarm and False not in flags[oldest:]


def _threshold_reason(
    alarm: MetricAlarm,
    used: Sequence[Datapoint],
    breaching: Sequence[Datapoint],
    fill: int,
    state: State,
    current: State,
) -> str:
    relation = COMPARISONS[alarm.comparison][1]
    n, m = alarm.evaluation_periods, alarm.datapoints_to_alarm
    filled_as = {"breaching": "ALARM", "notBreaching": "OK"}.get(alarm.treat_missing_data)
    real = len(breaching) if state == "ALARM" else len(used) - len(breaching)
    counted = real + (fill if filled_as == state else 0)
    listed = ", ".join(f"{p.value!r} ({p.start:%d/%m/%y %H:%M:%S})" for p in reversed(used))
    negation = "" if state == "ALARM" else "not "
    text = f"Threshold Crossed: {counted} out of the last {n} datapoint{_s(n)} [{listed}] {_were(counted)} "
    text += f"{negation}{relation} the threshold ({alarm.threshold!r})"
    if fill:
        label = {"breaching": "Breaching", "notBreaching": "NonBreaching"}.get(alarm.treat_missing_data, "Missing")
        text += f" and {fill} missing datapoint{_s(fill)} {_were(fill)} treated as [{label}]"
    needed = m if state == "ALARM" else n - m + 1
    arrow = f"{current} -> {state}"
    return f"{text} (minimum {needed} datapoint{_s(needed)} for {arrow} transition)."


def _s(count: int) -> str:
    return "" if count == 1 else "s"


def _were(count: int) -> str:
    return "was" if count == 1 else "were"
