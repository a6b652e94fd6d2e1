"""The retraining guard: at most one retraining at a time, a cooldown between runs, a daily budget. Pure logic.

The state is one record (kept in DynamoDB by the handler). A lock older than the loop's timeout is stale (its
execution died without releasing), so it never blocks retraining for ever.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class GuardState:
    running: str | None = None
    started_at: str | None = None
    last_started: str | None = None
    day: str | None = None
    runs_today: int = 0
    version: int = 0

    @classmethod
    def from_item(cls, item: dict[str, Any] | None) -> GuardState:
        if not item:
            return cls()
        fields = {k: item.get(k) for k in ("running", "started_at", "last_started", "day")}
        return cls(**fields, runs_today=int(item.get("runs_today", 0)), version=int(item.get("version", 0)))

    def to_item(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Limits:
    cooldown: timedelta
    max_per_day: int
    timeout: timedelta


@dataclass(frozen=True)
class Verdict:
    proceed: bool
    reason: str
    state: GuardState


def acquire(state: GuardState, execution: str, now: datetime, limits: Limits) -> Verdict:
    if state.running == execution:
        return Verdict(True, "this execution already holds the lock", state)
    if state.running and state.started_at and now - datetime.fromisoformat(state.started_at) < limits.timeout:
        return Verdict(False, f"retraining {state.running} is still running", state)
    if state.last_started and now - datetime.fromisoformat(state.last_started) < limits.cooldown:
        return Verdict(False, f"cooldown: last retraining started at {state.last_started}", state)
    today = now.date().isoformat()
    runs_today = state.runs_today if state.day == today else 0
    if runs_today >= limits.max_per_day:
        return Verdict(False, f"daily budget of {limits.max_per_day} retraining(s) used", state)
    stamp = now.isoformat()
    new = replace(state, running=execution, started_at=stamp, last_started=stamp, day=today, runs_today=runs_today + 1)
    return Verdict(True, "lock acquired", new)


def release(state: GuardState, execution: str) -> Verdict:
    if state.running != execution:
        return Verdict(False, f"lock held by {state.running!r}, not {execution!r}; left as is", state)
    return Verdict(True, "lock released", replace(state, running=None, started_at=None))
