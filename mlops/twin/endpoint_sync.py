"""Plays CloudFormation's part for the serving stack: the local endpoint serves the desired model package.

In AWS, the deploy function writes the desired package to SSM and updates the serving stack; CloudFormation then
updates the endpoint blue/green. Offline, `sync()` reads the same SSM parameter, fetches the package's model
artifact from (moto's) S3 and performs the local endpoint's blue/green deployment; a rollback is reported the way
CloudFormation would report it (an UPDATE_ROLLBACK_COMPLETE stack event for the deploy function).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from mlops.serving import BlueGreenPolicy, CaptureConfig, EndpointServer
from mlops.serving.deployment import DeploymentStatus
from mlops.twin.cloud import TwinCloud
from pipeline_code.common import safe_extract

NO_MODEL = "none"


@dataclass(frozen=True)
class SyncResult:
    action: str  # "unchanged" | "started" | "deployed" | "rolled_back" | "no_model"
    package_arn: str
    detail: str = ""


class EndpointSync:
    def __init__(self, cloud: TwinCloud, parameter: str, capture: CaptureConfig, policy: BlueGreenPolicy) -> None:
        self.cloud = cloud
        self.parameter = parameter
        self.capture = capture
        self.policy = policy
        self.server: EndpointServer | None = None
        self.served = NO_MODEL
        self.history: list[SyncResult] = []
        self._models = Path(tempfile.mkdtemp(prefix="mlops-twin-models-"))

    def desired(self) -> str:
        return str(self.cloud.client("ssm").get_parameter(Name=self.parameter)["Parameter"]["Value"])

    def sync(self, timeout_s: float = 120) -> SyncResult:
        desired = self.desired()
        if desired == self.served:
            return self._record(SyncResult("unchanged", desired))
        if desired == NO_MODEL:
            return self._record(SyncResult("no_model", desired, "no approved package yet"))
        model_dir = self._fetch(desired)
        if self.server is None:
            self.server = EndpointServer.start(model_dir, port=0, capture=self.capture)
            self.served = desired
            return self._record(SyncResult("started", desired))
        result = self.server.endpoint.deploy(model_dir, self.policy).wait(timeout_s)
        if result.status is DeploymentStatus.SUCCEEDED:
            self.served = desired
            return self._record(SyncResult("deployed", desired, result.reason or ""))
        return self._record(SyncResult("rolled_back", self.served, result.reason or str(result.status)))

    def rollback_event(self) -> dict[str, Any]:
        """The stack event CloudFormation emits after a rolled-back update (the deploy function resets SSM)."""
        return {
            "source": "aws.cloudformation",
            "detail-type": "CloudFormation Stack Status Change",
            "detail": {"status-details": {"status": "UPDATE_ROLLBACK_COMPLETE"}},
        }

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def _fetch(self, package_arn: str) -> Path:
        package = self.cloud.client("sagemaker").describe_model_package(ModelPackageName=package_arn)
        url = urlparse(package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"])
        target = self._models / package_arn.rsplit("/", 1)[-1]
        target.mkdir(parents=True, exist_ok=True)
        archive = target / "model.tar.gz"
        self.cloud.client("s3").download_file(url.netloc, url.path.lstrip("/"), str(archive))
        safe_extract(archive, target)
        return target

    def _record(self, result: SyncResult) -> SyncResult:
        self.history.append(result)
        return result
