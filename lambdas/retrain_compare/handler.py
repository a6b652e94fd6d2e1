"""Compare the retrained model (challenger) with the one serving (champion) on their holdout accuracy.

Input: {"model_package_arn": challenger}. The champion is the package in the approved-package SSM parameter;
each package's accuracy comes from its registered evaluation report (ModelMetrics.ModelQuality.Statistics, the
evaluate step's evaluation.json). Output: {"better": bool, "challenger_accuracy", "champion_accuracy", "reason",
"champion_arn"}.
"""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import urlparse

import boto3
from aws_lambda_powertools import Logger
from comparison import compare

logger = Logger()
NO_MODEL = "none"


class Clients:
    def __init__(self, sagemaker: Any = None, s3: Any = None, ssm: Any = None) -> None:
        self.sagemaker = sagemaker or boto3.client("sagemaker")
        self.s3 = s3 or boto3.client("s3")
        self.ssm = ssm or boto3.client("ssm")


_clients: Clients | None = None


def clients() -> Clients:
    global _clients
    if _clients is None:
        _clients = Clients()
    return _clients


def evaluation_report(aws: Clients, package_arn: str) -> dict[str, Any]:
    package = aws.sagemaker.describe_model_package(ModelPackageName=package_arn)
    try:
        uri = package["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]
    except KeyError:
        raise ValueError(f"{package_arn}: no ModelMetrics.ModelQuality.Statistics (evaluation report)") from None
    location = urlparse(uri)
    body = aws.s3.get_object(Bucket=location.netloc, Key=location.path.lstrip("/"))["Body"].read()
    return dict(json.loads(body))


def run(event: dict[str, Any], aws: Clients, parameter: str, margin: float, min_accuracy: float) -> dict[str, Any]:
    challenger_arn = event.get("model_package_arn")
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
        "better": result.better,
        "challenger_accuracy": result.challenger_accuracy,
        "champion_accuracy": result.champion_accuracy,
        "champion_arn": champion_arn,
        "reason": f"{result.reason} ({basis})",
    }


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result = run(
        event,
        clients(),
        parameter=os.environ["APPROVED_PACKAGE_PARAMETER"],
        margin=float(os.environ["MIN_IMPROVEMENT"]),
        min_accuracy=float(os.environ["MIN_ACCURACY"]),
    )
    logger.info("comparison", extra=result)
    return result
