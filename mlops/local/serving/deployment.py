"""A blue/green update of the local endpoint, following SageMaker's BlueGreenUpdatePolicy.

1. The green fleet is loaded and warmed while blue serves all traffic; if that fails, the update fails
   and blue is untouched.
2. Traffic shifts to green by the routing steps (canary: a share, bake, then all; linear: equal steps, each
   baked; all-at-once), each step baked for ``wait_interval_s``.
3. With all traffic on green, blue is kept for ``termination_wait_s`` (the final bake), then drained and
   retired.
4. Throughout 2-3 the error alarm is evaluated on green's counters; when it fires, all traffic returns to
   blue, green is drained and discarded, and the update ends ROLLED_BACK.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from mlops.local.serving.fleet import Fleet, Routing
from mlops.local.serving.policy import BlueGreenPolicy, ErrorAlarm

_DRAIN_TIMEOUT_S = 30.0


class DeploymentTarget(Protocol):
    """What a deployment needs of the endpoint it updates (mlops.local.serving.endpoint.Endpoint is one).

    A protocol, so that this module does not import the endpoint module that imports it."""

    closing: threading.Event

    @property
    def routing(self) -> Routing: ...

    def set_routing(self, routing: Routing) -> None: ...

    def load_fleet(self, model_dir: Path, warmup_rounds: int, inference_path: Path | None = None) -> Fleet: ...


class DeploymentStatus(StrEnum):
    IN_PROGRESS = "IN_PROGRESS"
    SUCCEEDED = "SUCCEEDED"
    ROLLED_BACK = "ROLLED_BACK"
    FAILED = "FAILED"


@dataclass
class DeploymentResult:
    status: DeploymentStatus
    model_version: str = ""
    reason: str = ""
    events: list[str] = field(default_factory=list)


class _Alarm(Exception):
    """Raised inside the bake loop when the error alarm fires."""


class Deployment:
    """Runs one update in a background thread; ``wait`` returns its :class:`DeploymentResult`."""

    def __init__(
        self, endpoint: DeploymentTarget, model_dir: Path, policy: BlueGreenPolicy, inference_path: Path | None = None
    ) -> None:
        # Validate the routing before anything loads, so a bad policy fails the call, not the thread.
        self._steps = policy.traffic_routing.steps()
        self.endpoint = endpoint
        self.model_dir = model_dir
        self.inference_path = inference_path
        self.policy = policy
        self.result = DeploymentResult(DeploymentStatus.IN_PROGRESS)
        self._started = time.monotonic()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="blue-green-deployment", daemon=True)

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def start(self) -> None:
        self._thread.start()

    def wait(self, timeout_s: float | None = None) -> DeploymentResult:
        self._done.wait(timeout_s)
        return self.result

    def _log(self, message: str) -> None:
        self.result.events.append(f"{time.monotonic() - self._started:7.3f}s {message}")

    def _run(self) -> None:
        try:
            self._execute()
        except Exception as exc:
            self._finish(DeploymentStatus.FAILED, f"{type(exc).__name__}: {exc}")
        finally:
            self._done.set()

    def _execute(self) -> None:
        blue = self.endpoint.routing.blue
        self._log(f"loading green from {self.model_dir}")
        try:
            green = self.endpoint.load_fleet(self.model_dir, self.policy.warmup_rounds, self.inference_path)
        except Exception as exc:
            self._finish(DeploymentStatus.FAILED, f"green fleet did not become healthy: {exc}")
            return
        self.result.model_version = green.model_version
        self._log(f"green {green.name} ({green.model_version}) warmed")
        try:
            for percent in self._steps:
                self.endpoint.set_routing(Routing(blue=blue, green=green, green_percent=percent))
                self._log(f"traffic {percent:g}% to green")
                if percent < 100.0:
                    self._bake(green, self.policy.traffic_routing.wait_interval_s)
            self._bake(green, self.policy.termination_wait_s)
        except _Alarm as alarm:
            self._roll_back(blue, green, str(alarm))
            return
        self.endpoint.set_routing(Routing(blue=green))
        green.role, blue.role = "blue", "retired"
        self._log(f"blue {blue.name} drained: {blue.drain(_DRAIN_TIMEOUT_S)}")
        self._finish(DeploymentStatus.SUCCEEDED, "all traffic on the new model")

    def _bake(self, green: Fleet, seconds: float) -> None:
        alarm = self.policy.alarm
        period = alarm.period_s if alarm else 0.05
        deadline = time.monotonic() + seconds
        while True:
            if alarm is not None:
                _evaluate(alarm, green)
            if self.endpoint.closing.is_set():
                raise _Alarm("endpoint is shutting down")
            if time.monotonic() - self._started > self.policy.max_execution_s:
                raise _Alarm(f"update exceeded {self.policy.max_execution_s:g}s")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self.endpoint.closing.wait(min(period, remaining))

    def _roll_back(self, blue: Fleet, green: Fleet, reason: str) -> None:
        self.endpoint.set_routing(Routing(blue=blue))
        green.role = "rolled-back"
        self._log(f"rollback: {reason}; all traffic to blue {blue.name}")
        self._log(f"green {green.name} drained: {green.drain(_DRAIN_TIMEOUT_S)}")
        self._finish(DeploymentStatus.ROLLED_BACK, reason)

    def _finish(self, status: DeploymentStatus, reason: str) -> None:
        self.result.status = status
        self.result.reason = reason
        self._log(f"{status.value}: {reason}")


def _evaluate(alarm: ErrorAlarm, green: Fleet) -> None:
    invocations, errors, _ = green.metrics.counts()
    if invocations >= alarm.min_invocations and errors / invocations > alarm.error_rate_threshold:
        raise _Alarm(
            f"error alarm: green error rate {errors}/{invocations} = {errors / invocations:.1%} "
            f"> {alarm.error_rate_threshold:.1%}"
        )
