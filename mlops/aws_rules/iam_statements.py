"""IAM policy statements and their evaluation for one request, as AWS's policy evaluation logic describes it.

https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html: an explicit Deny in any
statement wins; otherwise the request is allowed only if some Allow statement matches; otherwise it is implicitly
denied. A statement matches when its Action (or NotAction) matches the action, its Resource (or NotResource) the
resource, and every Condition holds. Wildcards: `*` any run of characters, `?` one character; action names match
case-insensitively, resource ARNs case-sensitively
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html).

A statement the twin could not resolve (a resource it did not create) or whose condition it cannot evaluate (a key it
does not model) is never applied: the evaluation says which such statements could have applied, for the report.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Decision = Literal["allow", "explicit-deny", "implicit-deny"]


@dataclass(frozen=True)
class Statement:
    effect: Literal["Allow", "Deny"]
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] | None = None
    resources: tuple[str, ...] = ()
    not_resources: tuple[str, ...] | None = None
    conditions: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    source: str = ""  # where it came from: "<stack>/<policy logical id>#<index>"
    unresolved: str = ""  # why the twin could not resolve part of it (then it is reported, never applied)

    @classmethod
    def from_json(cls, node: Mapping[str, Any], source: str = "", unresolved: str = "") -> Statement:
        def many(key: str) -> tuple[str, ...] | None:
            if key not in node:
                return None
            value = node[key]
            return tuple(str(v) for v in (value if isinstance(value, list) else [value]))

        return cls(
            effect=node["Effect"],
            actions=many("Action") or (),
            not_actions=many("NotAction"),
            resources=many("Resource") or (),
            not_resources=many("NotResource"),
            conditions=node.get("Condition", {}),
            source=source,
            unresolved=unresolved,
        )


@dataclass
class Evaluation:
    decision: Decision
    deciding: Statement | None = None
    # Statements that name this action but could not be applied (unresolved resource or condition), with why.
    unresolved: list[tuple[Statement, str]] = field(default_factory=list)


# A request's value for a condition key: one string, several (a multivalued key), or None (modelled, absent).
ContextValue = str | list[str] | None


@functools.lru_cache(maxsize=4096)
def _wildcard(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(regex + r"\Z", re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def wildcard_match(pattern: str, value: str, ignore_case: bool = False) -> bool:
    return _wildcard(pattern, ignore_case).match(value) is not None


def _action_matches(statement: Statement, action: str) -> bool:
    if statement.not_actions is not None:
        return not any(wildcard_match(p, action, ignore_case=True) for p in statement.not_actions)
    return any(wildcard_match(p, action, ignore_case=True) for p in statement.actions)


def _resource_matches(statement: Statement, resource: str) -> bool:
    if statement.not_resources is not None:
        return not any(wildcard_match(p, resource) for p in statement.not_resources)
    return any(wildcard_match(p, resource) for p in statement.resources)


class UnknownCondition(Exception):
    """A condition operator or key the evaluator does not model."""


_STRING_OPS = {
    "StringEquals": lambda p, v: p == v,
    "StringNotEquals": lambda p, v: p != v,
    "StringEqualsIgnoreCase": lambda p, v: p.lower() == v.lower(),
    "StringNotEqualsIgnoreCase": lambda p, v: p.lower() != v.lower(),
    "StringLike": lambda p, v: wildcard_match(p, v),
    "StringNotLike": lambda p, v: not wildcard_match(p, v),
    "ArnEquals": lambda p, v: p == v,
    "ArnNotEquals": lambda p, v: p != v,
    "ArnLike": lambda p, v: wildcard_match(p, v),
    "ArnNotLike": lambda p, v: not wildcard_match(p, v),
    "Bool": lambda p, v: p.lower() == v.lower(),
}
_NEGATED = {"StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "ArnNotEquals", "ArnNotLike"}


def conditions_hold(conditions: Mapping[str, Mapping[str, Any]], context: Mapping[str, ContextValue]) -> bool:
    """All condition blocks hold for the request context (keys compared case-insensitively, as IAM does).

    A key missing from the request makes a positive operator false and a negated one true; with `...IfExists` the
    block holds (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html).
    Raises UnknownCondition for operators or keys outside the model (`context` must list every key it models, with
    None for "modelled, absent in this request").
    """
    lowered = {k.lower(): v for k, v in context.items()}
    for operator, block in conditions.items():
        if_exists = operator.endswith("IfExists")
        base = operator.removesuffix("IfExists")
        if base == "Null":
            for key, expected in block.items():
                if key.lower() not in lowered:
                    raise UnknownCondition(f"{operator} on {key}")
                absent = lowered[key.lower()] is None
                if absent != (str(expected).lower() == "true"):
                    return False
            continue
        qualifier, _, base = base.rpartition(":")
        if base not in _STRING_OPS or qualifier not in ("", "ForAllValues", "ForAnyValue"):
            raise UnknownCondition(f"operator {operator}")
        for key, expected in block.items():
            if key.lower() not in lowered:
                raise UnknownCondition(f"{operator} on key {key}")
            value = lowered[key.lower()]
            if qualifier:
                if not _set_condition_holds(qualifier, _STRING_OPS[base], expected, value):
                    return False
                continue
            if isinstance(value, list):
                raise UnknownCondition(f"{operator} on the multivalued key {key} (needs ForAllValues/ForAnyValue)")
            if value is None:
                if if_exists or base in _NEGATED:
                    continue
                return False
            patterns = [str(p) for p in (expected if isinstance(expected, list) else [expected])]
            test = _STRING_OPS[base]
            # Several values in one key: OR for positive operators, NOR (all must pass) for negated ones.
            held = all(test(p, value) for p in patterns) if base in _NEGATED else any(test(p, value) for p in patterns)
            if not held:
                return False
    return True


def _set_condition_holds(qualifier: str, test: Callable[[str, str], bool], expected: Any, value: Any) -> bool:
    """ForAllValues: every request value matches some policy value (true when the key is absent); ForAnyValue:
    at least one does (false when absent).
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html
    """
    patterns = [str(p) for p in (expected if isinstance(expected, list) else [expected])]
    values = [] if value is None else (value if isinstance(value, list) else [value])
    matches = [any(test(p, v) for p in patterns) for v in values]
    return all(matches) if qualifier == "ForAllValues" else any(matches)


def evaluate(
    statements: Sequence[Statement], action: str, resource: str, context: Mapping[str, ContextValue]
) -> Evaluation:
    """Explicit Deny wins, then any Allow; unresolved statements that name the action are collected, not applied."""
    allowed: Statement | None = None
    unresolved: list[tuple[Statement, str]] = []
    for statement in statements:
        if not _action_matches(statement, action):
            continue
        if statement.unresolved:
            unresolved.append((statement, statement.unresolved))
            continue
        if not _resource_matches(statement, resource):
            continue
        try:
            holds = conditions_hold(statement.conditions, context)
        except UnknownCondition as exc:
            unresolved.append((statement, f"condition not evaluated: {exc}"))
            continue
        if not holds:
            continue
        if statement.effect == "Deny":
            return Evaluation("explicit-deny", statement, unresolved)
        allowed = allowed or statement
    return Evaluation("allow" if allowed else "implicit-deny", allowed, unresolved)
