"""The service-model check (mlops/aws_rules/service_model.py) on real botocore shapes, through real boto3 calls."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ParamValidationError
from moto import mock_aws

from mlops.aws_rules.interception import enforcing
from mlops.aws_rules.service_model import check_service_model, java_to_python, validation_errors

GROUP = "models"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/sklearn:1.2-1"
METADATA_PATTERN = r"([\p{L}\p{Z}\p{N}_.:\/=+\-@]*)${1,256}"


@pytest.fixture()
def sagemaker() -> Iterator[Any]:
    """A SageMaker client on moto with a package group; the suite's autouse fixture enforces the check."""
    with mock_aws():
        client = boto3.client("sagemaker", region_name="us-east-1")
        client.create_model_package_group(ModelPackageGroupName=GROUP)
        yield client


def _package(sagemaker: Any, **request: Any) -> Any:
    containers = [{"Image": IMAGE, "ModelDataUrl": "s3://bucket/model.tar.gz"}]
    spec = {"Containers": containers, "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]}
    return sagemaker.create_model_package(**{"ModelPackageGroupName": GROUP, "InferenceSpecification": spec, **request})


def _message(raised: pytest.ExceptionInfo[ClientError]) -> str:
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return str(raised.value.response["Error"]["Message"])


def test_a_metadata_value_with_json_in_it_is_refused_naming_the_field(sagemaker: Any) -> None:
    with pytest.raises(ClientError) as raised:
        _package(sagemaker, CustomerMetadataProperties={"hyperparameters": '{"C":1.0,"max_iter":100}'})
    assert _message(raised) == (
        '1 validation error detected: Value \'{"C":1.0,"max_iter":100}\' at \'CustomerMetadataProperties.'
        f"hyperparameters' failed to satisfy constraint: Member must satisfy regular expression pattern: "
        f"{METADATA_PATTERN}"
    )
    assert not sagemaker.list_model_packages(ModelPackageGroupName=GROUP)["ModelPackageSummaryList"]


def test_unicode_letters_digits_and_spaces_fit_the_pattern_punctuation_does_not(sagemaker: Any) -> None:
    # \p{L}, \p{N}, \p{Z}: any script's letters and digits, any space separator (U+00A0 here).
    _package(sagemaker, CustomerMetadataProperties={"owner": "Zürich 東京 ٣\u00a0a_b.c:d/e=f+g-h@i"})
    for bad in ("a,b", "tab\there", "new\nline", "(x)"):
        with pytest.raises(ClientError) as raised:
            _package(sagemaker, CustomerMetadataProperties={"owner": bad})
        assert "at 'CustomerMetadataProperties.owner'" in _message(raised)


def test_lengths_of_strings_and_maps_are_bounded(sagemaker: Any) -> None:
    _package(sagemaker, CustomerMetadataProperties={"k" * 128: "v" * 256})
    with pytest.raises(ClientError) as raised:
        _package(sagemaker, CustomerMetadataProperties={"k": "v" * 257})
    assert "Member must have length less than or equal to 256" in _message(raised)
    with pytest.raises(ClientError) as raised:
        _package(sagemaker, CustomerMetadataProperties={"k" * 129: "v"})
    message = _message(raised)
    assert f"Value '{'k' * 129}' at 'CustomerMetadataProperties' failed to satisfy constraint: Map keys" in message
    with pytest.raises(ClientError) as raised:  # CustomerMetadataMap: at most 50 entries
        _package(sagemaker, CustomerMetadataProperties={f"k{i}": "v" for i in range(51)})
    assert "at 'CustomerMetadataProperties' failed to satisfy constraint: Member must have length less than or " \
        "equal to 50" in _message(raised)  # fmt: skip


def test_enum_values_are_enforced(sagemaker: Any) -> None:
    with pytest.raises(ClientError) as raised:
        _package(sagemaker, ModelApprovalStatus="Maybe")
    assert _message(raised).endswith(
        "at 'ModelApprovalStatus' failed to satisfy constraint: Member must satisfy enum value set: "
        "[Approved, PendingManualApproval, Rejected]"
    )


def test_nested_list_members_are_named_by_their_path_and_list_sizes_are_bounded(sagemaker: Any) -> None:
    containers = [{"Image": "an image with spaces", "ModelDataUrl": "s3://bucket/model.tar.gz"}]
    spec = {"Containers": containers, "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["a"]}
    with pytest.raises(ClientError) as raised:
        sagemaker.create_model_package(ModelPackageGroupName=GROUP, InferenceSpecification=spec)
    assert "at 'InferenceSpecification.Containers[0].Image' failed to satisfy constraint: Member must satisfy " \
        r"regular expression pattern: [\S]+" in _message(raised)  # fmt: skip
    spec["Containers"] = [{"Image": IMAGE}] * 16  # ModelPackageContainerDefinitionList: 1 to 15
    with pytest.raises(ClientError) as raised:
        sagemaker.create_model_package(ModelPackageGroupName=GROUP, InferenceSpecification=spec)
    assert "at 'InferenceSpecification.Containers' failed to satisfy constraint: Member must have length less " \
        "than or equal to 15" in _message(raised)  # fmt: skip


def test_several_violations_are_reported_together(sagemaker: Any) -> None:
    with pytest.raises(ClientError) as raised:
        _package(sagemaker, ModelApprovalStatus="Maybe", CustomerMetadataProperties={"a": "b,c"})
    assert _message(raised).startswith("2 validation errors detected: Value 'Maybe' at 'ModelApprovalStatus'")


def test_integer_maximum_is_enforced_and_the_minimum_is_left_to_botocore(sagemaker: Any) -> None:
    with pytest.raises(ClientError) as raised:
        sagemaker.list_model_packages(ModelPackageGroupName=GROUP, MaxResults=101)
    assert _message(raised).endswith("at 'MaxResults' failed to satisfy constraint: Member must have value less "
                                     "than or equal to 100")  # fmt: skip
    # botocore checks `min` itself before sending: the real client's error, not a made-up one.
    with pytest.raises(ParamValidationError):
        sagemaker.list_model_packages(ModelPackageGroupName=GROUP, MaxResults=0)
    # A client that skips botocore's validation meets the server's instead.
    unvalidated = boto3.client("sagemaker", region_name="us-east-1", config=Config(parameter_validation=False))
    with pytest.raises(ClientError) as raised:
        unvalidated.list_model_packages(ModelPackageGroupName=GROUP, MaxResults=0)
    assert "Member must have value greater than or equal to 1" in _message(raised)


def test_values_that_are_not_concrete_are_not_judged() -> None:
    """A SageMaker pipeline's Register step holds placeholders (JsonGet, Parameters) where strings will be: the
    constraints apply to the values they resolve to, which the local pipeline's registration sends for real."""
    model = botocore.session.get_session().get_service_model("sagemaker")
    shape = model.operation_model("CreateModelPackage").input_shape
    placeholder = {"Std:JsonGet": {"PropertyFile": {"Get": "Steps.Governance.PropertyFiles.M"}, "Path": "x"}}
    arguments = {
        "ModelPackageGroupName": GROUP,
        "ModelApprovalStatus": {"Get": "Parameters.ModelApprovalStatus"},
        "CustomerMetadataProperties": {"lineage_complete": placeholder, "owner": "a,b"},
    }
    errors = validation_errors(shape, arguments, (model.service_name, model.api_version))
    assert errors == [
        "Value 'a,b' at 'CustomerMetadataProperties.owner' failed to satisfy constraint: Member must satisfy "
        f"regular expression pattern: {METADATA_PATTERN}"
    ]


def test_java_supplementary_code_points_are_translated() -> None:
    # Lambda's and DynamoDB's patterns spell U+10000..U+10FFFF as a surrogate-pair range.
    java = r"[\u0020-\uD7FF\uE000-\uFFFD\uD800\uDC00-\uDBFF\uDFFF\t]*"
    assert java_to_python(java) == r"[\u0020-\uD7FF\uE000-\uFFFD\U00010000-\U0010FFFF\t]*"
    assert java_to_python(r"[\x{60}]") == r"[\U00000060]"


def test_the_test_suite_enforces_the_check_on_every_call() -> None:
    """The autouse fixture in tests/conftest.py: a bad request fails in any test, with no setup of its own."""
    with mock_aws():
        ssm = boto3.client("ssm", region_name="us-east-1")
        with pytest.raises(ClientError) as raised:  # ParameterName: at most 2048 characters
            ssm.put_parameter(Name="/x/" + "n" * 2100, Value="v", Type="String")
        assert "Member must have length less than or equal to 2048" in _message(raised)


def test_the_check_is_applied_once_when_enforced_twice(sagemaker: Any) -> None:
    seen: list[str] = []

    def record(call: Any) -> None:
        seen.append(call.operation_name)

    with enforcing(record, check_service_model), enforcing(record):
        sagemaker.list_model_package_groups()
    assert seen == ["ListModelPackageGroups"]
