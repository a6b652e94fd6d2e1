"""Which model package an endpoint actually serves, read from SageMaker itself (not from the desired state).

After a blue/green update that SageMaker rolled back on its alarms, the endpoint is InService on its old
EndpointConfig ("all traffic returns to the blue fleet",
https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-blue-green.html), while the stack and the
desired-state parameter may name the new package. What serves is: DescribeEndpoint -> EndpointConfigName ->
DescribeEndpointConfig -> the variant's ModelName -> DescribeModel -> the container's ModelPackageName.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError


@dataclass(frozen=True)
class LiveEndpoint:
    endpoint_config_name: str
    model_name: str
    package_arn: str  # "" when the model is not built from a model package (e.g. a multi-model container)


def live_endpoint(sagemaker: Any, endpoint_name: str) -> LiveEndpoint | None:
    """The endpoint's live config, model and package; None when the endpoint does not exist (yet)."""
    try:
        endpoint = sagemaker.describe_endpoint(EndpointName=endpoint_name)
    except ClientError as exc:
        # SageMaker answers a missing endpoint with ValidationException "Could not find endpoint ...".
        if exc.response["Error"]["Code"] == "ValidationException" and "Could not find" in str(exc):
            return None
        raise
    config_name = str(endpoint["EndpointConfigName"])
    variants = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)["ProductionVariants"]
    model_name = str(variants[0]["ModelName"])
    model = sagemaker.describe_model(ModelName=model_name)
    containers = [*(model.get("Containers") or []), model.get("PrimaryContainer") or {}]
    package = next((str(c["ModelPackageName"]) for c in containers if c.get("ModelPackageName")), "")
    return LiveEndpoint(config_name, model_name, package)
