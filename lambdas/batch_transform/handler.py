"""Batch transform with the approved model package: score every CSV file under an input prefix.

Started by an 'Object Created' event for a file under `batch/input/<batch>/` in the capture bucket, or invoked
directly with {"input_prefix": "batch/input/<batch>/"}. One transform job per (batch, package): the job name is
derived from both, so a retried or repeated event does not start a second job.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from contracts import batch_transform as batch
from contracts import environment as env_names
from contracts import events as ev
from contracts.sentinels import NONE as NO_MODEL
from lambdas.shared.clients import client
from lambdas.shared.handler_input import require_object_event

logger = Logger()


class NothingToScore(ValueError):
    """No approved model yet, or an event that names no batch; the message says which."""


def input_prefix(event: dict[str, Any]) -> str:
    if "input_prefix" in event:
        prefix = str(event["input_prefix"])
    else:
        detail = event.get(ev.DETAIL)
        found = detail.get(ev.OBJECT) if isinstance(detail, dict) else None
        key = str(found.get(ev.KEY, "")) if isinstance(found, dict) else ""
        parts = key.split("/")
        if not key.startswith(batch.INPUT_PREFIX) or len(parts) < 4:
            raise NothingToScore(f"event: object key {key!r} is not under {batch.INPUT_PREFIX}<batch>/")
        prefix = "/".join(parts[:3]) + "/"
    if not prefix.startswith(batch.INPUT_PREFIX):
        raise NothingToScore(f"input_prefix: {prefix!r} is not under {batch.INPUT_PREFIX}")
    return prefix


def start(
    event: dict[str, Any], sagemaker: Any, ssm: Any, environ: dict[str, str] | os._Environ[str]
) -> dict[str, str]:
    prefix = input_prefix(event)  # a malformed event is refused before any AWS call
    package = ssm.get_parameter(Name=environ[env_names.APPROVED_PACKAGE_PARAMETER])["Parameter"]["Value"]
    if package == NO_MODEL:
        raise NothingToScore("no approved model package yet")
    bucket = environ[env_names.BATCH_BUCKET]
    digest = hashlib.sha256(f"{prefix}|{package}".encode()).hexdigest()[:16]
    name = batch.job_name(environ[env_names.NAME_PREFIX], digest)
    try:
        sagemaker.create_model(
            ModelName=name,
            PrimaryContainer={"ModelPackageName": package},
            ExecutionRoleArn=environ[env_names.MODEL_ROLE_ARN],
            EnableNetworkIsolation=True,
        )
        sagemaker.create_transform_job(
            TransformJobName=name,
            ModelName=name,
            TransformInput={
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/{prefix}"}},
                "ContentType": "text/csv",
                "SplitType": "Line",
            },
            TransformOutput={
                "S3OutputPath": f"s3://{bucket}/{batch.OUTPUT_PREFIX}{prefix.removeprefix(batch.INPUT_PREFIX)}",
                "Accept": "text/csv",
                "AssembleWith": "Line",
                "KmsKeyId": environ[env_names.KMS_KEY_ARN],
            },
            TransformResources={
                "InstanceType": environ[env_names.INSTANCE_TYPE],
                "InstanceCount": int(environ[env_names.INSTANCE_COUNT]),
                "VolumeKmsKeyId": environ[env_names.KMS_KEY_ARN],
            },
        )
    except ClientError as exc:
        message = exc.response["Error"].get("Message", "")
        # A repeated event: the model or the job of this (batch, package) exists already. Anything else is real.
        if exc.response["Error"]["Code"] != "ResourceInUse" and "already exist" not in message:
            raise
        logger.info("transform job exists already", extra={"job": name})
    return {"transform_job": name, "model_package_arn": package, "input_prefix": prefix}


def nothing_to_score(reason: str) -> dict[str, str]:
    """An event target's answer to an event it cannot use: not raised, as Lambda would only retry the same event."""
    logger.warning("nothing to score", extra={"reason": reason})
    return {"transform_job": "", "reason": reason}


@require_object_event(rejected=nothing_to_score)
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    try:
        input_prefix(event)  # a malformed event is refused before any client is created
        result = start(event, client("sagemaker"), client("ssm"), os.environ)
    except NothingToScore as exc:
        return nothing_to_score(str(exc))
    logger.info("transform job", extra=result)
    return result
