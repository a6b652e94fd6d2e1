"""RetrainingStack: an alarm starts a Step Functions loop that retrains, compares and redeploys only a better model.

guard (one at a time, cooldown, daily budget)
  -> start the SageMaker pipeline -> wait / check (loop) -> compare challenger with champion
  -> better: approve (the registry's approval event also reaches the deploy path) -> deploy -> notify
  -> not better: reject -> notify
every task: Retry with backoff, Catch -> notify -> release the lock -> fail (the champion keeps serving)
"""

from __future__ import annotations

from typing import Any, TypeVar

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_ssm as ssm
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from contracts import environment as env_names
from contracts import events as ev
from contracts import state_machine as sm
from platform_config.platform import PlatformConfig
from stacks.constructs.kms_grants import kms_via_service_statement
from stacks.constructs.python_handler import PythonHandler
from stacks.constructs.retrain_recheck import RetrainRecheck
from stacks.constructs.sagemaker_grants import grant_model_card_publishing

# A task passed through `caught` keeps its own type (LambdaInvoke, SnsPublish, ...).
_Task = TypeVar("_Task", bound=sfn.TaskStateBase)


class RetrainingStack(cdk.Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PlatformConfig,
        key: kms.IKey,
        artifact_bucket: s3.IBucket,
        pipeline_name: str,
        model_package_group_name: str,
        approved_package: ssm.IStringParameter,
        deploy_function: lambda_.IFunction,
        trigger_alarm: cloudwatch.IAlarm,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        self.topic = sns.Topic(self, "Notifications", master_key=key, enforce_ssl=True)
        guard_table = dynamodb.TableV2(
            self,
            "GuardState",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            encryption=dynamodb.TableEncryptionV2.customer_managed_key(key),
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=cdk.RemovalPolicy.DESTROY,  # only the lock and counters: nothing to keep
        )
        group_packages = self.format_arn(
            service="sagemaker", resource="model-package", resource_name=f"{model_package_group_name}/*"
        )

        guard = self._handler("GuardFunction", "retrain_guard", "Retraining lock, cooldown and daily budget", {
            env_names.GUARD_TABLE: guard_table.table_name,
            env_names.COOLDOWN_HOURS: str(config.retraining_cooldown_hours),
            env_names.MAX_PER_DAY: str(config.retraining_max_per_day),
            env_names.TIMEOUT_HOURS: str(config.retraining_timeout_hours),
        })  # fmt: skip
        guard_table.grant_read_write_data(guard.role)

        start = self._handler("StartPipelineFunction", "retrain_start_pipeline", "Starts the model build pipeline", {
            env_names.PIPELINE_NAME: pipeline_name,
            env_names.APPROVED_PACKAGE_PARAMETER: config.approved_package_parameter,
        })  # fmt: skip
        start.role.add_to_policy(
            iam.PolicyStatement(
                actions=["sagemaker:StartPipelineExecution"],
                resources=[self.format_arn(service="sagemaker", resource="pipeline", resource_name=pipeline_name)],
            )
        )
        # It passes the serving package's artifact to the pipeline, so it reads which package that is.
        approved_package.grant_read(start.role)
        start.role.add_to_policy(
            iam.PolicyStatement(actions=["sagemaker:DescribeModelPackage"], resources=[group_packages])
        )
        check = self._handler(
            "CheckPipelineFunction", "retrain_check_pipeline", "Pipeline run status and its package",
            {env_names.MODEL_PACKAGE_GROUP: model_package_group_name},
        )  # fmt: skip
        check.role.add_to_policy(
            iam.PolicyStatement(
                actions=["sagemaker:DescribePipelineExecution"],
                resources=[
                    self.format_arn(
                        service="sagemaker", resource="pipeline", resource_name=f"{pipeline_name}/execution/*"
                    )
                ],
            )
        )
        check.role.add_to_policy(
            iam.PolicyStatement(
                actions=["sagemaker:ListModelPackages", "sagemaker:DescribeModelPackage"],
                resources=[
                    group_packages,
                    self.format_arn(
                        service="sagemaker", resource="model-package-group", resource_name=model_package_group_name
                    ),
                ],
            )
        )
        compare = self._handler("CompareFunction", "retrain_compare", "Challenger vs champion holdout accuracy", {
            env_names.APPROVED_PACKAGE_PARAMETER: config.approved_package_parameter,
            env_names.MIN_IMPROVEMENT: str(config.retraining_min_improvement),
            env_names.MIN_ACCURACY: str(config.min_accuracy),
        })  # fmt: skip
        compare.role.add_to_policy(
            iam.PolicyStatement(actions=["sagemaker:DescribeModelPackage"], resources=[group_packages])
        )
        approved_package.grant_read(compare.role)
        artifact_bucket.grant_read(compare.role)  # the packages' evaluation reports
        key.grant_decrypt(compare.role)
        set_approval = self._handler(
            "SetApprovalFunction", "retrain_set_approval", "Approves or rejects the challenger", {}
        )
        set_approval.role.add_to_policy(
            iam.PolicyStatement(
                actions=["sagemaker:UpdateModelPackage", "sagemaker:DescribeModelPackage"], resources=[group_packages]
            )
        )
        # The approval publishes the package's model card (built by the pipeline, stored beside its evaluation).
        grant_model_card_publishing(set_approval.role, model_package_group_name)
        artifact_bucket.grant_read(set_approval.role)
        key.grant_decrypt(set_approval.role)

        self.state_machine = sfn.StateMachine(
            self,
            "RetrainingLoop",
            definition_body=sfn.DefinitionBody.from_chainable(
                self._definition(guard, start, check, compare, set_approval, deploy_function)
            ),
            timeout=cdk.Duration.minutes(int(config.retraining_timeout_hours * 60)),
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=logs.LogGroup(self, "LoopLogs", retention=logs.RetentionDays.THREE_MONTHS),
                level=sfn.LogLevel.ALL,
                include_execution_data=True,
            ),
        )
        # Publishing to an SSE-KMS topic: the publisher needs kms:GenerateDataKey* and kms:Decrypt on the topic's key
        # (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html, "Allow a user to send messages to a
        # topic with SSE"). tasks.SnsPublish grants sns:Publish only. Only through SNS: kms:ViaService.
        self.state_machine.add_to_role_policy(kms_via_service_statement(key, "sns", self.region))
        events.Rule(
            self,
            "ModelDegraded",
            description="The model-degraded alarm entered ALARM: start a retraining run",
            event_pattern=events.EventPattern(
                source=[ev.CLOUDWATCH],
                detail_type=[ev.ALARM_STATE_CHANGE],
                resources=[trigger_alarm.alarm_arn],
                detail={"state": {"value": ["ALARM"]}},
            ),
            targets=[targets.SfnStateMachine(self.state_machine)],
        )
        # Alarm events come only on state changes: a schedule starts the loop again while the alarm stays in ALARM.
        self.recheck = RetrainRecheck(self, "Recheck", config=config, alarm=trigger_alarm, loop=self.state_machine)
        cdk.CfnOutput(self, "RetrainingStateMachineArn", value=self.state_machine.state_machine_arn)

    def _handler(self, construct_id: str, folder: str, description: str, env: dict[str, str]) -> PythonHandler:
        return PythonHandler(
            self,
            construct_id,
            folder=folder,
            description=description,
            environment=env,
            powertools_layer_version=self.config.powertools_layer_version,
        )

    def _definition(
        self,
        guard: PythonHandler,
        start: PythonHandler,
        check: PythonHandler,
        compare: PythonHandler,
        set_approval: PythonHandler,
        deploy_function: lambda_.IFunction,
    ) -> sfn.IChainable:
        execution = sfn.JsonPath.string_at("$$.Execution.Name")
        challenger = sfn.JsonPath.string_at(sm.path(sm.PIPELINE, sm.MODEL_PACKAGE_ARN))
        status = sm.path(sm.PIPELINE, sm.STATUS)

        def invoke(
            name: str, function: lambda_.IFunction, payload: dict[str, Any], result_path: str
        ) -> tasks.LambdaInvoke:
            task = tasks.LambdaInvoke(
                self,
                name,
                lambda_function=function,
                payload=sfn.TaskInput.from_object(payload),
                payload_response_only=True,
                result_path=result_path,
                retry_on_service_exceptions=False,
            )
            task.add_retry(
                errors=["Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException",
                        "Lambda.TooManyRequestsException", "States.Timeout"],
                interval=cdk.Duration.seconds(self.config.retraining_retry_seconds),
                max_attempts=4,
                backoff_rate=2.0,
            )  # fmt: skip
            return task

        def notify(name: str, subject: str, message: sfn.TaskInput) -> tasks.SnsPublish:
            task = tasks.SnsPublish(
                self, name, topic=self.topic, subject=subject, message=message, result_path=sfn.JsonPath.DISCARD
            )
            # A notification is worth a few tries (throttling, a KMS hiccup), never the lock: a publish that still
            # fails is caught by the caller and the run goes on to release the guard.
            task.add_retry(
                errors=["States.TaskFailed", "States.Timeout"],
                interval=cdk.Duration.seconds(self.config.retraining_retry_seconds),
                max_attempts=3,
                backoff_rate=2.0,
            )
            return task

        release_payload = {sm.ACTION: sm.RELEASE, sm.EXECUTION: execution}
        failed = sfn.Fail(self, "RetrainingFailed", cause="A retraining step failed; the champion keeps serving")
        # The lock could not be released even after the retries: fail loudly (it stays held until it goes stale).
        release_failed = sfn.Fail(
            self,
            "ReleaseFailed",
            error="GuardLockNotReleased",
            cause="The guard lock could not be released; it stays held until its timeout makes it stale",
        )
        release_after_failure = invoke("ReleaseAfterFailure", guard.function, release_payload, sfn.JsonPath.DISCARD)
        release_after_failure.add_catch(release_failed, errors=["States.ALL"], result_path="$.release_error")
        notify_failure = notify(
            "NotifyFailure",
            "Retraining failed",
            sfn.TaskInput.from_object({sm.EXECUTION: execution, sm.ERROR: sfn.JsonPath.object_at(sm.path(sm.ERROR))}),
        )
        # A failed failure notice must not keep the lock: release anyway, then fail as planned.
        notify_failure.add_catch(release_after_failure, errors=["States.ALL"], result_path="$.notify_error")
        on_failure = notify_failure.next(release_after_failure).next(failed)
        catchable = []

        def caught(task: _Task) -> _Task:
            catchable.append(task)
            return task

        acquire = caught(
            invoke("AcquireLock", guard.function, {sm.ACTION: sm.ACQUIRE, sm.EXECUTION: execution}, sm.path(sm.GUARD))
        )
        start_run = caught(invoke("StartPipeline", start.function, {sm.EXECUTION: execution}, sm.path(sm.PIPELINE)))
        wait = sfn.Wait(
            self,
            "WaitForPipeline",
            time=sfn.WaitTime.duration(cdk.Duration.seconds(self.config.retraining_poll_seconds)),
        )
        check_run = caught(
            invoke(
                "CheckPipeline",
                check.function,
                {sm.PIPELINE_EXECUTION_ARN: sfn.JsonPath.string_at(sm.path(sm.PIPELINE, sm.PIPELINE_EXECUTION_ARN))},
                sm.path(sm.PIPELINE),
            )
        )
        comparison = caught(
            invoke(
                "CompareWithChampion",
                compare.function,
                {sm.MODEL_PACKAGE_ARN: challenger},
                sm.path(sm.COMPARISON),
            )
        )

        def approval(name: str, approve: bool) -> tasks.LambdaInvoke:
            return caught(
                invoke(
                    name,
                    set_approval.function,
                    {
                        sm.MODEL_PACKAGE_ARN: challenger,
                        sm.APPROVE: approve,
                        sm.REASON: sfn.JsonPath.string_at(sm.path(sm.COMPARISON, sm.REASON)),
                    },
                    sm.path(sm.APPROVAL),
                )
            )

        deploy = caught(
            invoke(
                "Deploy",
                deploy_function,
                {
                    ev.DETAIL_TYPE: ev.MODEL_PACKAGE_STATE_CHANGE,
                    ev.SOURCE: ev.RETRAINING,
                    ev.DETAIL: {ev.MODEL_PACKAGE_ARN: challenger},
                },
                sm.path(sm.DEPLOYMENT),
            )
        )
        # The deploy function raises RetryLater while the serving stack is still updating.
        deploy.add_retry(errors=["RetryLater"], interval=cdk.Duration.seconds(60), max_attempts=5, backoff_rate=2.0)
        summary = sfn.TaskInput.from_object(
            {sm.EXECUTION: execution, "package": challenger,
             sm.COMPARISON: sfn.JsonPath.object_at(sm.path(sm.COMPARISON))}
        )  # fmt: skip
        release_ok = caught(invoke("Release", guard.function, release_payload, sfn.JsonPath.DISCARD))
        release_ok.next(sfn.Succeed(self, "Done"))
        # The outcome stands (a promoted model serves) but an unsent notice is an error someone must see: release
        # the lock, then fail the run.
        release_unnotified = invoke("ReleaseAfterNoticeFailed", guard.function, release_payload, sfn.JsonPath.DISCARD)
        release_unnotified.add_catch(release_failed, errors=["States.ALL"], result_path="$.release_error")
        release_unnotified.next(
            sfn.Fail(
                self,
                "NotificationFailed",
                error="NotificationFailed",
                cause="The outcome notice could not be published",
            )
        )

        def outcome_notice(name: str, subject: str) -> tasks.SnsPublish:
            task = notify(name, subject, summary)
            task.add_catch(release_unnotified, errors=["States.ALL"], result_path="$.notify_error")
            return task

        promoted = (
            approval("ApproveChallenger", True)
            .next(deploy)
            .next(outcome_notice("NotifyPromoted", "Retrained model promoted"))
            .next(release_ok)
        )
        kept = approval("RejectChallenger", False).next(outcome_notice("NotifyKept", "Champion kept")).next(release_ok)
        pipeline_failed = sfn.Pass(
            self,
            "PipelineDidNotRegister",
            parameters={
                "Error": "PipelineFailed",
                "Cause": sfn.JsonPath.string_at(sm.path(sm.PIPELINE, sm.FAILURE_REASON)),
            },
            result_path=sm.path(sm.ERROR),
        ).next(on_failure)

        for task in catchable:
            task.add_catch(on_failure, errors=["States.ALL"], result_path=sm.path(sm.ERROR))

        loop = wait.next(check_run).next(
            sfn.Choice(self, "PipelineState")
            .when(sfn.Condition.string_equals(status, sm.EXECUTING), wait)
            .when(
                sfn.Condition.string_equals(status, sm.SUCCEEDED),
                comparison.next(
                    sfn.Choice(self, "ChallengerBetter")
                    .when(sfn.Condition.boolean_equals(sm.path(sm.COMPARISON, sm.BETTER), True), promoted)
                    .otherwise(kept)
                ),
            )
            .otherwise(pipeline_failed)
        )
        return acquire.next(
            sfn.Choice(self, "MayRetrain")
            .when(sfn.Condition.boolean_equals(sm.path(sm.GUARD, sm.PROCEED), True), start_run.next(loop))
            .otherwise(sfn.Succeed(self, "Skipped", comment="Guard refused: running, cooling down or over budget"))
        )
