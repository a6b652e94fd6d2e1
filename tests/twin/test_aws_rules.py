"""The twin and the local pipeline's registry enforce AWS's server-side rules themselves, not only under the tests'
autouse fixture (these tests run without it), so `mlops demo` and `mlops pipeline run` refuse what AWS refuses."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from mlops.local.registry import LocalRegistry
from mlops.twin.cloud import TwinCloud
from mlops.twin.templates import Assembly
from tests.conftest import Synthesized

# ModelPackageGroupName: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62} in the SageMaker service model; moto takes any name.
BAD_NAME = "models, v2"


def _create_group(region: str) -> None:
    boto3.client("sagemaker", region_name=region).create_model_package_group(ModelPackageGroupName=BAD_NAME)


@pytest.mark.without_aws_rules
def test_moto_alone_accepts_the_bad_request() -> None:
    """The premise: without the check, nothing refuses it (so the tests below can fail)."""
    with mock_aws():
        _create_group("us-east-1")


@pytest.mark.without_aws_rules
def test_the_twin_refuses_what_aws_refuses(twin_assembly: Synthesized) -> None:
    twin = TwinCloud(Assembly.load(twin_assembly.outdir))
    with twin.running(), pytest.raises(ClientError) as raised:
        _create_group(twin.region)
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert f"Value '{BAD_NAME}' at 'ModelPackageGroupName'" in raised.value.response["Error"]["Message"]


@pytest.mark.without_aws_rules
def test_the_local_registry_refuses_what_aws_refuses() -> None:
    with LocalRegistry("us-east-1", "111111111111"), pytest.raises(ClientError) as raised:
        _create_group("us-east-1")
    assert raised.value.response["Error"]["Code"] == "ValidationException"
