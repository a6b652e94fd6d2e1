"""ServingStack: the endpoint for the approved model package, its guardrails, scaling and deploy path.

Deploy path (see README "How a model reaches the endpoint"): a model package approved in the registry emits an
EventBridge event; the deploy function checks the package is Approved in this project's group, writes its ARN to
an SSM parameter and updates this stack. The stack reads that parameter as an `AWS::SSM::Parameter::Value<String>`
parameter, so every update, including a later `cdk deploy`, serves the approved package and never rolls it back.
Until the first approval the parameter is "none" and the condition below leaves the model and endpoint out, so
the stack deploys cleanly without a model.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_applicationautoscaling as autoscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from pipeline_code.serving_code import serving_environment
from platform_config.platform import PlatformConfig
from stacks.build_stack import PIPELINE_PREFIX, cached_sklearn_image, cached_xgboost_image
from stacks.constructs.approved_package import resolve_approved_package
from stacks.constructs.python_handler import PythonHandler
from stacks.constructs.sagemaker_grants import grant_image_pull, grant_model_card_publishing, grant_sagemaker_logs
from stacks.constructs.triton_endpoint import TritonEndpoint, TritonEndpointProps, triton_image_uri

VARIANT = "AllTraffic"
CAPTURE_PREFIX = "capture"
ASYNC_PREFIX = "async"
MULTI_MODEL_PREFIX = "multi-model"
TRITON_PREFIX = "triton"  # the Triton endpoint's archives: <prefix>/<group>-v<version>.tar.gz, one per TargetModel


# The resource types an update of this stack by the deploy function touches (a new package: a new model and
# endpoint config, the endpoint's blue/green update; the first package also creates the scaling target/policy).
# The function names them in UpdateStack's ResourceTypes and its IAM policy allows no other list, so CloudFormation
# fails any update through that role that would touch another type ("If the list of resource types doesn't include
# a resource that you're updating, the stack update fails",
# https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_UpdateStack.html).
DEPLOY_RESOURCE_TYPES = (
    "AWS::SageMaker::Model",
    "AWS::SageMaker::EndpointConfig",
    "AWS::SageMaker::Endpoint",
    "AWS::ApplicationAutoScaling::ScalableTarget",
    "AWS::ApplicationAutoScaling::ScalingPolicy",
)
MISMATCH_METRIC = "LiveConfigMismatch"  # published by the deploy function (lambdas/deploy_model/handler.py)


def pending_package_parameter_name(config: PlatformConfig) -> str:
    """Where the deploy function parks an approval that arrives while the stack is updating (it creates it)."""
    return f"/{config.project_name}/serving/pending-model-package-arn"


def triton_live_model_parameter_name(config: PlatformConfig) -> str:
    """The SSM parameter naming the Triton endpoint's live TargetModel (the deploy function writes it)."""
    return f"/{config.project_name}/serving/triton-target-model"


class ServingStack(cdk.Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PlatformConfig,
        key: kms.IKey,
        artifact_bucket: s3.IBucket,
        capture_bucket: s3.IBucket,
        model_package_group_name: str,
        approved_package: ssm.IStringParameter,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        self.multi_model = config.serving_mode == "multi_model"
        self.triton = config.serving_mode == "triton"
        self._artifact_bucket, self._key = artifact_bucket, key
        self.endpoint_name = config.resource_name("endpoint")
        self.variant_name = VARIANT
        self.approved_package_arn, self.has_model = resolve_approved_package(self, config)
        self.model_role = self._model_role(key, artifact_bucket, model_package_group_name)
        self.alarms = self._rollback_alarms(config)
        self.notifications = sns.Topic(self, "Notifications", master_key=key, enforce_ssl=True)
        if self.triton:
            self.triton_endpoint = self._triton(config, key, artifact_bucket, capture_bucket)
            self.endpoint = self.triton_endpoint.endpoint
        else:
            self.endpoint = self._endpoint(config, key, capture_bucket, artifact_bucket)
        if config.serving_mode in ("realtime", "multi_model", "triton"):
            # The Triton endpoint exists before any model, so its scaling does too (no "has a model" condition).
            self._autoscaling(config, conditional=not self.triton)
        if self.triton:  # nothing here waits for an approved package: the condition stays out
            self.node.try_remove_child(self.has_model.node.id)
        self.deploy_function = self._deploy_path(config, model_package_group_name, approved_package)
        if config.batch_transform:
            self.batch_function = self._batch_transform(
                config, key, capture_bucket, model_package_group_name, approved_package
            )
        # Unconditional: the delivery pipeline's smoke test reads them in every state (the name is constant).
        self.endpoint_name_output = cdk.CfnOutput(self, "EndpointName", value=self.endpoint_name)
        self.deployed_model_output = cdk.CfnOutput(
            self, "DeployedModelPackageArn", value=self.approved_package_arn.value_as_string
        )
        if self.triton:
            # The smoke test's Triton check: which TargetModel is live (its archive's prefix: the data stack's output).
            self.triton_live_model_output = cdk.CfnOutput(
                self, "TritonLiveModelParameter", value=triton_live_model_parameter_name(config)
            )

    def _endpoint(
        self,
        config: PlatformConfig,
        key: kms.IKey,
        capture_bucket: s3.IBucket,
        artifact_bucket: s3.IBucket,
    ) -> sagemaker.CfnEndpoint:
        """The endpoint of the realtime, serverless, async and multi_model modes (the model container's image)."""
        model = (
            self._multi_model(config, artifact_bucket)
            if self.multi_model
            else sagemaker.CfnModel(
                self,
                "Model",
                execution_role_arn=self.model_role.role_arn,
                containers=[
                    sagemaker.CfnModel.ContainerDefinitionProperty(
                        model_package_name=self.approved_package_arn.value_as_string
                    )
                ],
                enable_network_isolation=True,
            )
        )
        endpoint_config = self._endpoint_config(config, key, capture_bucket, model)
        self.endpoint_config = endpoint_config
        endpoint = sagemaker.CfnEndpoint(
            self,
            "Endpoint",
            endpoint_name=self.endpoint_name,
            endpoint_config_name=endpoint_config.attr_endpoint_config_name,
            deployment_config=self._deployment_config(config),
            # Keep the instance count auto scaling has set when a new model rolls out (SageMaker allows a model
            # change on a scaled variant; an instance-type change needs the variant deregistered first).
            retain_all_variant_properties=config.serving_mode in ("realtime", "multi_model"),
        )
        if not self.multi_model:  # a multi-model endpoint serves no model until one is copied in: it always exists
            for resource in (model, endpoint_config, endpoint):
                resource.cfn_options.condition = self.has_model
        return endpoint

    def _multi_model(self, config: PlatformConfig, artifact_bucket: s3.IBucket) -> sagemaker.CfnModel:
        """One endpoint, many model versions: the container loads `<prefix>/<version>.tar.gz` per TargetModel.

        The deploy function adds an approved package by copying its model.tar.gz under the prefix (no stack
        update); the inference code is the same inference.py as every other serving mode, from each archive's
        code/ (the multi-model server puts `<model dir>/code` on PYTHONPATH: sagemaker-inference-toolkit
        DefaultHandlerService.initialize), so this model needs no network either.
        """
        self.multi_model_url = artifact_bucket.s3_url_for_object(f"{MULTI_MODEL_PREFIX}/")
        return sagemaker.CfnModel(
            self,
            "MultiModel",
            execution_role_arn=self.model_role.role_arn,
            primary_container=sagemaker.CfnModel.ContainerDefinitionProperty(
                image=(
                    cached_xgboost_image(config.region, config.xgboost_framework_version)
                    if config.training_engine == "xgboost"
                    else cached_sklearn_image(config.region, config.sklearn_framework_version)
                ),
                mode="MultiModel",
                model_data_url=self.multi_model_url,
                environment=serving_environment(),
            ),
            enable_network_isolation=True,
        )

    def _model_role(self, key: kms.IKey, artifact_bucket: s3.IBucket, group: str) -> iam.Role:
        role = iam.Role(self, "ModelRole", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
        artifact_bucket.grant_read(role)  # model.tar.gz, with the serving code under code/
        key.grant_decrypt(role)
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["sagemaker:DescribeModelPackage"],
                resources=[self.format_arn(service="sagemaker", resource="model-package", resource_name=f"{group}/*")],
            )
        )
        grant_image_pull(role, cached_sklearn_image(self.config.region, self.config.sklearn_framework_version))
        if self.config.training_engine == "xgboost":  # that engine's packages are served in the XGBoost image
            grant_image_pull(role, cached_xgboost_image(self.config.region, self.config.xgboost_framework_version))
        grant_sagemaker_logs(role, "/aws/sagemaker/Endpoints/*")
        return role

    def _endpoint_config(
        self, config: PlatformConfig, key: kms.IKey, capture_bucket: s3.IBucket, model: sagemaker.CfnModel
    ) -> sagemaker.CfnEndpointConfig:
        variant: dict[str, Any] = {"variant_name": VARIANT, "model_name": model.attr_model_name}
        extra: dict[str, Any] = {}
        if config.serving_mode == "serverless":
            variant["serverless_config"] = sagemaker.CfnEndpointConfig.ServerlessConfigProperty(
                memory_size_in_mb=config.serverless_memory_mb, max_concurrency=config.serverless_max_concurrency
            )
        else:
            variant.update(
                instance_type=config.endpoint_instance_type,
                initial_instance_count=config.endpoint_min_instances,
                initial_variant_weight=1.0,
            )
            # Volume encryption; serverless endpoints have no instance volume to encrypt.
            extra["kms_key_id"] = key.key_arn
        if config.serving_mode != "serverless":
            # Serverless endpoints do not support data capture; the drift monitor then has no input (README).
            extra["data_capture_config"] = self._data_capture(config, key, capture_bucket, self.model_role)
        if config.serving_mode == "async":
            capture_bucket.grant_read_write(self.model_role, f"{ASYNC_PREFIX}/*")
            self.notifications.grant_publish(self.model_role)
            extra["async_inference_config"] = sagemaker.CfnEndpointConfig.AsyncInferenceConfigProperty(
                output_config=sagemaker.CfnEndpointConfig.AsyncInferenceOutputConfigProperty(
                    s3_output_path=capture_bucket.s3_url_for_object(f"{ASYNC_PREFIX}/output"),
                    s3_failure_path=capture_bucket.s3_url_for_object(f"{ASYNC_PREFIX}/failure"),
                    kms_key_id=key.key_arn,
                    notification_config=sagemaker.CfnEndpointConfig.AsyncInferenceNotificationConfigProperty(
                        success_topic=self.notifications.topic_arn, error_topic=self.notifications.topic_arn
                    ),
                ),
                client_config=sagemaker.CfnEndpointConfig.AsyncInferenceClientConfigProperty(
                    max_concurrent_invocations_per_instance=config.async_max_concurrent_invocations
                ),
            )
        return sagemaker.CfnEndpointConfig(
            self,
            "EndpointConfig",
            production_variants=[sagemaker.CfnEndpointConfig.ProductionVariantProperty(**variant)],
            **extra,
        )

    def _data_capture(
        self,
        config: PlatformConfig,
        key: kms.IKey,
        capture_bucket: s3.IBucket,
        role: iam.IRole,
        csv_content_types: tuple[str, ...] = ("text/csv",),
    ) -> sagemaker.CfnEndpointConfig.DataCaptureConfigProperty:
        """KMS-encrypted capture of requests and responses into the capture bucket, written as the model's role."""
        capture_bucket.grant_read_write(role, f"{CAPTURE_PREFIX}/*")
        return sagemaker.CfnEndpointConfig.DataCaptureConfigProperty(
            enable_capture=config.data_capture_percent > 0,
            initial_sampling_percentage=max(config.data_capture_percent, 1),
            destination_s3_uri=capture_bucket.s3_url_for_object(CAPTURE_PREFIX),
            kms_key_id=key.key_arn,
            capture_options=[
                sagemaker.CfnEndpointConfig.CaptureOptionProperty(capture_mode="Input"),
                sagemaker.CfnEndpointConfig.CaptureOptionProperty(capture_mode="Output"),
            ],
            capture_content_type_header=sagemaker.CfnEndpointConfig.CaptureContentTypeHeaderProperty(
                csv_content_types=list(csv_content_types) or None, json_content_types=["application/json"]
            ),
        )

    def _triton(
        self, config: PlatformConfig, key: kms.IKey, artifact_bucket: s3.IBucket, capture_bucket: s3.IBucket
    ) -> TritonEndpoint:
        """serving_mode "triton": a Triton (FIL backend) multi-model endpoint over the artifact bucket's prefix."""
        endpoint = TritonEndpoint(
            self,
            "Triton",
            props=TritonEndpointProps(
                endpoint_name=self.endpoint_name,
                variant_name=VARIANT,
                image_uri=triton_image_uri(config.region, config.triton_image_version, config.endpoint_instance_type),
                model_bucket=artifact_bucket,
                model_prefix=TRITON_PREFIX,
                key=key,
                instance_type=config.endpoint_instance_type,
                initial_instance_count=config.endpoint_min_instances,
                deployment_config=self._deployment_config(config),
                data_capture=None,  # set below, once the role it is written as exists
            ),
        )
        # Triton's requests are JSON (KServe v2) or its binary-tensor extension, never CSV.
        endpoint.endpoint_config.data_capture_config = self._data_capture(
            config, key, capture_bucket, endpoint.role, csv_content_types=()
        )
        self.triton_model_url = endpoint.model_data_url
        # What the deploy function last made live (the TargetModel clients send); "none" before the first approval.
        self.triton_live_model = ssm.StringParameter(
            self,
            "TritonLiveModel",
            parameter_name=triton_live_model_parameter_name(config),
            string_value="none",
            description="TargetModel of the Triton endpoint's live model version (written by the deploy function)",
        )
        return endpoint

    def _rollback_alarms(self, config: PlatformConfig) -> list[cloudwatch.Alarm]:
        dimensions = {"EndpointName": self.endpoint_name, "VariantName": VARIANT}

        def metric(name: str, statistic: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace="AWS/SageMaker",
                metric_name=name,
                dimensions_map=dimensions,
                statistic=statistic,
                period=cdk.Duration.minutes(1),
            )

        errors = cloudwatch.Alarm(
            self,
            "Invocation5xxAlarm",
            alarm_description="Endpoint returns 5XX errors: rolls a blue/green deployment back",
            metric=metric("Invocation5XXErrors", "Sum"),
            threshold=config.rollback_5xx_errors,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        latency = cloudwatch.Alarm(
            self,
            "ModelLatencyAlarm",
            alarm_description="Model latency above the limit: rolls a blue/green deployment back",
            metric=metric("ModelLatency", "p99"),  # microseconds
            threshold=config.rollback_model_latency_ms * 1000,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=2,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        return [errors, latency]

    def _deployment_config(self, config: PlatformConfig) -> sagemaker.CfnEndpoint.DeploymentConfigProperty:
        rollback = sagemaker.CfnEndpoint.AutoRollbackConfigProperty(
            alarms=[sagemaker.CfnEndpoint.AlarmProperty(alarm_name=a.alarm_name) for a in self.alarms]
        )
        canary_fits = config.endpoint_min_instances >= 2
        if config.serving_mode == "realtime" and not canary_fits:
            # "the canary size should be less than or equal to 50% of the new fleet's capacity"
            # (https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-blue-green-canary.html): on one
            # instance the canary is the whole fleet, so shift all at once and bake with the same alarms instead.
            cdk.Annotations.of(self).add_warning_v2(
                "mlops:canary-needs-two-instances",
                f"endpoint_min_instances is {config.endpoint_min_instances}: a canary needs at least 2 instances "
                "(at most 50% of the new fleet), so deployments shift ALL_AT_ONCE and bake "
                f"{config.canary_bake_seconds} s with automatic rollback on the alarms.",
            )
        if config.serving_mode == "realtime" and canary_fits:
            routing = sagemaker.CfnEndpoint.TrafficRoutingConfigProperty(
                type="CANARY",
                canary_size=sagemaker.CfnEndpoint.CapacitySizeProperty(
                    type="CAPACITY_PERCENT", value=config.canary_percent
                ),
                wait_interval_in_seconds=config.canary_bake_seconds,
            )
        else:
            # Canary and linear shifting need instances (two at least); serverless and async endpoints shift all
            # at once.
            routing = sagemaker.CfnEndpoint.TrafficRoutingConfigProperty(
                type="ALL_AT_ONCE", wait_interval_in_seconds=config.canary_bake_seconds
            )
        return sagemaker.CfnEndpoint.DeploymentConfigProperty(
            blue_green_update_policy=sagemaker.CfnEndpoint.BlueGreenUpdatePolicyProperty(
                traffic_routing_configuration=routing,
                termination_wait_in_seconds=config.termination_wait_seconds,
                maximum_execution_timeout_in_seconds=3 * config.canary_bake_seconds
                + config.termination_wait_seconds
                + 1800,
            ),
            auto_rollback_configuration=rollback,
        )

    def _autoscaling(self, config: PlatformConfig, conditional: bool = True) -> None:
        target = autoscaling.ScalableTarget(
            self,
            "ScalableTarget",
            service_namespace=autoscaling.ServiceNamespace.SAGEMAKER,
            resource_id=f"endpoint/{self.endpoint_name}/variant/{VARIANT}",
            scalable_dimension="sagemaker:variant:DesiredInstanceCount",
            min_capacity=config.endpoint_min_instances,
            max_capacity=config.endpoint_max_instances,
        )
        policy = target.scale_to_track_metric(
            "InvocationsPerInstance",
            target_value=config.invocations_per_instance_target,
            predefined_metric=autoscaling.PredefinedMetric.SAGEMAKER_VARIANT_INVOCATIONS_PER_INSTANCE,
            scale_in_cooldown=cdk.Duration.seconds(config.scale_in_cooldown_seconds),
            scale_out_cooldown=cdk.Duration.seconds(config.scale_out_cooldown_seconds),
        )
        scalable = target.node.default_child
        assert isinstance(scalable, cdk.CfnResource)
        scalable.add_resource_dependency(self.endpoint)  # the variant must exist before it can be registered
        for child in (scalable, policy.node.default_child) if conditional else ():
            child.cfn_options.condition = self.has_model  # type: ignore[union-attr]

    def _batch_transform(
        self,
        config: PlatformConfig,
        key: kms.IKey,
        capture_bucket: s3.IBucket,
        group: str,
        approved_package: ssm.IStringParameter,
    ) -> PythonHandler:
        """Batch scoring with the approved package: a file under batch/input/<batch>/ starts a transform job."""
        name_prefix = config.resource_name("serving")
        handler = PythonHandler(
            self,
            "BatchTransform",
            folder="batch_transform",
            description="Starts a batch transform job with the approved model package",
            environment={
                "APPROVED_PACKAGE_PARAMETER": config.approved_package_parameter,
                "BATCH_BUCKET": capture_bucket.bucket_name,
                "NAME_PREFIX": name_prefix,
                "MODEL_ROLE_ARN": self.model_role.role_arn,
                "KMS_KEY_ARN": key.key_arn,
                "INSTANCE_TYPE": config.batch_instance_type,
                "INSTANCE_COUNT": str(config.batch_instance_count),
            },
            powertools_layer_version=config.powertools_layer_version,
        )
        approved_package.grant_read(handler.role)
        # The model's execution role goes to SageMaker only (CreateModel), not to any service that accepts a role
        # (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html#ck_PassedToService).
        handler.role.add_to_policy(
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[self.model_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            )
        )
        # An event that still fails after Lambda's asynchronous retries lands here, not nowhere.
        self._failure_queue(
            handler, "BatchTransformFailures", "the on-failure destination of the batch transform function"
        )
        jobs = [
            self.format_arn(service="sagemaker", resource=kind, resource_name=f"{name_prefix}-batch-*")
            for kind in ("model", "transform-job")
        ]
        handler.role.add_to_policy(
            iam.PolicyStatement(actions=["sagemaker:CreateModel", "sagemaker:CreateTransformJob"], resources=jobs)
        )
        handler.role.add_to_policy(
            iam.PolicyStatement(
                actions=["sagemaker:DescribeModelPackage"],
                resources=[self.format_arn(service="sagemaker", resource="model-package", resource_name=f"{group}/*")],
            )
        )
        capture_bucket.grant_read_write(self.model_role, "batch/*")
        # The capture bucket sends its object events to EventBridge (switched on for the drift monitor too).
        events.Rule(
            self,
            "BatchInputArrived",
            description="A file arrived under batch/input/: score it with the approved model",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={
                    "bucket": {"name": [capture_bucket.bucket_name]},
                    "object": {"key": [{"prefix": "batch/input/"}]},
                },
            ),
            targets=[targets.LambdaFunction(handler.function, retry_attempts=2)],
        )
        return handler

    def _failure_queue(self, handler: PythonHandler, construct_id: str, what: str) -> sqs.Queue:
        """An encrypted queue that keeps, for 14 days, the asynchronous invocations of `handler` that still fail
        after Lambda's 2 retries or 6 h (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html)."""
        queue = sqs.Queue(
            self,
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

    def _live_check_environment(self, config: PlatformConfig) -> dict[str, str]:
        """What the deploy function needs to compare the live endpoint with the stack (single-model modes)."""
        if self.multi_model or self.triton:
            return {}
        return {
            "ENDPOINT_NAME": self.endpoint_name,
            "ENDPOINT_CONFIG_LOGICAL_ID": self.get_logical_id(self.endpoint_config),
            "DEPLOY_METRICS_NAMESPACE": f"{config.project_name}/deploy",
        }

    def _grant_live_check(self, config: PlatformConfig, role: iam.IRole) -> None:
        """Read the live endpoint -> config -> model chain; publish the mismatch metric, which is alarmed."""
        names = {"endpoint": self.endpoint_name, "endpoint-config": "*", "model": "*"}
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["sagemaker:DescribeEndpoint", "sagemaker:DescribeEndpointConfig", "sagemaker:DescribeModel"],
                resources=[self.format_arn(service="sagemaker", resource=k, resource_name=v) for k, v in names.items()],
            )
        )
        namespace = f"{config.project_name}/deploy"
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": namespace}},
            )
        )
        alarm = cloudwatch.Alarm(
            self,
            "LiveConfigMismatchAlarm",
            alarm_description="The endpoint serves another EndpointConfig than the serving stack's (a SageMaker "
            "rollback CloudFormation reported as success): the desired package was reset to the live one",
            metric=cloudwatch.Metric(
                namespace=namespace,
                metric_name=MISMATCH_METRIC,
                dimensions_map={"EndpointName": self.endpoint_name},
                statistic="Maximum",
                period=cdk.Duration.minutes(5),
            ),
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(cw_actions.SnsAction(self.notifications))

    def _deploy_path(self, config: PlatformConfig, group: str, approved_package: ssm.IStringParameter) -> PythonHandler:
        handler = PythonHandler(
            self,
            "DeployModel",
            folder="deploy_model",
            description="Deploys an approved model package to the endpoint (blue/green, via this stack)",
            environment={
                "MODEL_PACKAGE_GROUP": group,
                "APPROVED_PACKAGE_PARAMETER": config.approved_package_parameter,
                "SERVING_STACK_NAME": self.stack_name,
                "PENDING_PACKAGE_PARAMETER": pending_package_parameter_name(config),
                "UPDATE_RESOURCE_TYPES": ",".join(DEPLOY_RESOURCE_TYPES),
                **self._live_check_environment(config),
                **({"MULTI_MODEL_URL": self.multi_model_url} if self.multi_model else {}),
                **(
                    {
                        "TRITON_MODEL_URL": self.triton_model_url,
                        "TRITON_LIVE_MODEL_PARAMETER": self.triton_live_model.parameter_name,
                    }
                    if self.triton
                    else {}
                ),
            },
            powertools_layer_version=config.powertools_layer_version,
            reserved_concurrency=1,  # deployments are serialised: one stack update at a time
        )
        role = handler.role
        role.add_to_policy(
            iam.PolicyStatement(
                # Update: a manually approved package that is not ready is set back to Rejected, with the reason.
                actions=["sagemaker:DescribeModelPackage", "sagemaker:UpdateModelPackage"],
                resources=[self.format_arn(service="sagemaker", resource="model-package", resource_name=f"{group}/*")],
            )
        )
        approved_package.grant_read(role)
        approved_package.grant_write(role)
        # A manual approval publishes the package's model card, as the retraining loop's does; the card's content
        # is the pipeline's governance output.
        grant_model_card_publishing(role, group)
        self._artifact_bucket.grant_read(role, f"{PIPELINE_PREFIX}/*")
        self._key.grant_decrypt(role)
        if self.multi_model:  # copies approved model artifacts under the multi-model prefix
            self._artifact_bucket.grant_read(role)
            self._artifact_bucket.grant_put(role, f"{MULTI_MODEL_PREFIX}/*")
            self._key.grant_encrypt_decrypt(role)
        if self.triton:
            # Copies an approved package's Triton archive (written by the pipeline) under the endpoint's prefix.
            self._artifact_bucket.grant_put(role, f"{TRITON_PREFIX}/*")
            self._key.grant_encrypt_decrypt(role)
            self.triton_live_model.grant_write(role)
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["cloudformation:DescribeStacks", "cloudformation:DescribeStackResource"],
                resources=[self.stack_id],
            )
        )
        # UpdateStack runs with the stack's CloudFormation role (CDK's execution role), which CloudFormation uses
        # "even if the users don't have permission to pass it" (API_UpdateStack, RoleARN). So the call itself is
        # fenced: no TemplateURL (the template of the last deploy, or a body), and exactly DEPLOY_RESOURCE_TYPES,
        # so CloudFormation refuses an update through this role that would create or change anything else
        # (IAM roles, functions, buckets). Condition keys: Service Authorization Reference, AWS CloudFormation.
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["cloudformation:UpdateStack"],
                resources=[self.stack_id],
                conditions={
                    "Null": {"cloudformation:TemplateUrl": "true", "cloudformation:ResourceTypes": "false"},
                    "ForAllValues:StringEquals": {"cloudformation:ResourceTypes": list(DEPLOY_RESOURCE_TYPES)},
                },
            )
        )
        pending = self.format_arn(
            service="ssm", resource="parameter", resource_name=pending_package_parameter_name(config).lstrip("/")
        )
        role.add_to_policy(iam.PolicyStatement(actions=["ssm:GetParameter", "ssm:PutParameter"], resources=[pending]))
        if self._live_check_environment(config):
            self._grant_live_check(config, role)
        # UpdateStack without a RoleARN runs as the role the stack was deployed with (CDK's CloudFormation
        # execution role), which the function hands over to CloudFormation.
        qualifier = self.node.try_get_context("@aws-cdk/core:bootstrapQualifier") or "hnb659fds"
        # The template's BootstrapVersion parameter is an SSM parameter type; CloudFormation resolves it with the
        # UpdateStack caller's permissions, so the caller needs ssm:GetParameters on it ("Systems Manager parameter
        # types", https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-supplied-parameter-types.html).
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["ssm:GetParameters"],
                resources=[
                    self.format_arn(
                        service="ssm", resource="parameter", resource_name=f"cdk-bootstrap/{qualifier}/version"
                    )
                ],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[
                    self.format_arn(
                        service="iam",
                        region="",
                        resource="role",
                        resource_name=f"cdk-{qualifier}-cfn-exec-role-{self.account}-{self.region}",
                    )
                ],
                conditions={"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}},
            )
        )
        # Function errors (RetryLater while the stack updates) are retried by Lambda's asynchronous invocation.
        dead_letters = self._failure_queue(
            handler, "DeployDeadLetters", "the dead-letter queue of the deploy function and of its event rules"
        )
        target = targets.LambdaFunction(
            handler.function, dead_letter_queue=dead_letters, retry_attempts=4, max_event_age=cdk.Duration.hours(2)
        )
        events.Rule(
            self,
            "ModelApproved",
            description="A model package of this project was approved",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=["SageMaker Model Package State Change"],
                detail={"ModelPackageGroupName": [group], "ModelApprovalStatus": ["Approved"]},
            ),
            targets=[target],
        )
        events.Rule(
            self,
            "DeploymentRolledBack",
            description="An update of this stack finished or rolled back (e.g. the endpoint's blue/green alarms fired)",
            event_pattern=events.EventPattern(
                source=["aws.cloudformation"],
                detail_type=["CloudFormation Stack Status Change"],
                # Every finished update: a rollback resets the desired state, a success is checked against the
                # live endpoint, and either one releases an approval parked during the update.
                detail={
                    "stack-id": [self.stack_id],
                    "status-details": {"status": ["UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE"]},
                },
            ),
            targets=[target],
        )
        return handler
