"""Retraining re-check: start the retraining loop again while the model-degraded alarm is still in ALARM.

EventBridge emits 'CloudWatch Alarm State Change' only when an alarm's state changes
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-and-eventbridge.html). If the loop's
guard refused a run (cooldown, daily budget) or the champion was kept, the composite alarm stays in ALARM and
no further event ever comes. This function runs on a schedule; while the alarm is in ALARM it starts the state
machine with the event shape the alarm rule sends, and the guard still decides whether a run may proceed.

Environment: ALARM_NAME (the composite alarm), STATE_MACHINE_ARN.
Output: {"started": bool, "reason": str, "execution_arn"?: str}.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger

from contracts import environment as env_names
from contracts import events as ev
from lambdas.shared.clients import Clients
from lambdas.shared.handler_input import require_object_event

logger = Logger()


def recheck(aws: Clients, alarm_name: str, state_machine_arn: str, now: datetime) -> dict[str, Any]:
    described = aws.cloudwatch.describe_alarms(AlarmNames=[alarm_name], AlarmTypes=["CompositeAlarm"])
    alarms = described.get("CompositeAlarms", [])
    if not alarms:
        return {"started": False, "reason": f"alarm {alarm_name!r} not found"}
    alarm = alarms[0]
    if alarm["StateValue"] != "ALARM":
        return {"started": False, "reason": f"alarm {alarm_name} is {alarm['StateValue']}"}
    # The alarm rule's event, as EventBridge would have sent it had the state changed now.
    event = {
        ev.SOURCE: ev.CLOUDWATCH,
        ev.DETAIL_TYPE: ev.ALARM_STATE_CHANGE,
        "resources": [alarm["AlarmArn"]],
        "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        ev.DETAIL: {
            "alarmName": alarm_name,
            "state": {"value": "ALARM", "reason": "re-check: still in ALARM", "timestamp": now.isoformat()},
            "recheck": True,
        },
    }
    name = f"recheck-{now.strftime('%Y%m%dT%H%M%S')}"
    started = aws.stepfunctions.start_execution(stateMachineArn=state_machine_arn, name=name, input=json.dumps(event))
    return {"started": True, "reason": "alarm still in ALARM", "execution_arn": started["executionArn"]}


@require_object_event  # the schedule's event is an object whose content is not read
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result = recheck(
        Clients(), os.environ[env_names.ALARM_NAME], os.environ[env_names.STATE_MACHINE_ARN], datetime.now(UTC)
    )
    logger.info("recheck", extra=result)
    return result
