"""SageMaker's validation of a blue/green traffic routing against the fleet it will run on.

"CanarySize ... Value must be less than or equal to 50% of the variant's total instance count"; "LinearStepSize
... must be 10-50%" (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_TrafficRoutingConfig.html).
A capacity percentage becomes whole instances, at least one. The twin applies this to the synthesized endpoint's
DeploymentConfig with the smallest fleet the stack allows (the scaling target's MinCapacity).
"""

from __future__ import annotations

import math
from typing import Any


def routing_problem(routing: dict[str, Any], instances: int) -> str | None:
    """Why SageMaker would not accept `routing` for a fleet of `instances`, or None."""
    kind = routing["Type"]
    if kind == "ALL_AT_ONCE":
        return None
    size = routing["CanarySize" if kind == "CANARY" else "LinearStepSize"]
    step = size["Value"] if size["Type"] == "INSTANCE_COUNT" else max(1, math.ceil(instances * size["Value"] / 100))
    if step * 2 > instances:
        return f"{kind} step of {step} instance(s) is more than 50% of a {instances}-instance fleet"
    return None
