"""CloudWatch alarms of the synthesized templates, evaluated by the twin (moto stores metrics but evaluates no alarm).

`TwinAlarms` holds every alarm's state and advances it with `evaluate(now)` on the twin's clock: the metric alarms
by AWS's rules (mlops.twin.emulators.alarm_evaluation) over the metric data stored in moto's CloudWatch
(mlops.twin.emulators.metric_data), then the composite alarms, each after the composites it references; a composite is
ALARM when its rule is TRUE, OK when FALSE, INSUFFICIENT_DATA only before its first evaluation. Only state changes
are transitions, and each one can be rendered as EventBridge's "CloudWatch Alarm State Change".
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from contracts import events as ev
from mlops.twin.emulators.alarm_definitions import (
    BASIC_STATISTICS,
    CompositeAlarm,
    MetricAlarm,
    State,
    UnsupportedAlarm,
    read_alarms,
)
from mlops.twin.emulators.alarm_evaluation import Datapoint, evaluate_datapoints, evaluation_range
from mlops.twin.emulators.metric_data import MetricSource, MotoMetricStore, utc

if TYPE_CHECKING:
    from mlops.twin.cloud import TwinCloud


@dataclass(frozen=True)
class AlarmState:
    value: State
    reason: str
    timestamp: datetime
    reason_data: str | None = None

    def as_event_state(self) -> dict[str, Any]:
        state = {"value": self.value, "reason": self.reason, "timestamp": _aws_time(self.timestamp)}
        if self.reason_data is not None:
            state["reasonData"] = self.reason_data
        return state


@dataclass(frozen=True)
class Transition:
    alarm: MetricAlarm | CompositeAlarm
    old: AlarmState
    new: AlarmState

    @property
    def alarm_name(self) -> str:
        return self.alarm.name

    @property
    def alarm_arn(self) -> str:
        return self.alarm.arn

    @property
    def reason(self) -> str:
        return self.new.reason

    @property
    def timestamp(self) -> datetime:
        return self.new.timestamp

    def event(self) -> dict[str, Any]:
        """The EventBridge event CloudWatch sends for this state change ("CloudWatch Alarm State Change")."""
        _, _, _, region, account, _ = self.alarm.arn.split(":", 5)
        key = f"{self.alarm.arn}|{self.new.timestamp.isoformat()}|{self.new.value}"
        return {
            "version": "0",
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, key)),
            ev.DETAIL_TYPE: ev.ALARM_STATE_CHANGE,
            ev.SOURCE: ev.CLOUDWATCH,
            "account": account,
            "time": self.new.timestamp.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": region,
            "resources": [self.alarm.arn],
            ev.DETAIL: {
                "alarmName": self.alarm.name,
                "state": self.new.as_event_state(),
                "previousState": self.old.as_event_state(),
                "configuration": self.alarm.configuration(),
            },
        }


class TwinAlarms:
    """The alarms' states, advanced by `evaluate(now)` on the twin's clock."""

    def __init__(
        self,
        metric_alarms: Iterable[MetricAlarm],
        composite_alarms: Iterable[CompositeAlarm],
        source: MetricSource,
    ) -> None:
        self.metric_alarms = list(metric_alarms)
        self.composite_alarms = _dependency_order(list(composite_alarms))
        self.source = source
        self._by_key: dict[str, MetricAlarm | CompositeAlarm] = {}
        for alarm in [*self.metric_alarms, *self.composite_alarms]:
            if alarm.name in self._by_key:
                raise UnsupportedAlarm(f"two alarms are named {alarm.name!r}")
            self._by_key[alarm.name] = self._by_key[alarm.arn] = alarm
        for composite in self.composite_alarms:
            for _, reference in composite.expression.references():
                if reference not in self._by_key:
                    raise UnsupportedAlarm(f"composite alarm {composite.name}: no alarm {reference!r}")
        self._states: dict[str, AlarmState] = {}
        self.history: list[Transition] = []

    @classmethod
    def from_cloud(cls, cloud: TwinCloud) -> TwinAlarms:
        """The synthesized alarms of every stack (registered in the cloud's resolver by `read_alarms`), evaluated on
        the metric data moto's CloudWatch stores."""
        return cls(*read_alarms(cloud), MotoMetricStore(cloud.account, cloud.region))

    def alarm(self, name_or_arn: str) -> MetricAlarm | CompositeAlarm:
        return self._by_key[name_or_arn]

    def state(self, name_or_arn: str) -> AlarmState:
        alarm = self.alarm(name_or_arn)
        if alarm.arn not in self._states:
            epoch = datetime.fromtimestamp(0, UTC)
            return AlarmState("INSUFFICIENT_DATA", "Unchecked: Initial alarm creation", epoch)
        return self._states[alarm.arn]

    def evaluate(self, now: datetime) -> list[Transition]:
        """Evaluate every alarm at `now` (metric alarms first, then composites); returns the state changes."""
        now = utc(now)
        for alarm in self.metric_alarms:
            self._states.setdefault(alarm.arn, self._initial(now))
        for composite in self.composite_alarms:
            self._states.setdefault(composite.arn, self._initial(now))
        transitions = []
        for alarm in self.metric_alarms:
            points = self.datapoints(alarm, now)
            current = self._states[alarm.arn]
            outcome = evaluate_datapoints(alarm, points, current.value)
            if outcome is not None and outcome[0] != current.value:
                data = _reason_data(alarm, points, now)
                transitions.append(self._change(alarm, AlarmState(outcome[0], outcome[1], now, data)))
        for composite in self.composite_alarms:
            transition = self._evaluate_composite(composite, now)
            if transition is not None:
                transitions.append(transition)
        self.history.extend(transitions)
        return transitions

    def events(self, transitions: Iterable[Transition]) -> list[dict[str, Any]]:
        return [transition.event() for transition in transitions]

    def datapoints(self, alarm: MetricAlarm, now: datetime) -> list[Datapoint]:
        """The evaluation range's datapoints at `now`, oldest first (closed, epoch-aligned periods)."""
        return evaluation_range(alarm, self.source, now)

    def _evaluate_composite(self, composite: CompositeAlarm, now: datetime) -> Transition | None:
        def state_of(reference: str) -> State:
            return self.state(reference).value

        value: State = "ALARM" if composite.expression.value(state_of) else "OK"
        current = self._states[composite.arn]
        if value == current.value:
            return None
        # The referenced alarms whose state satisfied their function: what AWS reports as triggering alarms.
        triggering = list(
            dict.fromkeys(
                self.alarm(reference).arn
                for wanted, reference in composite.expression.references()
                if state_of(reference) == wanted
            )
        )
        reason = f"{value}: AlarmRule evaluated {str(value == 'ALARM').upper()}"
        if triggering:
            reason += "; triggering alarms: " + ", ".join(f"{arn} ({state_of(arn)})" for arn in triggering)
        data = json.dumps(
            {
                "triggeringAlarms": [
                    {"arn": arn, "state": {"value": state_of(arn), "timestamp": _aws_time(self.state(arn).timestamp)}}
                    for arn in triggering
                ]
            }
        )
        return self._change(composite, AlarmState(value, reason, now, data))

    def _change(self, alarm: MetricAlarm | CompositeAlarm, new: AlarmState) -> Transition:
        old = self._states[alarm.arn]
        self._states[alarm.arn] = new
        return Transition(alarm, old, new)

    @staticmethod
    def _initial(now: datetime) -> AlarmState:
        return AlarmState("INSUFFICIENT_DATA", "Unchecked: Initial alarm creation", now)


def _dependency_order(composites: list[CompositeAlarm]) -> list[CompositeAlarm]:
    """Composites that reference other composites are evaluated after them (a cycle is an error, as in AWS)."""
    by_key = {key: c for c in composites for key in (c.name, c.arn)}
    ordered: list[CompositeAlarm] = []
    visiting: set[str] = set()

    def visit(composite: CompositeAlarm) -> None:
        if composite in ordered:
            return
        if composite.arn in visiting:
            raise UnsupportedAlarm(f"composite alarm {composite.name} depends on itself")
        visiting.add(composite.arn)
        for _, reference in composite.expression.references():
            if reference in by_key:
                visit(by_key[reference])
        visiting.discard(composite.arn)
        ordered.append(composite)

    for composite in composites:
        visit(composite)
    return ordered


def _reason_data(alarm: MetricAlarm, points: Sequence[Datapoint], now: datetime) -> str:
    recent = [p for p in points if p.value is not None][-alarm.evaluation_periods :]
    return json.dumps(
        {
            "version": "1.0",
            "queryDate": _aws_time(now),
            "startDate": _aws_time(points[0].start) if points else _aws_time(now),
            "statistic" if alarm.statistic in BASIC_STATISTICS else "extendedStatistic": alarm.statistic,
            "period": alarm.period,
            "recentDatapoints": [p.value for p in recent],
            "threshold": alarm.threshold,
            "evaluatedDatapoints": [
                {"timestamp": _aws_time(p.start), "sampleCount": p.samples, "value": p.value} for p in recent
            ],
        }
    )


def _aws_time(moment: datetime) -> str:
    """CloudWatch's timestamp format in alarm events: 2019-10-02T17:04:40.989+0000."""
    return utc(moment).strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc(moment).microsecond // 1000:03d}+0000"
