"""Deployment policies mirroring SageMaker's ``DeploymentConfig``.

``BlueGreenUpdatePolicy`` with its ``TrafficRoutingConfiguration``, and ``AutoRollbackConfiguration``'s alarm.

Times are seconds as floats so tests can bake for fractions of a second; the field names follow the API
(``WaitIntervalInSeconds``, ``TerminationWaitInSeconds``, ``CanarySize``, ``LinearStepSize``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class RoutingType(StrEnum):
    ALL_AT_ONCE = "ALL_AT_ONCE"
    CANARY = "CANARY"
    LINEAR = "LINEAR"


@dataclass(frozen=True)
class TrafficRouting:
    """``TrafficRoutingConfiguration``: sizes are percentages of traffic (CAPACITY_PERCENT)."""

    type: RoutingType = RoutingType.CANARY
    wait_interval_s: float = 1.0
    canary_percent: float = 10.0
    linear_step_percent: float = 25.0

    def steps(self) -> list[float]:
        """Green traffic percentages in order; each but the last is followed by a bake of wait_interval_s."""
        if self.type is RoutingType.ALL_AT_ONCE:
            return [100.0]
        if self.type is RoutingType.CANARY:
            _check_percent("canary_percent", self.canary_percent)
            return [self.canary_percent, 100.0] if self.canary_percent < 100.0 else [100.0]
        _check_percent("linear_step_percent", self.linear_step_percent)
        shares, share = [], 0.0
        while share < 100.0:
            share = min(100.0, share + self.linear_step_percent)
            shares.append(share)
        return shares


@dataclass(frozen=True)
class ErrorAlarm:
    """The alarm that triggers automatic rollback: green's 5XX/model-error rate over its invocations.

    Evaluated every ``period_s`` while green takes traffic and until the termination bake ends; it needs at
    least ``min_invocations`` on green before it can fire, like an alarm's datapoints-to-alarm.
    """

    error_rate_threshold: float = 0.05
    min_invocations: int = 10
    period_s: float = 0.1


@dataclass(frozen=True)
class BlueGreenPolicy:
    traffic_routing: TrafficRouting = TrafficRouting()
    termination_wait_s: float = 1.0
    alarm: ErrorAlarm | None = ErrorAlarm()
    warmup_rounds: int = 3
    max_execution_s: float = 600.0


def _check_percent(name: str, value: float) -> None:
    if not 0.0 < value <= 100.0:
        raise ValueError(f"{name} must be within (0, 100], got {value}")
