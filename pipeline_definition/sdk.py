"""The SageMaker SDK, offline: a pipeline session that only shapes requests, and its config validated once."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import boto3
import sagemaker.utils
from sagemaker.config.config import validate_sagemaker_config
from sagemaker.workflow.pipeline_context import PipelineSession

from pipeline_definition.spec import PipelineSpec

# The SDK's telemetry calls out to the network from inside definition(); opt out through its own config.
SDK_CONFIG = {"SchemaVersion": "1.0", "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}}}


def offline_session(spec: PipelineSpec) -> PipelineSession:
    """No credentials are needed or used: the session only shapes requests, nothing is sent."""
    boto = boto3.Session(region_name=spec.region, aws_access_key_id="offline", aws_secret_access_key="offline")
    return PipelineSession(boto_session=boto, default_bucket="unused-offline", sagemaker_config=SDK_CONFIG)


@contextlib.contextmanager
def config_validated_once(config: dict[str, Any] = SDK_CONFIG) -> Iterator[None]:
    """Validate our SDK config once, not on each of the ~60 look-ups the SDK makes (5 s of JSON-schema work).

    The SDK re-validates the whole config on every value it reads; for this one constant dict, which is validated
    here first, the repeats are skipped.
    """
    validate_sagemaker_config(config)
    original = sagemaker.utils.validate_sagemaker_config

    def validate(candidate: Any = None) -> Any:
        return None if candidate == config else original(candidate)

    sagemaker.utils.validate_sagemaker_config = validate
    try:
        yield
    finally:
        sagemaker.utils.validate_sagemaker_config = original
