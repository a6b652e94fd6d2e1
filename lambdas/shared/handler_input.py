"""What every Lambda handler checks before its own logic: the event is a JSON object, and numeric settings are
finite numbers in range. Pure Python, shipped in every handler's asset (lambdas/shared/).

A Lambda event is whatever JSON the caller sent: a Step Functions task, a test invoke or `aws lambda invoke` can
send a list, a string or null just as well as an object
(AWS Lambda Developer Guide, "Lambda function handler in Python",
https://docs.aws.amazon.com/lambda/latest/dg/python-programming-model-handler-types.html: the event "is usually of
the Python dict type. It can also be list, str, int, float, or the NoneType type"; a Step Functions Map state passes
a list). Such an event gets the same clear rejection as `{}`: a ValueError whose message starts with "input",
which the state machines' Catch turns into a failed task, or, for an EventBridge target, the rejection it returns.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from contracts import environment as env_names

Result = TypeVar("Result")


class ConfigurationError(ValueError):
    """A function setting (environment variable) is missing or out of range; the message names it."""


def require_object_event(
    handler: Callable[[dict[str, Any], Any], Result] | None = None,
    *,
    rejected: Callable[[str], Result] | None = None,
) -> Any:
    """Decorate a lambda_handler: a non-object event is refused before the handler (or its logger) touches it.

    `@require_object_event` raises the ValueError (a Step Functions task: the state machine's Catch sees it).
    `@require_object_event(rejected=...)` returns `rejected(message)` instead, for a function that answers a
    malformed object the same way (an EventBridge target: raising would only make Lambda retry the same event)."""

    def decorate(inner: Callable[[dict[str, Any], Any], Result]) -> Callable[[Any, Any], Result]:
        @functools.wraps(inner)
        def checked(event: Any, context: Any) -> Result:
            problem = not_an_object(event)
            if problem:
                if rejected is None:
                    raise ValueError(problem)
                return rejected(problem)
            return inner(event, context)

        return checked

    return decorate if handler is None else decorate(handler)


def not_an_object(event: Any) -> str:
    """The rejection message of an event that is not a JSON object; "" for an object."""
    return "" if isinstance(event, dict) else f"input: expected a JSON object, got {_kind(event)}"


def _kind(value: Any) -> str:
    names = {list: "a list", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def at_cold_start(check: Callable[[], object]) -> None:
    """Run a settings check when the module loads inside Lambda, so a bad setting fails the function's init with
    its name instead of surfacing mid-run. Lambda sets AWS_LAMBDA_FUNCTION_NAME in every function's environment
    ("Defined runtime environment variables",
    https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime);
    imports elsewhere (tests, the offline twin) check on each invocation instead."""
    if os.environ.get(env_names.LAMBDA_FUNCTION_NAME):
        check()


def number_setting(
    environ: Mapping[str, str],
    name: str,
    low: float,
    *,
    default: str | None = None,
    integer: bool = False,
    low_inclusive: bool = True,
) -> float:
    """A numeric setting: finite, >= low (or > low), whole when `integer`; a ConfigurationError names it."""
    text = environ.get(name, default)
    if text is None:
        raise ConfigurationError(f"{name}: not set")
    try:
        value = float(text)
    except ValueError:
        raise ConfigurationError(f"{name}: not a number: {text!r}") from None
    too_low = value < low if low_inclusive else value <= low
    if not math.isfinite(value) or too_low or (integer and not value.is_integer()):
        bound = f"{'>=' if low_inclusive else '>'} {low:g}"
        raise ConfigurationError(f"{name}: must be a finite {'whole ' if integer else ''}number {bound}, got {text!r}")
    return int(value) if integer else value
