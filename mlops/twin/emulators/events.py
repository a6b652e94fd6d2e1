"""EventBridge for the twin: route events by the synthesized `AWS::Events::Rule`s (moto routes none).

Matching follows EventBridge's documented rules: every pattern field must match; a leaf is an array of
alternatives; an event array matches when any of its elements does; arrays of objects are flattened (each
pattern field is matched against the values at its path in any element, as EventBridge does); nested objects
recurse; `$or` offers alternative sub-patterns. Filters: exact strings/numbers/booleans/null, prefix, suffix
(both also with equals-ignore-case), equals-ignore-case, wildcard, anything-but (values, prefix, suffix,
equals-ignore-case, wildcard), numeric, exists and cidr. A missing field matches only `{"exists": false}`.

Only enabled rules on the bus match; scheduled `rate(...)` rules fire on the twin's clock (`run_schedules`).
Delivery: Lambda targets run the real handler through the twin's dispatcher (by the function name in the
resolved target ARN), Step Functions targets start an execution in moto; the target's Input, InputPath or
InputTransformer shapes what is delivered. A handler's error is reported in its delivery rather than retried:
the twin's clock does not move between retries, so a retry would see the same state.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from contracts import events as ev

if TYPE_CHECKING:
    from mlops.twin.cloud import TwinCloud
    from mlops.twin.emulators.lambdas import LambdaDispatcher


class InvalidEventPattern(ValueError):
    """A pattern EventBridge would reject (or a filter the twin does not know)."""


# -- pattern matching ------------------------------------------------------------------------------------------

_NUMERIC_OPERATORS = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    "=": lambda a, b: a == b,
    ">=": lambda a, b: a >= b,
    ">": lambda a, b: a > b,
}
_FILTERS = {"prefix", "suffix", "equals-ignore-case", "anything-but", "numeric", "exists", "wildcard", "cidr"}


def matches(pattern: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    """Whether `event` matches the EventBridge `pattern`."""
    check_pattern(pattern)
    return _match_object(pattern, [event])


def check_pattern(pattern: Mapping[str, Any], path: str = "") -> None:
    """Raise InvalidEventPattern where EventBridge would reject the pattern: leaves must be arrays of filters."""
    if not isinstance(pattern, Mapping):
        raise InvalidEventPattern(f"{path or 'pattern'}: must be an object")
    for key, value in pattern.items():
        where = f"{path}.{key}" if path else key
        if key == "$or":
            if not isinstance(value, list) or len(value) < 2:
                raise InvalidEventPattern(f"{where}: needs an array of at least two patterns")
            for option in value:
                check_pattern(option, where)
        elif isinstance(value, Mapping):
            check_pattern(value, where)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, Mapping):
                    _check_filter(item, where)
                elif isinstance(item, list):
                    raise InvalidEventPattern(f"{where}: nested arrays are not allowed")
        else:
            raise InvalidEventPattern(f"{where}: a leaf must be an array, got {value!r}")


def _check_filter(item: Mapping[str, Any], where: str) -> None:
    if len(item) != 1 or next(iter(item)) not in _FILTERS:
        raise InvalidEventPattern(f"{where}: unknown filter {dict(item)!r}")
    ((name, argument),) = item.items()
    if name == "numeric":
        if not isinstance(argument, list) or not argument or len(argument) % 2:
            raise InvalidEventPattern(f"{where}: numeric needs operator/number pairs")
        for operator, number in zip(argument[::2], argument[1::2], strict=True):
            if operator not in _NUMERIC_OPERATORS or not _is_number(number):
                raise InvalidEventPattern(f"{where}: numeric pair {operator!r} {number!r}")
    if name == "exists" and not isinstance(argument, bool):
        raise InvalidEventPattern(f"{where}: exists takes true or false")


def _match_object(pattern: Mapping[str, Any], nodes: Sequence[Any]) -> bool:
    for key, expected in pattern.items():
        if key == "$or":
            if not any(_match_object(option, nodes) for option in expected):
                return False
            continue
        present = [node[key] for node in nodes if isinstance(node, dict) and key in node]
        values = _flatten(present)
        if isinstance(expected, Mapping):
            if not _match_object(expected, [v for v in values if isinstance(v, dict)]):
                return False
        elif not _match_leaf(expected, [v for v in values if not isinstance(v, dict)]):
            return False
    return True


def _flatten(values: Iterable[Any]) -> list[Any]:
    out: list[Any] = []
    for value in values:
        out.extend(_flatten(value) if isinstance(value, list) else [value])
    return out


def _match_leaf(alternatives: Sequence[Any], values: Sequence[Any]) -> bool:
    for alternative in alternatives:
        if isinstance(alternative, Mapping) and "exists" in alternative:
            if bool(values) == alternative["exists"]:
                return True
        elif any(_match_value(alternative, value) for value in values):
            return True
    return False


def _match_value(expected: Any, value: Any) -> bool:
    if not isinstance(expected, Mapping):
        return _equal(expected, value)
    ((name, argument),) = expected.items()
    if name in ("prefix", "suffix"):
        return _affix(name, argument, value)
    if name == "equals-ignore-case":
        return isinstance(value, str) and value.casefold() == str(argument).casefold()
    if name == "wildcard":
        return isinstance(value, str) and _wildcard(str(argument)).fullmatch(value) is not None
    if name == "numeric":
        pairs = zip(argument[::2], argument[1::2], strict=True)
        return _is_number(value) and all(_NUMERIC_OPERATORS[op](float(value), float(n)) for op, n in pairs)
    if name == "cidr":
        try:
            return isinstance(value, str) and ipaddress.ip_address(value) in ipaddress.ip_network(argument, False)
        except ValueError:
            return False
    if name == "anything-but":
        return _anything_but(argument, value)
    raise InvalidEventPattern(f"filter {name!r} cannot be used here")


def _equal(expected: Any, value: Any) -> bool:
    if expected is None or isinstance(expected, bool):
        return value is expected
    if _is_number(expected):
        return _is_number(value) and float(value) == float(expected)
    return isinstance(value, str) and value == expected


def _affix(name: str, argument: Any, value: Any) -> bool:
    if not isinstance(value, str):
        return False
    if isinstance(argument, Mapping):  # {"prefix": {"equals-ignore-case": "..."}}
        (inner,) = argument.values()
        text, value = str(inner).casefold(), value.casefold()
    else:
        text = str(argument)
    return value.startswith(text) if name == "prefix" else value.endswith(text)


def _anything_but(argument: Any, value: Any) -> bool:
    if value is None:
        return False
    if isinstance(argument, Mapping):
        ((name, inner),) = argument.items()
        options = inner if isinstance(inner, list) else [inner]
        return not any(_match_value({name: option}, value) for option in options)
    options = argument if isinstance(argument, list) else [argument]
    return not any(_equal(option, value) for option in options)


def _wildcard(text: str) -> re.Pattern[str]:
    parts = re.split(r"(?<!\\)\*", text)
    return re.compile(".*".join(re.escape(part.replace("\\*", "*")) for part in parts), re.DOTALL)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# -- target input ----------------------------------------------------------------------------------------------

_PATH_STEP = re.compile(r"\.([^.\[]+)|\[(\d+)\]|\[['\"]([^'\"]+)['\"]\]")
_MISSING = object()


def json_path(document: Any, path: str) -> Any:
    """The value at a simple JSONPath ($, $.a.b, $.detail-type, $.a[0], $['a b']); None when absent."""
    if not path.startswith("$"):
        raise ValueError(f"{path!r} is not a JSONPath")
    node, position = document, 1
    while position < len(path):
        step = _PATH_STEP.match(path, position)
        if step is None:
            raise ValueError(f"{path!r}: unsupported JSONPath at offset {position}")
        key, index, quoted = step.groups()
        if index is not None:
            node = node[int(index)] if isinstance(node, list) and int(index) < len(node) else _MISSING
        else:
            name = key if key is not None else quoted
            node = node.get(name, _MISSING) if isinstance(node, dict) else _MISSING
        if node is _MISSING:
            return None
        position = step.end()
    return node


def transform_input(transformer: Mapping[str, Any], event: Mapping[str, Any], rule: Rule) -> Any:
    """EventBridge's InputTransformer: placeholders <name> from InputPathsMap (and the reserved aws.events.*).

    Inside a JSON string a placeholder becomes the value's text; outside, its JSON. The result is delivered as
    JSON when it parses, as text otherwise.
    """
    variables = {name: json_path(event, path) for name, path in (transformer.get("InputPathsMap") or {}).items()}
    variables.update(
        {
            "aws.events.rule-arn": rule.arn,
            "aws.events.rule-name": rule.name,
            "aws.events.event.ingestion-time": event.get("time"),
            "aws.events.event": event,
            "aws.events.event.json": event,
        }
    )
    template = str(transformer["InputTemplate"])
    out, in_string, escaped, i = [], False, False, 0
    while i < len(template):
        char = template[i]
        placeholder = re.match(r"<([A-Za-z0-9_.\-]+)>", template[i:]) if char == "<" else None
        if placeholder and placeholder.group(1) in variables:
            value = variables[placeholder.group(1)]
            if in_string:
                text = value if isinstance(value, str) else ("" if value is None else json.dumps(value))
                out.append(json.dumps(text)[1:-1])
            else:
                out.append(json.dumps(value))
            i += placeholder.end()
            continue
        if in_string and char == "\\" and not escaped:
            escaped = True
        else:
            if char == '"' and not escaped:
                in_string = not in_string
            escaped = False
        out.append(char)
        i += 1
    text = "".join(out)
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


# -- rules and routing -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    id: str
    arn: str
    input: str | None = None
    input_path: str | None = None
    input_transformer: Mapping[str, Any] | None = None

    @classmethod
    def from_properties(cls, props: Mapping[str, Any]) -> Target:
        return cls(
            id=str(props["Id"]),
            arn=str(props["Arn"]),
            input=props.get("Input"),
            input_path=props.get("InputPath"),
            input_transformer=props.get("InputTransformer"),
        )

    def payload(self, event: Mapping[str, Any], rule: Rule) -> Any:
        if self.input is not None:
            return json.loads(self.input)
        if self.input_path is not None:
            return json_path(event, self.input_path)
        if self.input_transformer is not None:
            return transform_input(self.input_transformer, event, rule)
        return event


@dataclass(frozen=True)
class Rule:
    name: str
    arn: str
    pattern: Mapping[str, Any] | None
    targets: tuple[Target, ...]
    enabled: bool = True
    schedule: str | None = None
    event_bus: str = "default"
    stack: str = ""
    logical_id: str = ""

    @classmethod
    def from_properties(
        cls, props: Mapping[str, Any], *, name: str, arn: str, stack: str = "", logical_id: str = ""
    ) -> Rule:
        """From `AWS::Events::Rule` properties (intrinsics already resolved)."""
        pattern = props.get("EventPattern")
        if isinstance(pattern, str):
            pattern = json.loads(pattern)
        if pattern is not None:
            check_pattern(pattern)
        bus = str(props.get("EventBusName") or "default").rsplit("/", 1)[-1]
        return cls(
            name=name,
            arn=arn,
            pattern=pattern,
            targets=tuple(Target.from_properties(t) for t in props.get("Targets", [])),
            enabled=str(props.get("State", "ENABLED")) == "ENABLED",
            schedule=props.get("ScheduleExpression"),
            event_bus=bus,
            stack=stack,
            logical_id=logical_id,
        )

    def matches(self, event: Mapping[str, Any], bus: str = "default") -> bool:
        return self.enabled and self.pattern is not None and self.event_bus == bus and matches(self.pattern, event)


@dataclass(frozen=True)
class Delivery:
    """One event delivered to one target: what went where and what came back."""

    rule: str
    target_id: str
    kind: str  # "lambda", "states" or "unsupported"
    target: str  # function name or state machine ARN
    payload: Any
    result: Any = None  # the handler's return value, or the execution ARN
    error: str | None = None


class EventRouter:
    """The default bus of the twin: the rules, and the targets they deliver to."""

    def __init__(self, rules: Iterable[Rule], *, dispatcher: LambdaDispatcher, stepfunctions: Any) -> None:
        self.rules = list(rules)
        self.dispatcher = dispatcher
        self.stepfunctions = stepfunctions
        self.deliveries: list[Delivery] = []

    @classmethod
    def from_cloud(cls, cloud: TwinCloud) -> EventRouter:
        """The synthesized rules of every stack, resolved against the twin (create the alarms' TwinAlarms first:
        rules that reference an alarm resolve its ARN through the names TwinAlarms registers)."""
        rules = []
        for stack, template in cloud.assembly.templates.items():
            resolver = dataclasses.replace(
                cloud.resolver,
                pseudo={**cloud.resolver.pseudo, "AWS::StackName": stack, "AWS::StackId": _stack_id(cloud, stack)},
            )
            for logical, resource in template["Resources"].items():
                if resource["Type"] != "AWS::Events::Rule":
                    continue
                props = {k: v for k, v in resource.get("Properties", {}).items() if k != "Tags"}
                try:
                    resolved = resolver.resolve(stack, props)
                except KeyError as exc:
                    raise KeyError(f"{stack}/{logical}: cannot resolve the rule: {exc}") from exc
                name = str(resolved.get("Name") or f"{stack}-{logical}")
                arn = f"arn:aws:events:{cloud.region}:{cloud.account}:rule/{name}"
                rules.append(Rule.from_properties(resolved, name=name, arn=arn, stack=stack, logical_id=logical))
        return cls(rules, dispatcher=cloud.dispatcher, stepfunctions=cloud.client("stepfunctions"))

    def rule(self, name_or_logical_prefix: str) -> Rule:
        found = [r for r in self.rules if name_or_logical_prefix in (r.name, r.arn) or
                 r.logical_id.startswith(name_or_logical_prefix)]  # fmt: skip
        if len(found) != 1:
            raise KeyError(f"{name_or_logical_prefix!r}: {len(found)} rules match")
        return found[0]

    def matching(self, event: Mapping[str, Any], bus: str = "default") -> list[Rule]:
        return [rule for rule in self.rules if rule.matches(event, bus)]

    def put_event(self, event: Mapping[str, Any], bus: str = "default") -> list[Delivery]:
        """Deliver `event` to the targets of every enabled rule it matches."""
        deliveries = []
        for rule in self.matching(event, bus):
            for target in rule.targets:
                deliveries.append(self._deliver(rule, target, event))
        self.deliveries.extend(deliveries)
        return deliveries

    def put_events(self, events: Iterable[Mapping[str, Any]], bus: str = "default") -> list[Delivery]:
        return [delivery for event in events for delivery in self.put_event(event, bus)]

    def run_schedules(self, after: datetime, until: datetime) -> list[Delivery]:
        """Fire the enabled `rate(...)` rules due in (after, until] on the twin's clock, oldest first.

        Firings are aligned to the epoch (AWS aligns them to the rule's creation, which the twin does not have).
        """
        firings = []
        for rule in self.rules:
            if rule.enabled and rule.schedule:
                every = rate_seconds(rule.schedule)
                first = int(_utc(after).timestamp()) // every + 1
                last = int(_utc(until).timestamp()) // every
                firings.extend((k * every, rule) for k in range(first, last + 1))
        deliveries = []
        for seconds, rule in sorted(firings, key=lambda firing: firing[0]):
            event = scheduled_event(rule, datetime.fromtimestamp(seconds, UTC))
            deliveries.extend(self._deliver(rule, target, event) for target in rule.targets)
        self.deliveries.extend(deliveries)
        return deliveries

    def _deliver(self, rule: Rule, target: Target, event: Mapping[str, Any]) -> Delivery:
        payload = target.payload(event, rule)
        parts = target.arn.split(":")
        if target.arn.startswith("arn:aws:lambda:"):
            return self._invoke(rule, target, parts[6], payload)
        if target.arn.startswith("arn:aws:states:") and parts[5] == "stateMachine":
            return self._start(rule, target, payload)
        return Delivery(rule.name, target.id, "unsupported", target.arn, payload, error="target type not in the twin")

    def _invoke(self, rule: Rule, target: Target, function: str, payload: Any) -> Delivery:
        if function not in self.dispatcher.functions:
            return Delivery(rule.name, target.id, "lambda", function, payload, error="function not deployed")
        headers: dict[str, str] = {}
        body = self.dispatcher.invoke(function, json.dumps(payload).encode(), headers)
        result = json.loads(body) if body else None
        if "x-amz-function-error" in headers:
            error = f"{result.get('errorType')}: {result.get('errorMessage')}"
            return Delivery(rule.name, target.id, "lambda", function, payload, result, error)
        return Delivery(rule.name, target.id, "lambda", function, payload, result)

    def _start(self, rule: Rule, target: Target, payload: Any) -> Delivery:
        name = str(uuid.uuid4())  # EventBridge names the executions it starts with a fresh id each time
        try:
            arn = self.stepfunctions.start_execution(stateMachineArn=target.arn, name=name, input=json.dumps(payload))[
                "executionArn"
            ]
        except Exception as exc:  # reported in the delivery, as EventBridge reports a failed invocation
            return Delivery(rule.name, target.id, "states", target.arn, payload, error=f"{type(exc).__name__}: {exc}")
        return Delivery(rule.name, target.id, "states", target.arn, payload, arn)


def new_event(
    source: str,
    detail_type: str,
    detail: Mapping[str, Any],
    *,
    time: datetime,
    resources: Sequence[str] = (),
    account: str = "111111111111",
    region: str = "us-east-1",
) -> dict[str, Any]:
    """An event as EventBridge delivers it (what PutEvents or an AWS service would put on the bus)."""
    moment = _utc(time)
    key = f"{source}|{detail_type}|{json.dumps(detail, sort_keys=True)}|{moment.isoformat()}"
    return {
        "version": "0",
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, key)),
        ev.DETAIL_TYPE: detail_type,
        ev.SOURCE: source,
        "account": account,
        "time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": list(resources),
        ev.DETAIL: dict(detail),
    }


_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def rate_seconds(expression: str) -> int:
    """The interval of an EventBridge `rate(...)` schedule (cron schedules are not run by the twin)."""
    match = _RATE.match(expression.strip())
    if not match or int(match.group(1)) < 1:
        raise ValueError(f"schedule {expression!r}: the twin runs rate(N minute(s)|hour(s)|day(s)) schedules only")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2).rstrip("s")]


def scheduled_event(rule: Rule, time: datetime) -> dict[str, Any]:
    """The event EventBridge sends a scheduled rule's targets."""
    _, _, _, region, account, _ = rule.arn.split(":", 5)
    event = new_event("aws.events", "Scheduled Event", {}, time=time, resources=[rule.arn], account=account,
                      region=region)  # fmt: skip
    event["id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{rule.arn}|{event['time']}"))
    return event


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _stack_id(cloud: TwinCloud, stack: str) -> str:
    """The stack's id in moto when the twin created it there (the serving contract stack), else a stable one."""
    try:
        return str(cloud.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]["StackId"])
    except Exception:  # the twin creates most stacks' resources directly, without a CloudFormation stack
        suffix = uuid.uuid5(uuid.NAMESPACE_URL, stack)
        return f"arn:aws:cloudformation:{cloud.region}:{cloud.account}:stack/{stack}/{suffix}"
