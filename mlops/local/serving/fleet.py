"""A fleet is one loaded model version of the production variant, with its own counters.

During a blue/green update the variant has two fleets: blue (the current model) and green (the new one).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from mlops.local.serving.handler import ModelHandler
from mlops.local.serving.metrics import VariantMetrics


class Fleet:
    def __init__(self, name: str, handler: ModelHandler) -> None:
        self.name = name
        self.handler = handler
        self.metrics = VariantMetrics()
        # blue | green | retired | rolled-back: what the twin reports next to the counters.
        self.role = "green"

    @property
    def model_version(self) -> str:
        return self.handler.model_version

    def drain(self, timeout_s: float) -> bool:
        """Wait until no request is inside this fleet; True when drained."""
        deadline = time.monotonic() + timeout_s
        while self.metrics.counts()[2] > 0:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True


@dataclass(frozen=True)
class Routing:
    """Immutable traffic split, swapped as a whole so each request sees one consistent split."""

    blue: Fleet
    green: Fleet | None = None
    green_percent: float = 0.0
