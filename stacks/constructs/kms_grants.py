"""KMS grants that hold only when the key is used through one AWS service on the caller's behalf."""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms

# What a producer needs to write to a KMS-encrypted SNS topic or SQS queue: the service asks KMS for a data key and
# decrypts it again (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html,
# https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-key-management.html).
PRODUCER_ACTIONS = ["kms:Decrypt", "kms:GenerateDataKey*"]


def kms_via_service_statement(key: kms.IKey, service: str, region: str) -> iam.PolicyStatement:
    """Allow `PRODUCER_ACTIONS` on `key` only in requests `service` makes for the principal (kms:ViaService,
    https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-via-service)."""
    return iam.PolicyStatement(
        actions=PRODUCER_ACTIONS,
        resources=[key.key_arn],
        conditions={"StringEquals": {"kms:ViaService": f"{service}.{region}.amazonaws.com"}},
    )
