"""The retraining loop's periodic re-check (lambdas/retrain_recheck): alarm events fire once per transition.

A schedule (every `retraining_recheck_minutes`) runs a function that starts the state machine while the
model-degraded alarm is still in ALARM; the loop's guard (one at a time, cooldown, daily budget) still decides.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from contracts import environment as env_names
from platform_config.platform import PlatformConfig
from stacks.constructs.python_handler import PythonHandler


class RetrainRecheck(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PlatformConfig,
        alarm: cloudwatch.IAlarm,
        loop: sfn.IStateMachine,
    ) -> None:
        super().__init__(scope, construct_id)
        self.handler = PythonHandler(
            self,
            "Function",
            folder="retrain_recheck",
            description="Starts the retraining loop again while the model-degraded alarm stays in ALARM",
            environment={env_names.ALARM_NAME: alarm.alarm_name, env_names.STATE_MACHINE_ARN: loop.state_machine_arn},
            powertools_layer_version=config.powertools_layer_version,
            reserved_concurrency=1,
        )
        # "To use this operation and return information about composite alarms, you must be signed on with the
        # cloudwatch:DescribeAlarms permission that is scoped to *" (CloudWatch API Reference, DescribeAlarms).
        self.handler.role.add_to_policy(iam.PolicyStatement(actions=["cloudwatch:DescribeAlarms"], resources=["*"]))
        loop.grant_start_execution(self.handler.role)
        events.Rule(
            self,
            "Schedule",
            description="Re-check the model-degraded alarm: retrain again while it stays in ALARM",
            schedule=events.Schedule.rate(cdk.Duration.minutes(config.retraining_recheck_minutes)),
            targets=[targets.LambdaFunction(self.handler.function, retry_attempts=2)],
        )
