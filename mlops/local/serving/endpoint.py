"""The local endpoint: fleets of one production variant, request routing, and blue/green deployments.

Design for "zero failed requests" with "rollback on the error alarm": a request routed to the green fleet
that fails with a model error (5XX) is counted against green, which is what the rollback alarm reads, and is
then re-served from blue, so the client still gets a prediction. Client errors (4XX) are never re-served: the
payload is at fault and blue would reject it too. A request only fails if blue itself fails.

Routing reads one immutable snapshot per request, so a traffic shift never changes the fleets a request is
between; a fleet leaves the routing only after its in-flight requests have finished.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from mlops.local.serving.capture import CaptureConfig, DataCapture
from mlops.local.serving.deployment import Deployment
from mlops.local.serving.fleet import Fleet, Routing
from mlops.local.serving.handler import INFERENCE_PATH, ClientError, ModelHandler
from mlops.local.serving.metrics import VariantStats
from mlops.local.serving.policy import BlueGreenPolicy

_HISTORY = 10


class DeploymentInProgressError(Exception):
    """A second deployment was started before the first finished."""


@dataclass(frozen=True)
class InvocationResult:
    status: int
    body: bytes
    content_type: str
    fleet: str
    model_version: str
    reserved_from_green: bool = False


class Endpoint:
    """A production variant served locally; thread-safe for concurrent ``invoke`` calls."""

    def __init__(
        self,
        model_dir: Path,
        name: str = "local-endpoint",
        variant_name: str = "AllTraffic",
        capture: CaptureConfig | None = None,
        inference_path: Path = INFERENCE_PATH,
        warmup_rounds: int = 3,
    ) -> None:
        self.name = name
        self.variant_name = variant_name
        self.inference_path = inference_path
        self._generation = itertools.count(1)
        self._requests = itertools.count(1)
        self._history: deque[Fleet] = deque(maxlen=_HISTORY)
        self._deploy_lock = threading.Lock()
        self._deployment: Deployment | None = None
        self.closing = threading.Event()
        blue = self.load_fleet(Path(model_dir), warmup_rounds)
        blue.role = "blue"
        self._routing = Routing(blue=blue)
        self.capture = DataCapture(capture) if capture else None

    # -- fleets and routing -------------------------------------------------------------------------------
    def load_fleet(self, model_dir: Path, warmup_rounds: int, inference_path: Path | None = None) -> Fleet:
        """Load and warm a model before it takes traffic (SageMaker's green fleet passing health checks).

        ``inference_path``: the model's own serving code (framework_container); the endpoint's by default.
        """
        handler = ModelHandler(model_dir, inference_path or self.inference_path)
        handler.warm_up(warmup_rounds)
        fleet = Fleet(f"{self.variant_name}-{next(self._generation)}", handler)
        self._history.append(fleet)
        return fleet

    @property
    def routing(self) -> Routing:
        return self._routing

    def set_routing(self, routing: Routing) -> None:
        # One attribute store: requests see the old or the new snapshot, never a mix.
        self._routing = routing

    @property
    def model_version(self) -> str:
        return self._routing.blue.model_version

    # -- requests -----------------------------------------------------------------------------------------
    def invoke(self, body: bytes, content_type: str, accept: str) -> InvocationResult:
        routing = self._routing
        fleet = routing.blue
        if routing.green is not None and self._to_green(routing.green_percent):
            fleet = routing.green
        result = self._serve(fleet, body, content_type, accept)
        if result.status >= 500 and fleet is routing.green:
            retry = self._serve(routing.blue, body, content_type, accept)
            result = InvocationResult(
                retry.status, retry.body, retry.content_type, retry.fleet, retry.model_version, True
            )
        if result.status == 200 and self.capture is not None:
            self.capture.offer(body, content_type, result.body, result.content_type)
        return result

    def _to_green(self, percent: float) -> bool:
        # Deterministic share: request n goes green when floor(n*p/100) steps up, so any window of
        # 100/p requests holds one green request; smoother than random for short bakes.
        n = next(self._requests)
        return (n * percent) // 100 != ((n - 1) * percent) // 100

    def _serve(self, fleet: Fleet, body: bytes, content_type: str, accept: str) -> InvocationResult:
        fleet.metrics.begin()
        start = time.perf_counter()
        status = 500
        try:
            response = fleet.handler.invoke(body, content_type, accept)
            status = 200
            return InvocationResult(200, response.body, response.content_type, fleet.name, fleet.model_version)
        except ClientError as exc:
            status = exc.status
            return _error(status, "ClientError", exc.message, fleet)
        except Exception as exc:
            return _error(500, "ModelError", f"{type(exc).__name__}: {exc}", fleet)
        finally:
            fleet.metrics.end(time.perf_counter() - start, status)

    # -- deployments and counters -------------------------------------------------------------------------
    def deploy(
        self, model_dir: Path, policy: BlueGreenPolicy | None = None, inference_path: Path | None = None
    ) -> Deployment:
        """Start a blue/green deployment of ``model_dir`` in the background; see :class:`Deployment`."""
        with self._deploy_lock:
            current = self._deployment
            if current is not None and not current.done:
                raise DeploymentInProgressError(f"a deployment to {self.name} is already in progress")
            deployment = Deployment(self, Path(model_dir), policy or BlueGreenPolicy(), inference_path)
            self._deployment = deployment
        deployment.start()
        return deployment

    def stats(self) -> list[VariantStats]:
        """Counters of the live fleets and of recently retired or rolled-back ones, oldest first."""
        routing = self._routing
        result = []
        for fleet in list(self._history):
            if fleet is routing.blue:
                share = 100.0 - (routing.green_percent if routing.green is not None else 0.0)
            elif fleet is routing.green:
                share = routing.green_percent
            else:
                share = 0.0
            result.append(fleet.metrics.snapshot(fleet.name, fleet.model_version, fleet.role, share))
        return result

    def close(self) -> None:
        self.closing.set()
        if self._deployment is not None:
            self._deployment.wait(10.0)
        if self.capture is not None:
            self.capture.close()


def _error(status: int, kind: str, message: str, fleet: Fleet) -> InvocationResult:
    body = json.dumps({"error": kind, "message": message}).encode("utf-8")
    return InvocationResult(status, body, "application/json", fleet.name, fleet.model_version)
