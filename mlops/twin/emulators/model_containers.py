"""Where the twin learns a model's container definition: the synthesized templates and the API calls made.

- A package's container (image, artifact, environment) is what the pipeline's RegisterModel step records; the twin's
  registry registers it with that step's environment, read from the synthesized definition.
- A model that names a package runs that package's containers (CreateModel ``ModelPackageName``: "the model package
  to use to create the model"), with the model's own network isolation.
- moto's CreateModel keeps neither ``EnableNetworkIsolation`` nor the containers' ``Environment``, so the twin reads
  them from the request itself (:class:`ModelRequests`, on the aws_rules interception seam) or from the template.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from mlops.aws_rules.interception import ApiCall
from mlops.local.serving.framework_container import ContainerDefinition
from mlops.twin.cloud import TwinCloud


def register_environment(definition: Mapping[str, Any]) -> dict[str, str]:
    """The container environment of the (resolved) pipeline definition's RegisterModel step."""
    registers = [s for s in _steps(definition.get("Steps", [])) if s.get("Type") == "RegisterModel"]
    if len(registers) != 1:
        raise ValueError(f"pipeline definition: expected one RegisterModel step, found {len(registers)}")
    (container,) = registers[0]["Arguments"]["InferenceSpecification"]["Containers"]
    return {str(k): str(v) for k, v in container.get("Environment", {}).items()}


def _steps(steps: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    found: list[Mapping[str, Any]] = []
    for step in steps:
        found.append(step)
        arguments = step.get("Arguments", {})
        found.extend(_steps([*arguments.get("IfSteps", []), *arguments.get("ElseSteps", [])]))
    return found


def serving_model(cloud: TwinCloud) -> tuple[bool, dict[str, str]]:
    """The serving stack's model: its network isolation and its container's own environment (resolved)."""
    stack, _ = cloud.assembly.stack("-serving")
    models = list(cloud.assembly.resources(stack, "AWS::SageMaker::Model").values())
    if len(models) != 1:
        raise ValueError(f"{stack}: expected one AWS::SageMaker::Model, found {len(models)}")
    props = models[0]["Properties"]
    containers = [c for c in [props.get("PrimaryContainer"), *props.get("Containers", [])] if c]
    environment = cloud.resolver.resolve(stack, containers[0].get("Environment", {})) if containers else {}
    return bool(props.get("EnableNetworkIsolation", False)), {str(k): str(v) for k, v in environment.items()}


def package_container(
    sagemaker: Any, package_arn: str, network_isolation: bool, environment: Mapping[str, str] | None = None
) -> ContainerDefinition:
    """A model that names ``package_arn``: the package's artifact and environment; ``environment`` is the
    model container's own (none of this project's package-backed models sets one)."""
    package = sagemaker.describe_model_package(ModelPackageName=package_arn)
    container = package["InferenceSpecification"]["Containers"][0]
    return ContainerDefinition(
        model_name=package_arn,
        model_data_url=str(container["ModelDataUrl"]),
        environment={**container.get("Environment", {}), **(environment or {})},
        network_isolation=network_isolation,
    )


def download(s3: Any, uri: str, path: Path) -> None:
    """An s3:// object to a local file."""
    url = urlparse(uri)
    s3.download_file(url.netloc, url.path.lstrip("/"), str(path))


class ModelRequests:
    """The CreateModel requests made in this process, by model name (a check that records and never refuses)."""

    def __init__(self) -> None:
        self._requests: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def record(self, call: ApiCall) -> None:
        if call.service == "sagemaker" and call.operation_name == "CreateModel":
            with self._lock:
                self._requests.setdefault(str(call.params["ModelName"]), dict(call.params))

    def container(self, sagemaker: Any, model_name: str) -> ContainerDefinition:
        """The container the model runs (its first, or its package's), with the model's network isolation."""
        with self._lock:
            request = self._requests.get(model_name)
        if request is None:
            raise KeyError(f"model {model_name}: no CreateModel request was made in this twin")
        isolated = bool(request.get("EnableNetworkIsolation", False))
        container = request.get("PrimaryContainer") or request.get("Containers", [{}])[0]
        if "ModelPackageName" in container:
            definition = package_container(
                sagemaker, container["ModelPackageName"], isolated, container.get("Environment")
            )
            return ContainerDefinition(
                model_name, definition.model_data_url, definition.environment, definition.network_isolation
            )
        return ContainerDefinition(
            model_name, str(container.get("ModelDataUrl", "")), dict(container.get("Environment", {})), isolated
        )
