"""Runs per month of an EventBridge / SageMaker schedule expression (``rate(...)`` or ``cron(...)``)."""

from __future__ import annotations

import re

from mlops.rightsizing.catalogue import HOURS_PER_MONTH

DAYS_PER_MONTH = HOURS_PER_MONTH / 24.0
_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_UNIT_MINUTES = {"minute": 1, "hour": 60, "day": 1440}


def runs_per_month(expression: str) -> float:
    """Approximate runs in a 730-hour month; ValueError for an expression it cannot read."""
    text = expression.strip()
    rate = _RATE.match(text)
    if rate:
        minutes = int(rate.group(1)) * _UNIT_MINUTES[rate.group(2).rstrip("s")]
        return HOURS_PER_MONTH * 60.0 / minutes
    if text.startswith("cron(") and text.endswith(")"):
        fields = text[5:-1].split()
        if len(fields) != 6:
            raise ValueError(f"cron expression needs 6 fields: {expression}")
        minute, hour, dom, _month, dow, _year = fields
        per_day = _count(minute, 0, 59) * _count(hour, 0, 23)
        if dom not in ("*", "?"):
            days = float(_count(dom, 1, 31))
        elif dow not in ("*", "?"):
            days = _count(dow, 1, 7) * DAYS_PER_MONTH / 7.0
        else:
            days = DAYS_PER_MONTH
        return per_day * days
    raise ValueError(f"unsupported schedule expression: {expression}")


def _count(field: str, low: int, high: int) -> int:
    """How many values a cron field selects (lists, ranges, steps, * and ?)."""
    total = 0
    for part in field.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if base in ("*", "?"):
            start, end = low, high
        elif "-" in base:
            start, end = (_value(v, low) for v in base.split("-", 1))
        else:
            start = _value(base, low)
            end = high if step_text else start
        total += len(range(start, end + 1, step))
    return max(total, 1)


_DAYS = {name: i for i, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), start=1)}
_MONTHS = {
    name: i
    for i, name in enumerate(("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), 1)
}


def _value(text: str, low: int) -> int:
    name = text.upper()
    if name in _DAYS:
        return _DAYS[name]
    if name in _MONTHS:
        return _MONTHS[name]
    if text.isdigit():
        return int(text)
    raise ValueError(f"unsupported cron value: {text}")
