"""The alarms of the synthesized templates, as the twin evaluates them: metric alarms and composite alarms.

`read_alarms` finds every `AWS::CloudWatch::Alarm` and `AWS::CloudWatch::CompositeAlarm`, names and registers it in
the cloud's resolver and parses its properties; what the twin cannot evaluate (metric math, anomaly bands, trimmed
statistics...) raises UnsupportedAlarm rather than being evaluated wrongly.

Composite alarm rules: ALARM/OK/INSUFFICIENT_DATA("name" or ARN), TRUE, FALSE, NOT, AND, OR and parentheses (AND binds
tighter than OR), parsed into a tree that `mlops.twin.emulators.alarms` evaluates against the alarms' states.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from mlops.twin.cloud import TwinCloud

State = Literal["OK", "ALARM", "INSUFFICIENT_DATA"]
STATES: tuple[State, ...] = ("OK", "ALARM", "INSUFFICIENT_DATA")
BASIC_STATISTICS = ("Average", "Sum", "Minimum", "Maximum", "SampleCount")
PERCENTILE = re.compile(r"^p(100(\.0+)?|\d{1,2}(\.\d+)?)$")
COMPARISONS: dict[str, tuple[Callable[[float, float], bool], str]] = {
    "GreaterThanThreshold": (lambda v, t: v > t, "greater than"),
    "GreaterThanOrEqualToThreshold": (lambda v, t: v >= t, "greater than or equal to"),
    "LessThanThreshold": (lambda v, t: v < t, "less than"),
    "LessThanOrEqualToThreshold": (lambda v, t: v <= t, "less than or equal to"),
}
TREATMENTS = ("missing", "ignore", "breaching", "notBreaching")


class UnsupportedAlarm(ValueError):
    """An alarm definition the twin does not evaluate (metric math, anomaly bands, trimmed statistics...)."""


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
        if stat not in BASIC_STATISTICS and not PERCENTILE.match(stat):
            raise UnsupportedAlarm(f"{where}: statistic {stat!r} is not evaluated by the twin")
        comparison = str(props["ComparisonOperator"])
        if comparison not in COMPARISONS:
            raise UnsupportedAlarm(f"{where}: comparison {comparison!r} is not evaluated by the twin")
        treat = str(props.get("TreatMissingData", "missing"))
        if treat not in TREATMENTS:
            raise UnsupportedAlarm(f"{where}: TreatMissingData {treat!r} is not one of {TREATMENTS}")
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
        return COMPARISONS[self.comparison][0](value, self.threshold)

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


# -- from the synthesized templates ----------------------------------------------------------------------------


def read_alarms(cloud: TwinCloud) -> tuple[list[MetricAlarm], list[CompositeAlarm]]:
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
    return metric_alarms, composites


_UNUSED_PROPERTIES = {"Tags", "AlarmActions", "OKActions", "InsufficientDataActions", "ActionsSuppressor"}
