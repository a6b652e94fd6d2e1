"""Local SageMaker-style endpoint of the offline twin: HTTP serving, data capture, blue/green updates.

Typical use from the twin::

    from mlops.local.serving import BlueGreenPolicy, CaptureConfig, EndpointServer, TrafficRouting

    with EndpointServer.start(model_dir, capture=CaptureConfig(root=capture_dir)) as server:
        server.url                       # http://127.0.0.1:<port>
        deployment = server.endpoint.deploy(new_model_dir, BlueGreenPolicy(TrafficRouting(...)))
        result = deployment.wait(60)     # DeploymentResult(status=SUCCEEDED | ROLLED_BACK | FAILED, ...)
        server.endpoint.stats()          # [VariantStats(name, model_version, role, invocations, ...)]
"""

from mlops.local.serving.capture import CaptureConfig, DataCapture
from mlops.local.serving.deployment import Deployment, DeploymentResult, DeploymentStatus
from mlops.local.serving.endpoint import DeploymentInProgressError, Endpoint, InvocationResult
from mlops.local.serving.handler import ClientError, ModelHandler, ModelLoadError
from mlops.local.serving.metrics import VariantStats
from mlops.local.serving.policy import BlueGreenPolicy, ErrorAlarm, RoutingType, TrafficRouting
from mlops.local.serving.server import EndpointServer

__all__ = [
    "BlueGreenPolicy",
    "CaptureConfig",
    "ClientError",
    "DataCapture",
    "Deployment",
    "DeploymentInProgressError",
    "DeploymentResult",
    "DeploymentStatus",
    "Endpoint",
    "EndpointServer",
    "ErrorAlarm",
    "InvocationResult",
    "ModelHandler",
    "ModelLoadError",
    "RoutingType",
    "TrafficRouting",
    "VariantStats",
]
