"""The retraining guard: at most one retraining at a time, a cooldown between runs, a daily budget. Pure logic.

The state is one record (kept in DynamoDB by the handler). A lock older than the loop's timeout is stale (its
execution died without releasing), so it never blocks retraining for ever.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
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


def parse_time(stamp: Any) -> datetime | None:
    """An ISO 8601 time from the record (naive taken as UTC, as the handler writes UTC); None if unparseable."""
    if not isinstance(stamp, str):
        return None
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def acquire(state: GuardState, execution: str, now: datetime, limits: Limits) -> Verdict:
    if state.running == execution:
        return Verdict(True, "this execution already holds the lock", state)
    if state.running:
        if state.started_at is None:
            # No start time, no way to tell a live holder from a dead one: never take it (release it by hand).
            return Verdict(False, f"retraining {state.running} holds the lock (record has no started_at)", state)
        started = parse_time(state.started_at)
        # An unparseable start time cannot prove the holder alive: stale, like a lock past the timeout.
        if started is not None and now - started < limits.timeout:
            return Verdict(False, f"retraining {state.running} is still running", state)
    last = parse_time(state.last_started)
    if last is not None and now - last < limits.cooldown:
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
