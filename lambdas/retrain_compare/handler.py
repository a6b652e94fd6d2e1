"""Compare the retrained model (challenger) with the one serving (champion) on their holdout accuracy.

Input: {"model_package_arn": challenger}. The champion is the package in the approved-package SSM parameter;
each package's accuracy comes from its registered evaluation report (ModelMetrics.ModelQuality.Statistics, the
evaluate step's evaluation.json). Output: {"better": bool, "challenger_accuracy", "champion_accuracy", "reason",
"champion_arn"}.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from contracts import environment as env_names
from contracts import state_machine as sm
from contracts.sentinels import NONE as NO_MODEL
from lambdas.retrain_compare.comparison import compare
from lambdas.shared.clients import Clients
from lambdas.shared.handler_input import at_cold_start, number_setting, require_object_event

logger = Logger()


class EvaluationReportError(ValueError):
    """A package's evaluation report is missing or malformed; the message names the package and the S3 URI."""


def evaluation_report(aws: Clients, package_arn: str) -> dict[str, Any]:
    """The evaluate step's report of a package; its summary has a numeric accuracy (checked here, once)."""
    package = aws.sagemaker.describe_model_package(ModelPackageName=package_arn)
    try:
        uri = package["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]
    except KeyError:
        raise EvaluationReportError(
            f"{package_arn}: no ModelMetrics.ModelQuality.Statistics (evaluation report)"
        ) from None
    location = urlparse(uri)
    try:
        body = aws.s3.get_object(Bucket=location.netloc, Key=location.path.lstrip("/"))["Body"].read()
    except ClientError as exc:
        # NoSuchKey, or AccessDenied when the role may not list the bucket (S3 GetObject, "Permissions":
        # https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html).
        code = exc.response.get("Error", {}).get("Code", "error")
        raise EvaluationReportError(f"{package_arn}: evaluation report {uri} not readable ({code})") from None
    try:
        report = json.loads(body)
        accuracy = report["summary"]["accuracy"]
    except (ValueError, KeyError, TypeError) as exc:
        raise EvaluationReportError(
            f"{package_arn}: evaluation report {uri} is malformed (no summary.accuracy: {type(exc).__name__})"
        ) from None
    if isinstance(accuracy, bool) or not isinstance(accuracy, (int, float)):
        raise EvaluationReportError(f"{package_arn}: evaluation report {uri}: summary.accuracy is not a number")
    return dict(report)


def run(event: dict[str, Any], aws: Clients, parameter: str, margin: float, min_accuracy: float) -> dict[str, Any]:
    challenger_arn = event.get(sm.MODEL_PACKAGE_ARN)
    if not isinstance(challenger_arn, str) or not challenger_arn:
        raise ValueError(f"input.model_package_arn: missing ({event!r})")
    champion_arn = aws.ssm.get_parameter(Name=parameter)["Parameter"]["Value"]
    summary = evaluation_report(aws, challenger_arn)["summary"]
    same_holdout = summary.get("champion_accuracy")
    if champion_arn == NO_MODEL:
        champion, basis = None, "no champion"
    elif isinstance(same_holdout, (int, float)):
        # Both scored on the challenger's holdout set by the evaluate step: the like-for-like comparison.
        champion, basis = float(same_holdout), "both on the challenger's holdout set"
    else:
        champion = float(evaluation_report(aws, champion_arn)["summary"]["accuracy"])
        basis = "each on its own holdout set (the champion could not be scored on the new one)"
    result = compare(float(summary["accuracy"]), champion, margin, min_accuracy)
    return {
        sm.BETTER: result.better,
        "challenger_accuracy": result.challenger_accuracy,
        "champion_accuracy": result.champion_accuracy,
        "champion_arn": champion_arn,
        sm.REASON: f"{result.reason} ({basis})",
    }


def settings(environ: Mapping[str, str]) -> dict[str, float]:
    return {
        "margin": number_setting(environ, env_names.MIN_IMPROVEMENT, 0.0),
        "min_accuracy": number_setting(environ, env_names.MIN_ACCURACY, 0.0),
    }


at_cold_start(lambda: settings(os.environ))


@require_object_event
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result = run(
        event,
        Clients(),
        parameter=os.environ[env_names.APPROVED_PACKAGE_PARAMETER],
        **settings(os.environ),
    )
    logger.info("comparison", extra=result)
    return result
