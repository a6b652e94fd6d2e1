"""Start the model build pipeline for a retraining run (idempotent per Step Functions execution).

Input: {"execution": "<execution name>"}. Output: {"pipeline_execution_arn": str}. The serving model's artifact
goes in as the pipeline parameter ChampionModelDataUri, so the evaluate step scores both on one holdout set.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

from aws_lambda_powertools import Logger

from contracts import environment as env_names
from contracts import state_machine as sm
from contracts.sentinels import NONE as NO_MODEL
from lambdas.shared.clients import client
from lambdas.shared.handler_input import require_object_event

logger = Logger()


def champion_model_data(client: Any, ssm: Any, parameter: str) -> str:
    """The serving package's model artifact ("none" before the first deployment)."""
    package = ssm.get_parameter(Name=parameter)["Parameter"]["Value"]
    if package == NO_MODEL:
        return NO_MODEL
    described = client.describe_model_package(ModelPackageName=package)
    return str(described["InferenceSpecification"]["Containers"][0]["ModelDataUrl"])


def start(event: dict[str, Any], client: Any, pipeline: str, ssm: Any = None, parameter: str = "") -> dict[str, str]:
    execution = event.get(sm.EXECUTION)
    if not isinstance(execution, str) or not execution:
        raise ValueError(f"input.execution: missing ({event!r})")
    champion = champion_model_data(client, ssm, parameter) if ssm is not None else NO_MODEL
    response = client.start_pipeline_execution(
        PipelineName=pipeline,
        # The evaluate step scores the serving model on the new holdout set too: a like-for-like comparison.
        PipelineParameters=[{"Name": sm.CHAMPION_MODEL_PARAMETER, "Value": champion}],
        PipelineExecutionDisplayName=f"retrain-{execution}"[:82],
        PipelineExecutionDescription="Started by the retraining loop after a model-degraded alarm",
        # A retried task must not start a second pipeline run: the token (32-128 characters) makes the call
        # idempotent per Step Functions execution.
        ClientRequestToken=hashlib.sha256(execution.encode()).hexdigest(),
    )
    return {sm.PIPELINE_EXECUTION_ARN: response["PipelineExecutionArn"]}


@require_object_event
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    result = start(
        event,
        client("sagemaker"),
        os.environ[env_names.PIPELINE_NAME],
        client("ssm"),
        os.environ[env_names.APPROVED_PACKAGE_PARAMETER],
    )
    logger.info("pipeline started", extra=result)
    return result
