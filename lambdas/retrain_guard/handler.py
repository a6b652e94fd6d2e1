"""Retraining guard task: acquire the retraining lock (or say why not), or release it at the end of a run.

Input: {"action": "acquire" | "release", "execution": "<Step Functions execution name>"}.
Output: {"proceed": bool, "reason": str}. The record is updated with a conditional write on its version, so two
executions that start at once cannot both acquire it.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from contracts import environment as env_names
from contracts import state_machine as sm
from lambdas.retrain_guard.guard_logic import GuardState, Limits, Verdict, acquire, release
from lambdas.shared.clients import resource
from lambdas.shared.handler_input import at_cold_start, number_setting, require_object_event

logger = Logger()
KEY = {"pk": "retraining"}


def table() -> Any:
    return resource("dynamodb").Table(os.environ[env_names.GUARD_TABLE])


def limits_from_env(environ: dict[str, str] | os._Environ[str]) -> Limits:
    return Limits(
        cooldown=timedelta(hours=number_setting(environ, env_names.COOLDOWN_HOURS, 0.0)),
        max_per_day=int(number_setting(environ, env_names.MAX_PER_DAY, 1, integer=True)),
        timeout=timedelta(hours=number_setting(environ, env_names.TIMEOUT_HOURS, 0.0, low_inclusive=False)),
    )


def run(event: dict[str, Any], store: Any, limits: Limits, now: datetime) -> Verdict:
    action, execution = event.get(sm.ACTION), event.get(sm.EXECUTION)
    if action not in (sm.ACQUIRE, sm.RELEASE) or not isinstance(execution, str) or not execution:
        raise ValueError(f"input: expected action acquire|release and an execution name, got {event!r}")
    for _ in range(5):  # optimistic concurrency: re-read and retry when another execution wrote first
        state = GuardState.from_item(store.get_item(Key=KEY, ConsistentRead=True).get("Item"))
        verdict = acquire(state, execution, now, limits) if action == sm.ACQUIRE else release(state, execution)
        if verdict.state == state:
            return verdict
        new = {**verdict.state.to_item(), "version": state.version + 1, **KEY}
        try:
            store.put_item(
                Item=new,
                ConditionExpression="attribute_not_exists(pk) OR version = :v",
                ExpressionAttributeValues={":v": state.version},
            )
            return verdict
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
    raise RuntimeError("retraining lock: too many concurrent writers")


at_cold_start(lambda: limits_from_env(os.environ))


@require_object_event
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    verdict = run(event, table(), limits_from_env(os.environ), datetime.now(UTC))
    result = {sm.PROCEED: verdict.proceed, sm.REASON: verdict.reason}
    logger.info("guard", extra={sm.ACTION: event.get(sm.ACTION), **result})
    return result
