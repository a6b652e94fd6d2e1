"""Every request's parameters against the constraints of botocore's service model, as AWS checks them server-side.

botocore's client-side validator (botocore/validate.py) checks types, required members and `min`, but not `max`,
`pattern` or `enum`: the service does, and answers `ValidationException` ("1 validation error detected: Value 'x'
at 'y' failed to satisfy constraint: Member must satisfy regular expression pattern: ..."; see "Common Errors",
https://docs.aws.amazon.com/sagemaker/latest/APIReference/CommonErrors.html). moto checks almost none of it, so a
request the twin accepts could fail on every run in AWS (issue #14: CustomerMetadataProperties values with JSON in
them). `check_service_model` is a `Check` for `mlops.aws_rules.interception.enforcing` that refuses such a request
the way AWS does.

What is checked, per member shape (structures, lists and maps are walked to the leaves, the path is named in the
message): string length (`min`/`max`), `pattern` (a Java regular expression, full match, run with the `regex`
package, which knows `\\p{L}`, `\\p{N}`, `\\p{Z}`), `enum`; list and map sizes; map keys and values; integer, long
and floating-point `min`/`max`; blob sizes. A `min` that botocore itself checks (strings, lists, numbers) is left to
botocore when the client validates parameters, so the error raised is the real client's `ParamValidationError`.
Values that are not of the shape's type are skipped (botocore's validator reports them), so a placeholder that is
not a concrete value is never judged by the rule of the value it stands for.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import Any

import regex
from botocore.client import BaseClient
from botocore.model import Shape
from botocore.validate import ParamValidationDecorator

from mlops.aws_rules.interception import ApiCall, aws_error

_NUMBERS = {"integer", "long", "float", "double"}
# The constraints botocore's ParamValidator checks itself before sending (range_check on these types: `min` only).
_BOTOCORE_CHECKS_MIN = {"string", "list", *_NUMBERS}
# Java spells a code point above U+FFFF as a UTF-16 surrogate pair (\uD800\uDC00) or \x{...}; `regex` wants \U.
_SURROGATE_PAIR = re.compile(r"\\u(d[89ab][0-9a-f]{2})\\u(d[c-f][0-9a-f]{2})", re.IGNORECASE)
_JAVA_HEX = re.compile(r"\\x\{([0-9a-f]{1,6})\}", re.IGNORECASE)
_SHOWN_VALUE = 200  # characters of an offending value quoted in the message (pipeline definitions are long)


def check_service_model(call: ApiCall) -> None:
    """Raise the ValidationException AWS would return when `call.params` break the operation's input shape."""
    shape = call.operation.input_shape
    if shape is None:
        return
    model = call.operation.service_model
    validator = _Validator(
        (model.service_name, model.api_version),
        botocore_checks_min=botocore_validates(call.client),
    )
    errors: list[str] = []
    validator.node(shape).check(call.params, "", errors, validator)
    if errors:
        count = f"{len(errors)} validation error{'s' if len(errors) > 1 else ''} detected"
        raise aws_error(call, "ValidationException", f"{count}: {'; '.join(errors)}")


def botocore_validates(client: BaseClient) -> bool:
    """Whether the client runs botocore's parameter validation before sending (Config(parameter_validation=...)).
    The merged `client.meta.config` does not keep the setting; the serializer botocore chose does."""
    return isinstance(getattr(client, "_serializer", None), ParamValidationDecorator)


def validation_errors(
    shape: Shape, params: Any, service: tuple[str, str], botocore_checks_min: bool = True
) -> list[str]:
    """The constraint violations of `params` against `shape` (a botocore Shape of service (name, api version))."""
    errors: list[str] = []
    validator = _Validator(service, botocore_checks_min)
    validator.node(shape).check(params, "", errors, validator)
    return errors


class _Validator:
    def __init__(self, service: tuple[str, str], botocore_checks_min: bool) -> None:
        self.service = service
        self.botocore_checks_min = botocore_checks_min

    def node(self, shape: Shape) -> _Node:
        key = (*self.service, shape.name)
        node = _NODES.get(key)
        if node is None:
            node = _NODES.setdefault(key, _Node(shape))
        return node


class _Node:
    """One shape's constraints, read once per (service, version, shape name); children are resolved on first use,
    so recursive shapes cost nothing until a value actually nests."""

    __slots__ = ("_children", "enum", "max", "min", "pattern", "pattern_text", "shape", "type")

    def __init__(self, shape: Shape) -> None:
        meta = shape.metadata
        self.shape = shape
        self.type: str = shape.type_name
        self.min: float | None = meta.get("min")
        self.max: float | None = meta.get("max")
        self.pattern_text: str | None = meta.get("pattern") if self.type == "string" else None
        self.pattern = _compiled(self.pattern_text) if self.pattern_text else None
        self.enum = frozenset(getattr(shape, "enum", None) or ()) if self.type == "string" else frozenset()
        self._children: Any = None

    def children(self, validator: _Validator) -> Any:
        if self._children is None:
            shape: Any = self.shape
            if self.type == "structure":
                self._children = {name: validator.node(member) for name, member in shape.members.items()}
            elif self.type == "list":
                self._children = validator.node(shape.member)
            elif self.type == "map":
                self._children = (validator.node(shape.key), validator.node(shape.value))
        return self._children

    def check(self, value: Any, path: str, errors: list[str], validator: _Validator) -> None:
        kind = self.type
        if kind == "structure":
            if isinstance(value, Mapping):
                members = self.children(validator)
                for name, item in value.items():
                    member = members.get(name)
                    if member is not None and item is not None:
                        member.check(item, f"{path}.{name}" if path else name, errors, validator)
        elif kind == "string":
            if isinstance(value, str):
                self._string(value, path, errors, validator)
        elif kind == "list":
            if isinstance(value, (list, tuple)):
                self._size(len(value), value, path, errors, validator)
                member = self.children(validator)
                for index, item in enumerate(value):
                    member.check(item, f"{path}[{index}]", errors, validator)
        elif kind == "map":
            if isinstance(value, Mapping):
                self._size(len(value), value, path, errors, validator)
                key_node, value_node = self.children(validator)
                for key, item in value.items():
                    key_errors: list[str] = []
                    key_node.check(key, path, key_errors, validator)
                    errors.extend(_map_key_error(error) for error in key_errors)
                    value_node.check(item, f"{path}.{key}", errors, validator)
        elif kind in _NUMBERS:
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                self._range(value, path, errors, validator)
        elif kind == "blob" and isinstance(value, (bytes, bytearray)):
            self._size(len(value), value, path, errors, validator)

    def _string(self, value: str, path: str, errors: list[str], validator: _Validator) -> None:
        self._size(len(value), value, path, errors, validator)
        if self.enum and value not in self.enum:
            allowed = ", ".join(sorted(self.enum))
            errors.append(_violation(value, path, f"Member must satisfy enum value set: [{allowed}]"))
        if self.pattern is not None and self.pattern.fullmatch(value) is None:
            constraint = f"Member must satisfy regular expression pattern: {self.pattern_text}"
            errors.append(_violation(value, path, constraint))

    def _size(self, size: int, value: Any, path: str, errors: list[str], validator: _Validator) -> None:
        if self.min is not None and size < self.min and not self._left_to_botocore(validator):
            errors.append(_violation(value, path, f"Member must have length greater than or equal to {self.min}"))
        if self.max is not None and size > self.max:
            errors.append(_violation(value, path, f"Member must have length less than or equal to {self.max}"))

    def _range(self, value: float, path: str, errors: list[str], validator: _Validator) -> None:
        if self.min is not None and value < self.min and not self._left_to_botocore(validator):
            errors.append(_violation(value, path, f"Member must have value greater than or equal to {self.min}"))
        if self.max is not None and value > self.max:
            errors.append(_violation(value, path, f"Member must have value less than or equal to {self.max}"))

    def _left_to_botocore(self, validator: _Validator) -> bool:
        return validator.botocore_checks_min and self.type in _BOTOCORE_CHECKS_MIN


def _violation(value: Any, path: str, constraint: str) -> str:
    shown = str(value)
    if len(shown) > _SHOWN_VALUE:
        shown = shown[:_SHOWN_VALUE] + "..."
    return f"Value '{shown}' at '{path}' failed to satisfy constraint: {constraint}"


def _map_key_error(error: str) -> str:
    # "Value 'k' at 'Map' failed to satisfy constraint: Map keys must satisfy constraint: [Member must ...]"
    head, constraint = error.split(" failed to satisfy constraint: ", 1)
    return f"{head} failed to satisfy constraint: Map keys must satisfy constraint: [{constraint}]"


_NODES: dict[tuple[str, str, str], _Node] = {}
_PATTERNS: dict[str, regex.Pattern[str] | None] = {}
_PATTERN_LOCK = threading.Lock()


def _compiled(pattern: str) -> regex.Pattern[str] | None:
    """The pattern compiled once per process; None for the few Java-only ones `regex` cannot read (skipped)."""
    if pattern not in _PATTERNS:
        with _PATTERN_LOCK:
            try:
                _PATTERNS[pattern] = regex.compile(java_to_python(pattern))
            except regex.error:
                _PATTERNS[pattern] = None
    return _PATTERNS[pattern]


def java_to_python(pattern: str) -> str:
    """The Java regular expression in `regex`'s syntax: supplementary code points as \\U escapes."""

    def pair(match: re.Match[str]) -> str:
        high, low = int(match.group(1), 16), int(match.group(2), 16)
        return f"\\U{0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00):08X}"

    pattern = _SURROGATE_PAIR.sub(pair, pattern)
    return _JAVA_HEX.sub(lambda m: f"\\U{int(m.group(1), 16):08X}", pattern)
