"""Where a serving function's asynchronous invocations go when they still fail after Lambda's retries."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.constructs.python_handler import PythonHandler


def failure_queue(scope: Construct, handler: PythonHandler, construct_id: str, what: str) -> sqs.Queue:
    """An encrypted queue that keeps, for 14 days, the asynchronous invocations of `handler` that still fail
    after Lambda's 2 retries or 6 h (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html)."""
    queue = sqs.Queue(
        scope,
        construct_id,
        enforce_ssl=True,
        encryption=sqs.QueueEncryption.KMS_MANAGED,
        retention_period=cdk.Duration.days(14),
    )
    cdk.Validations.of(queue).acknowledge(
        cdk.Acknowledgment(id="AwsSolutions-SQS3", reason=f"This queue is itself {what}.")
    )
    handler.function.configure_async_invoke(
        retry_attempts=2, max_event_age=cdk.Duration.hours(6), on_failure=destinations.SqsDestination(queue)
    )
    return queue
