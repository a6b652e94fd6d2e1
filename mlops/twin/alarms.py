"""CloudWatch alarms of the synthesized templates, evaluated by the twin (moto stores metrics but evaluates no alarm).

Data: alarms read the metric data stored in moto's CloudWatch (whatever `put_metric_data` received, including the
EMF records of the Lambdas, which `put_emf` forwards there). The raw stored datums are read rather than moto's
`get_metric_statistics`/`get_metric_data`, because moto 5.2.5 matches dimensions as a subset there (AWS: the exact
set), ignores the namespace in `get_metric_data` when dimensions are given, and computes no percentile.

Semantics (AWS's documented ones, "Configuring how CloudWatch alarms treat missing data"):
- Periods are epoch-aligned; a period counts once it has ended at `now` (AWS evaluates closed periods), so a
  datum stamped t is seen by `evaluate(now)` with now >= the end of t's period.
- The evaluation range is EvaluationPeriods + 2 periods (the documented examples: 3 periods -> 5). With at least
  N real datapoints in it, the N most recent real ones decide; with fewer, TreatMissingData fills in as few as
  needed; with none, missing -> INSUFFICIENT_DATA, ignore -> unchanged, breaching -> ALARM, notBreaching -> OK.
- Premature-alarm rule (missing/ignore): when fewer than M real datapoints exist, the alarm still goes to ALARM
  (ignore: stays unchanged) if the oldest breaching datapoint of the last N periods is at least M periods old and
  every later one is breaching or missing. This reading reproduces every row of the two documented tables.
- Percentiles use the nearest-rank definition; a statistic set counts only if it can be expanded to raw values
  (SampleCount 1, or Minimum == Maximum), as AWS documents. EvaluateLowSampleCountPercentile=ignore keeps the
  state while an evaluated period has fewer than 10/(1-p) (p >= 0.5) or 10/p samples.
- Composite alarms: ALARM/OK/INSUFFICIENT_DATA("name" or ARN), TRUE, FALSE, NOT, AND, OR and parentheses (AND binds
  tighter than OR); TRUE -> ALARM, FALSE -> OK; INSUFFICIENT_DATA only before their first evaluation.
Only state changes are transitions, and each one can be rendered as EventBridge's "CloudWatch Alarm State Change".
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import re
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from mlops.twin.cloud import TwinCloud

State = Literal["OK", "ALARM", "INSUFFICIENT_DATA"]
STATES: tuple[State, ...] = ("OK", "ALARM", "INSUFFICIENT_DATA")
EXTRA_PERIODS = 2  # evaluation range = EvaluationPeriods + this (see the module docstring)
_BASIC_STATISTICS = ("Average", "Sum", "Minimum", "Maximum", "SampleCount")
_PERCENTILE = re.compile(r"^p(100(\.0+)?|\d{1,2}(\.\d+)?)$")
_COMPARISONS: dict[str, tuple[Callable[[float, float], bool], str]] = {
    "GreaterThanThreshold": (lambda v, t: v > t, "greater than"),
    "GreaterThanOrEqualToThreshold": (lambda v, t: v >= t, "greater than or equal to"),
    "LessThanThreshold": (lambda v, t: v < t, "less than"),
    "LessThanOrEqualToThreshold": (lambda v, t: v <= t, "less than or equal to"),
}
_TREATMENTS = ("missing", "ignore", "breaching", "notBreaching")


class UnsupportedAlarm(ValueError):
    """An alarm definition the twin does not evaluate (metric math, anomaly bands, trimmed statistics...)."""


# -- EMF: the Lambdas' metrics, as printed by Powertools -------------------------------------------------------


def emf_documents(text: str) -> list[dict[str, Any]]:
    """The EMF records in captured log output: JSON lines carrying `_aws.CloudWatchMetrics`."""
    documents = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            document = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(document, dict) and "CloudWatchMetrics" in (document.get("_aws") or {}):
            documents.append(document)
    return documents


@contextlib.contextmanager
def capture_emf() -> Iterator[list[dict[str, Any]]]:
    """Collect the EMF records printed while the block runs (Powertools prints them to stdout).

    stdout is process-wide: other threads' prints during the block are swallowed (only EMF lines are kept).
    """
    documents: list[dict[str, Any]] = []
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        yield documents
    documents.extend(emf_documents(buffer.getvalue()))


def emf_metric_data(document: Mapping[str, Any], timestamp: datetime | None = None) -> dict[str, list[dict[str, Any]]]:
    """`put_metric_data` entries by namespace for one EMF record, per the EMF specification.

    Each dimension set of a directive yields one metric; values are a number or an array of numbers; the
    record's own `Timestamp` (ms) is used unless `timestamp` is given (the twin's clock, not wall time).
    """
    meta = document.get("_aws")
    if not isinstance(meta, Mapping) or not isinstance(meta.get("CloudWatchMetrics"), list):
        raise ValueError("not an EMF record: no _aws.CloudWatchMetrics")
    when = _utc(timestamp) if timestamp else datetime.fromtimestamp(int(meta["Timestamp"]) / 1000, UTC)
    out: dict[str, list[dict[str, Any]]] = {}
    for directive in meta["CloudWatchMetrics"]:
        namespace = directive["Namespace"]
        for dimension_set in directive.get("Dimensions") or [[]]:
            dimensions = []
            for name in dimension_set:
                if not isinstance(document.get(name), str):
                    raise ValueError(f"EMF dimension {name!r} has no string value in the record")
                dimensions.append({"Name": name, "Value": document[name]})
            for metric in directive["Metrics"]:
                name = metric["Name"]
                if name not in document:
                    raise ValueError(f"EMF metric {name!r} has no value in the record")
                raw = document[name]
                values = [float(v) for v in (raw if isinstance(raw, list) else [raw])]
                datum: dict[str, Any] = {
                    "MetricName": name,
                    "Dimensions": dimensions,
                    "Timestamp": when,
                    "Unit": metric.get("Unit", "None"),
                    "Values": values,
                }
                if metric.get("StorageResolution"):
                    datum["StorageResolution"] = int(metric["StorageResolution"])
                out.setdefault(namespace, []).append(datum)
    return out


def put_emf(cloudwatch: Any, documents: Iterable[Mapping[str, Any] | str], timestamp: datetime | None = None) -> int:
    """Put EMF records (dicts or JSON text) into CloudWatch with `put_metric_data`; returns the metrics put."""
    count = 0
    for document in documents:
        parsed = json.loads(document) if isinstance(document, str) else document
        for namespace, data in emf_metric_data(parsed, timestamp).items():
            for start in range(0, len(data), 20):  # PutMetricData's historical per-call limit
                cloudwatch.put_metric_data(Namespace=namespace, MetricData=data[start : start + 20])
            count += len(data)
    return count


# -- stored metric data ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """One stored datum: a raw value or a statistic set; `values` holds the raw values when they are known."""

    timestamp: datetime
    count: float
    total: float
    minimum: float
    maximum: float
    values: tuple[float, ...] | None


class MetricSource(Protocol):
    def samples(
        self, namespace: str, name: str, dimensions: Mapping[str, str], unit: str | None, start: datetime, end: datetime
    ) -> list[Sample]: ...


@dataclass
class MotoMetricStore:
    """The datums moto's CloudWatch stored, selected as AWS selects a metric: namespace, name, exact dimensions."""

    account: str
    region: str

    def samples(
        self, namespace: str, name: str, dimensions: Mapping[str, str], unit: str | None, start: datetime, end: datetime
    ) -> list[Sample]:
        from moto.cloudwatch.models import MetricAggregatedDatum, MetricDatum, cloudwatch_backends

        backend = cloudwatch_backends[self.account][self.region]
        wanted = dict(dimensions)
        out = []
        for datum in backend.get_all_metrics():
            if datum.namespace != namespace or datum.name != name:
                continue
            if {d.name: d.value for d in datum.dimensions} != wanted or (unit and datum.unit != unit):
                continue
            when = _utc(datum.timestamp)
            if not start <= when < end:
                continue
            if isinstance(datum, MetricDatum):
                v = float(datum.value)
                out.append(Sample(when, 1.0, v, v, v, (v,)))
            elif isinstance(datum, MetricAggregatedDatum):
                out.append(_statistic_set(when, datum.sample_count, datum.sum, datum.min, datum.max))
        return out


def _statistic_set(when: datetime, count: float, total: float, low: float, high: float) -> Sample:
    # AWS can compute percentiles over a statistic set only when its raw values are implied by it.
    expandable = low == high and math.isclose(total, low * count) and float(count).is_integer()
    values = (float(low),) * int(count) if expandable else None
    return Sample(when, float(count), float(total), float(low), float(high), values)


def statistic(name: str, samples: Sequence[Sample]) -> float | None:
    """A CloudWatch statistic of one period's samples; None when the period has no (usable) data."""
    count = sum(s.count for s in samples)
    if not samples or count <= 0:
        return None
    if name == "SampleCount":
        return count
    if name == "Sum":
        return sum(s.total for s in samples)
    if name == "Average":
        return sum(s.total for s in samples) / count
    if name == "Minimum":
        return min(s.minimum for s in samples)
    if name == "Maximum":
        return max(s.maximum for s in samples)
    if _PERCENTILE.match(name):
        if any(s.values is None for s in samples):
            return None
        values = sorted(v for s in samples for v in s.values or ())
        # Nearest rank; rounded first so that 0.9 * 10 is 9, not 9.000000000000002.
        rank = max(1, math.ceil(round(float(name[1:]) * len(values) / 100, 9)))
        return values[rank - 1]
    raise UnsupportedAlarm(f"statistic {name!r} is not evaluated by the twin")


def _significant_samples(percentile: str) -> float:
    q = float(percentile[1:]) / 100
    if 0.5 <= q < 1:
        return 10 / (1 - q)
    return 10 / q if 0 < q < 0.5 else 0.0


# -- definitions -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MetricAlarm:
    name: str
    arn: str
    namespace: str
    metric_name: str
    dimensions: dict[str, str]
    statistic: str
    period: int
    evaluation_periods: int
    datapoints_to_alarm: int
    comparison: str
    threshold: float
    treat_missing_data: str = "missing"
    unit: str | None = None
    low_sample_count: str = "evaluate"
    description: str = ""
    stack: str = ""
    logical_id: str = ""

    @classmethod
    def from_properties(
        cls, props: Mapping[str, Any], *, name: str, arn: str, stack: str = "", logical_id: str = ""
    ) -> MetricAlarm:
        """From `AWS::CloudWatch::Alarm` properties (intrinsics already resolved)."""
        where = f"alarm {name}"
        if "Metrics" in props:
            raise UnsupportedAlarm(f"{where}: metric math alarms (Metrics) are not evaluated by the twin")
        if "ThresholdMetricId" in props:
            raise UnsupportedAlarm(f"{where}: anomaly-band alarms (ThresholdMetricId) are not evaluated by the twin")
        if ("Statistic" in props) == ("ExtendedStatistic" in props):
            raise UnsupportedAlarm(f"{where}: needs exactly one of Statistic and ExtendedStatistic")
        stat = str(props.get("Statistic") or props["ExtendedStatistic"])
        if stat not in _BASIC_STATISTICS and not _PERCENTILE.match(stat):
            raise UnsupportedAlarm(f"{where}: statistic {stat!r} is not evaluated by the twin")
        comparison = str(props["ComparisonOperator"])
        if comparison not in _COMPARISONS:
            raise UnsupportedAlarm(f"{where}: comparison {comparison!r} is not evaluated by the twin")
        treat = str(props.get("TreatMissingData", "missing"))
        if treat not in _TREATMENTS:
            raise UnsupportedAlarm(f"{where}: TreatMissingData {treat!r} is not one of {_TREATMENTS}")
        n = int(float(props["EvaluationPeriods"]))
        m = int(float(props.get("DatapointsToAlarm", n)))
        if not 1 <= m <= n:
            raise UnsupportedAlarm(f"{where}: DatapointsToAlarm {m} outside 1..EvaluationPeriods {n}")
        return cls(
            name=name,
            arn=arn,
            namespace=str(props["Namespace"]),
            metric_name=str(props["MetricName"]),
            dimensions={str(d["Name"]): str(d["Value"]) for d in props.get("Dimensions", [])},
            statistic=stat,
            period=int(float(props["Period"])),
            evaluation_periods=n,
            datapoints_to_alarm=m,
            comparison=comparison,
            threshold=float(props["Threshold"]),
            treat_missing_data=treat,
            unit=props.get("Unit"),
            low_sample_count=str(props.get("EvaluateLowSampleCountPercentile") or "evaluate"),
            description=str(props.get("AlarmDescription", "")),
            stack=stack,
            logical_id=logical_id,
        )

    def breaches(self, value: float) -> bool:
        return _COMPARISONS[self.comparison][0](value, self.threshold)

    def configuration(self) -> dict[str, Any]:
        metric = {"namespace": self.namespace, "name": self.metric_name, "dimensions": dict(self.dimensions)}
        stat = {"metric": metric, "period": self.period, "stat": self.statistic}
        if self.unit:
            stat["unit"] = self.unit
        metrics = [{"id": str(uuid.uuid5(uuid.NAMESPACE_URL, self.arn)), "metricStat": stat, "returnData": True}]
        return {"description": self.description, "metrics": metrics}


@dataclass(frozen=True)
class CompositeAlarm:
    name: str
    arn: str
    rule: str
    description: str = ""
    stack: str = ""
    logical_id: str = ""
    expression: RuleNode = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "expression", parse_alarm_rule(self.rule))

    def configuration(self) -> dict[str, Any]:
        return {"alarmRule": self.rule, "description": self.description}


# -- composite alarm rules -------------------------------------------------------------------------------------


class RuleNode(Protocol):
    def value(self, state_of: Callable[[str], State]) -> bool: ...

    def references(self) -> list[tuple[State, str]]: ...


@dataclass(frozen=True)
class _Const:
    constant: bool

    def value(self, state_of: Callable[[str], State]) -> bool:
        return self.constant

    def references(self) -> list[tuple[State, str]]:
        return []


@dataclass(frozen=True)
class _StateIs:
    state: State
    alarm: str

    def value(self, state_of: Callable[[str], State]) -> bool:
        return state_of(self.alarm) == self.state

    def references(self) -> list[tuple[State, str]]:
        return [(self.state, self.alarm)]


@dataclass(frozen=True)
class _Not:
    operand: RuleNode

    def value(self, state_of: Callable[[str], State]) -> bool:
        return not self.operand.value(state_of)

    def references(self) -> list[tuple[State, str]]:
        return self.operand.references()


@dataclass(frozen=True)
class _Logic:
    operator: Literal["AND", "OR"]
    operands: tuple[RuleNode, ...]

    def value(self, state_of: Callable[[str], State]) -> bool:
        results = (operand.value(state_of) for operand in self.operands)
        return all(results) if self.operator == "AND" else any(results)

    def references(self) -> list[tuple[State, str]]:
        return [ref for operand in self.operands for ref in operand.references()]


_TOKEN = re.compile(r'\s*(?:(?P<punct>[()])|"(?P<quoted>[^"]*)"|(?P<word>[^\s()"]+))')


class _RuleParser:
    """Recursive descent over AlarmRule: or := and (OR and)*; and := not (AND not)*; not := NOT not | atom."""

    def __init__(self, text: str) -> None:
        self.text, self.pos = text, 0

    def fail(self, message: str) -> UnsupportedAlarm:
        return UnsupportedAlarm(f"AlarmRule {self.text!r}: {message} at offset {self.pos}")

    def peek(self) -> tuple[str, str] | None:
        match = _TOKEN.match(self.text, self.pos)
        if not match or match.end() == self.pos:
            return None
        kind = next(k for k in ("punct", "quoted", "word") if match.group(k) is not None)
        return kind, match.group(kind)

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise self.fail("unexpected end")
        match = _TOKEN.match(self.text, self.pos)
        assert match is not None
        self.pos = match.end()
        return token

    def parse(self) -> RuleNode:
        node = self.logic("OR")
        if self.text[self.pos :].strip():
            raise self.fail("unexpected text")
        return node

    def logic(self, operator: Literal["AND", "OR"]) -> RuleNode:
        parse_operand = (lambda: self.logic("AND")) if operator == "OR" else self.negation
        operands = [parse_operand()]
        while self.peek() == ("word", operator):
            self.take()
            operands.append(parse_operand())
        return operands[0] if len(operands) == 1 else _Logic(operator, tuple(operands))

    def negation(self) -> RuleNode:
        if self.peek() == ("word", "NOT"):
            self.take()
            return _Not(self.negation())
        return self.atom()

    def atom(self) -> RuleNode:
        kind, text = self.take()
        if (kind, text) == ("punct", "("):
            node = self.logic("OR")
            if self.take() != ("punct", ")"):
                raise self.fail("expected ')'")
            return node
        if kind == "word" and text in ("TRUE", "FALSE"):
            return _Const(text == "TRUE")
        if kind == "word" and text in STATES:
            if self.take() != ("punct", "("):
                raise self.fail(f"expected '(' after {text}")
            return _StateIs(text, self.alarm_reference())  # type: ignore[arg-type]
        raise self.fail(f"unexpected {text!r}")

    def alarm_reference(self) -> str:
        rest = self.text[self.pos :]
        quoted = re.match(r'\s*"([^"]*)"\s*\)', rest)
        bare = re.match(r"\s*([^\s()\"][^()\"]*?)\s*\)", rest)
        match = quoted or bare
        if not match:
            raise self.fail("expected an alarm name or ARN and ')'")
        self.pos += match.end()
        return match.group(1)


def parse_alarm_rule(text: str) -> RuleNode:
    """Parse a composite alarm's AlarmRule (raises UnsupportedAlarm on syntax it does not know)."""
    return _RuleParser(text).parse()


# -- evaluation ------------------------------------------------------------------------------------------------


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
class Datapoint:
    start: datetime
    value: float | None
    samples: float


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
            "detail-type": "CloudWatch Alarm State Change",
            "source": "aws.cloudwatch",
            "account": account,
            "time": self.new.timestamp.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": region,
            "resources": [self.alarm.arn],
            "detail": {
                "alarmName": self.alarm.name,
                "state": self.new.as_event_state(),
                "previousState": self.old.as_event_state(),
                "configuration": self.alarm.configuration(),
            },
        }


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
    if alarm.low_sample_count != "ignore" or not _PERCENTILE.match(alarm.statistic):
        return False
    needed = _significant_samples(alarm.statistic)
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
    relation = _COMPARISONS[alarm.comparison][1]
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
        """The synthesized alarms of every stack, named and registered in the cloud's resolver (Ref: the name,
        GetAtt Arn: the ARN), so that composite rules and event rules referencing them resolve."""
        found: list[tuple[str, str, dict[str, Any], str]] = []
        for stack, template in cloud.assembly.templates.items():
            for logical, resource in template["Resources"].items():
                if resource["Type"] in ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm"):
                    props = resource.get("Properties", {})
                    given = props.get("AlarmName")
                    name = str(cloud.resolver.resolve(stack, given)) if given else f"{stack}-{logical}"
                    arn = f"arn:aws:cloudwatch:{cloud.region}:{cloud.account}:alarm:{name}"
                    cloud.resolver.physical[(stack, logical)] = name
                    cloud.resolver.attributes[(stack, logical, "Arn")] = arn
                    found.append((stack, logical, resource, name))
        metric_alarms, composites = [], []
        for stack, logical, resource, name in found:
            props = resource.get("Properties", {})
            arn = cloud.resolver.attributes[(stack, logical, "Arn")]
            used = {k: v for k, v in props.items() if k not in _UNUSED_PROPERTIES}
            resolved = cloud.resolver.resolve(stack, used)
            if resource["Type"] == "AWS::CloudWatch::Alarm":
                metric_alarms.append(
                    MetricAlarm.from_properties(resolved, name=name, arn=arn, stack=stack, logical_id=logical)
                )
            else:
                composites.append(
                    CompositeAlarm(
                        name, arn, str(resolved["AlarmRule"]), str(resolved.get("AlarmDescription", "")), stack, logical
                    )
                )
        return cls(metric_alarms, composites, MotoMetricStore(cloud.account, cloud.region))

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
        now = _utc(now)
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
        period = timedelta(seconds=alarm.period)
        end = datetime.fromtimestamp(int(_utc(now).timestamp()) // alarm.period * alarm.period, UTC)
        count = alarm.evaluation_periods + EXTRA_PERIODS
        start = end - count * period
        samples = self.source.samples(alarm.namespace, alarm.metric_name, alarm.dimensions, alarm.unit, start, end)
        points = []
        for index in range(count):
            begin = start + index * period
            inside = [s for s in samples if begin <= s.timestamp < begin + period]
            points.append(Datapoint(begin, statistic(alarm.statistic, inside), sum(s.count for s in inside)))
        return points

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


_UNUSED_PROPERTIES = {"Tags", "AlarmActions", "OKActions", "InsufficientDataActions", "ActionsSuppressor"}


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
            "statistic" if alarm.statistic in _BASIC_STATISTICS else "extendedStatistic": alarm.statistic,
            "period": alarm.period,
            "recentDatapoints": [p.value for p in recent],
            "threshold": alarm.threshold,
            "evaluatedDatapoints": [
                {"timestamp": _aws_time(p.start), "sampleCount": p.samples, "value": p.value} for p in recent
            ],
        }
    )


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _aws_time(moment: datetime) -> str:
    """CloudWatch's timestamp format in alarm events: 2019-10-02T17:04:40.989+0000."""
    return _utc(moment).strftime("%Y-%m-%dT%H:%M:%S.") + f"{_utc(moment).microsecond // 1000:03d}+0000"
