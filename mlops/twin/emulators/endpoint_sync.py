"""Plays CloudFormation's part for the serving stack: the local endpoint serves the desired model package.

In AWS, the deploy function writes the desired package to SSM and updates the serving stack; CloudFormation then
updates the endpoint blue/green. Offline, `sync()` reads the same SSM parameter, fetches the package's model
artifact from (moto's) S3, starts it as the framework container would (the package's SAGEMAKER_PROGRAM and
SAGEMAKER_SUBMIT_DIRECTORY, the serving model's network isolation: mlops.local.serving.framework_container) and performs
the local endpoint's blue/green deployment; a rollback is reported the way CloudFormation would report it (an
UPDATE_ROLLBACK_COMPLETE stack event for the deploy function). A package whose container cannot start fails the
first start ("failed": CloudFormation's create fails on the endpoint's health check) or rolls the update back.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contracts import events as ev
from contracts.sentinels import NONE as NO_MODEL
from mlops.local.serving import BlueGreenPolicy, CaptureConfig, EndpointServer
from mlops.local.serving.deployment import DeploymentStatus
from mlops.local.serving.framework_container import ContainerStartError, StartedContainer, start_container
from mlops.local.serving.handler import ModelLoadError
from mlops.twin.cloud import TwinCloud
from mlops.twin.emulators.model_containers import download, package_container, serving_model


@dataclass(frozen=True)
class SyncResult:
    action: str  # "unchanged" | "started" | "deployed" | "rolled_back" | "no_model" | "failed"
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
        try:
            container = self._fetch(desired)
        except ContainerStartError as exc:
            if self.server is None:
                return self._record(SyncResult("failed", desired, str(exc)))
            return self._record(SyncResult("rolled_back", self.served, f"green fleet did not become healthy: {exc}"))
        if self.server is None:
            try:
                self.server = EndpointServer.start(
                    container.model_dir, port=0, capture=self.capture, inference_path=container.program
                )
            except ModelLoadError as exc:
                return self._record(SyncResult("failed", desired, str(exc)))
            self.served = desired
            return self._record(SyncResult("started", desired))
        deployment = self.server.endpoint.deploy(container.model_dir, self.policy, container.program)
        result = deployment.wait(timeout_s)
        if result.status is DeploymentStatus.SUCCEEDED:
            self.served = desired
            return self._record(SyncResult("deployed", desired, result.reason or ""))
        return self._record(SyncResult("rolled_back", self.served, result.reason or str(result.status)))

    def rollback_event(self) -> dict[str, Any]:
        """The stack event CloudFormation emits after a rolled-back update (the deploy function resets SSM)."""
        return {
            ev.SOURCE: ev.CLOUDFORMATION,
            ev.DETAIL_TYPE: ev.STACK_STATUS_CHANGE,
            ev.DETAIL: {ev.STATUS_DETAILS: {ev.STATUS: ev.UPDATE_ROLLBACK_COMPLETE}},
        }

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def _fetch(self, package_arn: str) -> StartedContainer:
        isolated, environment = serving_model(self.cloud)
        definition = package_container(self.cloud.client("sagemaker"), package_arn, isolated, environment)
        target = self._models / package_arn.rsplit("/", 1)[-1]
        target.mkdir(parents=True, exist_ok=True)
        archive = target / "model.tar.gz"
        s3 = self.cloud.client("s3")
        download(s3, definition.model_data_url, archive)
        return start_container(definition, archive, target, lambda uri, path: download(s3, uri, path))

    def _record(self, result: SyncResult) -> SyncResult:
        self.history.append(result)
        return result
