"""moto's UpdateModelPackage, made to keep a package's metadata as AWS does (the deploy function reads it), and its
DynamoDB writes, made atomic as DynamoDB's are (the retraining guard's lock relies on it)."""

from __future__ import annotations

import threading
import time
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.dynamodb.models.table import Table

from mlops.moto_fixes import atomic_dynamodb_writes, aws_model_package_updates


def _approve_and_describe() -> dict[str, str] | None:
    sagemaker = boto3.client("sagemaker", region_name="us-east-1")
    sagemaker.create_model_package_group(ModelPackageGroupName="g")
    arn = sagemaker.create_model_package(
        ModelPackageGroupName="g",
        InferenceSpecification={"Containers": [{"Image": "i"}], "SupportedContentTypes": ["text/csv"],
                                "SupportedResponseMIMETypes": ["text/csv"]},
        CustomerMetadataProperties={"lineage_complete": "true"},
    )["ModelPackageArn"]  # fmt: skip
    sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
    sagemaker.update_model_package(ModelPackageArn=arn, CustomerMetadataProperties={"reviewer": "me"})
    return sagemaker.describe_model_package(ModelPackageName=arn).get("CustomerMetadataProperties")


def test_approval_keeps_the_metadata_and_updates_merge() -> None:
    with mock_aws(), aws_model_package_updates():
        assert _approve_and_describe() == {"lineage_complete": "true", "reviewer": "me"}


def test_the_patch_is_scoped() -> None:
    # Without it, moto drops the metadata: the reason for the patch (if moto fixes this, drop mlops/moto_fixes.py).
    with mock_aws():
        assert _approve_and_describe() == {"reviewer": "me"}


def _two_conditional_puts_at_once(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Two threads put the same key with `attribute_not_exists`; moto's read of the current item (before it checks
    the condition and writes) is slowed so that both requests are between read and write together."""
    table = boto3.resource("dynamodb", region_name="us-east-1").create_table(
        TableName="lock", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
    )  # fmt: skip
    get_item = Table.get_item

    def slow_get_item(self: Any, *args: Any, **kwargs: Any) -> Any:
        current = get_item(self, *args, **kwargs)
        time.sleep(0.2)
        return current

    monkeypatch.setattr(Table, "get_item", slow_get_item)
    won: list[bool] = []
    barrier = threading.Barrier(2)

    def put(owner: str) -> None:
        barrier.wait()
        try:
            table.put_item(Item={"pk": "lock", "owner": owner}, ConditionExpression="attribute_not_exists(pk)")
            won.append(True)
        except table.meta.client.exceptions.ConditionalCheckFailedException:
            won.append(False)

    threads = [threading.Thread(target=put, args=(owner,)) for owner in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(won)


def test_a_conditional_write_checks_and_writes_as_one_step(monkeypatch: pytest.MonkeyPatch) -> None:
    with mock_aws(), atomic_dynamodb_writes():
        assert _two_conditional_puts_at_once(monkeypatch) == [False, True]


def test_without_it_both_conditional_writes_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    # The reason for the patch: if moto ever serializes its writes, this fails and the patch can go.
    with mock_aws():
        assert _two_conditional_puts_at_once(monkeypatch) == [True, True]
