"""MonitoringStack: watches the endpoint for drift and lost accuracy; a "model degraded" alarm starts retraining,
a "data drift" alarm warns.

- The drift function (lambdas/drift_monitor, with the drift core layer) runs on a schedule and on every new
  capture file (S3 -> EventBridge), compares captured traffic with the baseline of the package approved now, and
  publishes per-feature metrics (MeanShiftSigma, PSI, KS), label shift, the estimated accuracy of unlabelled
  traffic (CBPE, EstimatedAccuracy) and multivariate drift (MultivariateDriftRatio) as EMF. The retraining loop
  relies on it: it needs no Model Monitor and follows a new approval at once.
- SageMaker Model Monitor (data quality, model quality with ground truth) when `model_monitor_enabled`.
- Alarms per feature (mean shift > k sigma, PSI > threshold), multivariate drift (PCA reconstruction error ratio >
  multivariate_drift_ratio), accuracy < A_min (the drift function joins ground truth with captured predictions;
  Model Monitor's model quality too, when enabled), estimated accuracy < A_min (CBPE, before labels arrive) and
  Model Monitor's drift distances (when enabled), SNS notifications (KMS), and a dashboard.
- Two composites. "model degraded" (accuracy against ground truth below A_min) starts the retraining loop:
  retraining learns from labels, and labels of the new concept exist only once ground truth has arrived, which
  is when this alarm can fire (docs/demo-story.md). "data drift" (any feature alarm, multivariate drift or the
  estimated accuracy below A_min) is the early warning: it notifies, and starts nothing, since a retraining
  started then would train on labels of the old concept.

No endpoint yet: like the ServingStack, this stack reads the approved-package SSM parameter as a CloudFormation
parameter, and its HasApprovedModel condition leaves the Model Monitor job definitions and schedules out while the
value is "none" (they need an existing endpoint). They appear with the first deploy of this stack after an
approval (`cdk deploy --all` deploys serving first, so the endpoint exists by then); the deploy function updates
only the serving stack, so until that deploy only the drift function watches a newly created endpoint. Alarms,
the drift function and the dashboard need no endpoint and are always there (no data, no alarm).
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from contracts import environment as env_names
from contracts import metrics
from contracts import serving as modes
from contracts.metrics import (
    ACCURACY,
    BASELINE_MISSING,
    ESTIMATED_ACCURACY,
    GROUND_TRUTH_MATCHED,
    KS,
    LABEL_SHIFT,
    MALFORMED,
    MEAN_SHIFT_SIGMA,
    MULTIVARIATE_RATIO,
    PSI,
    ROWS,
)
from platform_config.platform import PlatformConfig
from stacks.build_stack import PIPELINE_PREFIX
from stacks.constructs.approved_package import resolve_approved_package
from stacks.constructs.drift_layer import DriftCoreLayer
from stacks.constructs.model_monitor import BASELINE_DRIFT_THRESHOLD, BASELINE_PREFIX, ModelMonitorSchedules
from stacks.constructs.monitoring_dashboard import monitoring_dashboard
from stacks.constructs.python_handler import PythonHandler
from stacks.constructs.s3_object_events import object_created

SERVICE = "drift_monitor"  # the function's folder: Powertools adds it as the `service` dimension of every metric
MARKER_PREFIX = "drift-monitor/processed"


class MonitoringStack(cdk.Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PlatformConfig,
        key: kms.IKey,
        capture_bucket: s3.IBucket,
        capture_prefix: str,
        artifact_bucket: s3.IBucket,
        endpoint_name: str,
        variant_name: str,
        model_package_group_name: str,
        approved_package: ssm.IStringParameter,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        self.endpoint_name, self.variant_name = endpoint_name, variant_name
        self.namespace = metrics.drift_namespace(config.project_name)
        self.period = cdk.Duration.minutes(config.drift_check_rate_minutes)
        self.model_monitor: ModelMonitorSchedules | None = None
        # SageMaker Model Monitor does not monitor multi-model endpoints, which the Triton endpoint is.
        if config.model_monitor_enabled and config.serving_mode != modes.TRITON:
            # Only the schedules wait for a deployed model: without them, no parameter or condition is built.
            _, has_model = resolve_approved_package(self, config)
            self.model_monitor = ModelMonitorSchedules(
                self,
                "ModelMonitor",
                config=config,
                key=key,
                capture_bucket=capture_bucket,
                capture_prefix=capture_prefix,
                artifact_bucket=artifact_bucket,
                endpoint_name=endpoint_name,
                condition=has_model,
            )
        self.drift_function = self._drift_function(
            config, capture_bucket, capture_prefix, artifact_bucket, model_package_group_name, approved_package
        )
        self._triggers(config, capture_bucket, capture_prefix)
        self.alarm_topic = self._alarm_topic()
        self.feature_alarms = self._feature_alarms(config)
        self.quality_alarms = self._quality_alarms(config)
        self.estimated_accuracy_alarm = self._estimated_accuracy_alarm(config)
        self.degraded_alarm = cloudwatch.CompositeAlarm(
            self,
            "ModelDegraded",
            composite_alarm_name=config.resource_name("model-degraded"),
            alarm_description="Model degraded: accuracy against ground truth fell below A_min (starts retraining)",
            alarm_rule=cloudwatch.AlarmRule.any_of(*self.quality_alarms),
        )
        self.drift_warning_alarm = cloudwatch.CompositeAlarm(
            self,
            "DataDrift",
            composite_alarm_name=config.resource_name("data-drift"),
            alarm_description="Early warning: a feature or the features' joint structure drifted, or the estimated "
            "accuracy fell below A_min (notifies; retraining waits for ground truth, see model-degraded)",
            alarm_rule=cloudwatch.AlarmRule.any_of(*self.feature_alarms, self.estimated_accuracy_alarm),
        )
        for composite in (self.degraded_alarm, self.drift_warning_alarm):
            composite.add_alarm_action(cw_actions.SnsAction(self.alarm_topic))
            composite.add_ok_action(cw_actions.SnsAction(self.alarm_topic))
        self.monitor_broken_alarm = self._monitor_broken_alarm()
        self.dashboard = self._dashboard(config)
        cdk.CfnOutput(self, "ModelDegradedAlarmName", value=self.degraded_alarm.alarm_name)

    # ---- drift function ----------------------------------------------------------------------------------

    def _drift_function(
        self,
        config: PlatformConfig,
        capture_bucket: s3.IBucket,
        capture_prefix: str,
        artifact_bucket: s3.IBucket,
        group: str,
        approved_package: ssm.IStringParameter,
    ) -> PythonHandler:
        self.layer = DriftCoreLayer(self, "DriftCore").layer
        environment = {
            env_names.ENDPOINT_NAME: self.endpoint_name,
            env_names.VARIANT_NAME: self.variant_name,
            env_names.CAPTURE_BUCKET: capture_bucket.bucket_name,
            env_names.CAPTURE_PREFIX: capture_prefix,
            env_names.MARKER_PREFIX: MARKER_PREFIX,
            env_names.APPROVED_PACKAGE_PARAMETER: config.approved_package_parameter,
            env_names.POWERTOOLS_METRICS_NAMESPACE: self.namespace,
            env_names.DRIFT_SIGMA: str(config.drift_sigma),
            env_names.PSI_THRESHOLD: str(config.psi_threshold),
            env_names.LOOKBACK_HOURS: str(config.drift_lookback_hours),
            env_names.MIN_ROWS: str(config.drift_min_rows),
            env_names.GROUND_TRUTH_PREFIX: config.ground_truth_prefix,
        }
        if config.serving_mode == modes.TRITON:
            # KServe v2 tensors of encoded features: decoded with the package's feature_encoding.json, which sits
            # next to its Triton archive in the pipeline's output (read under the PIPELINE_PREFIX grant below).
            environment[env_names.SERVING_MODE] = modes.TRITON
        if self.model_monitor is not None:
            environment[env_names.MONITOR_BASELINE_URI] = artifact_bucket.s3_url_for_object(BASELINE_PREFIX)
        handler = PythonHandler(
            self,
            "DriftMonitor",
            folder=SERVICE,
            description="Drift of captured endpoint traffic against the deployed model's baseline (EMF metrics)",
            environment=environment,
            powertools_layer_version=config.powertools_layer_version,
            timeout_seconds=300,
            memory_mb=1024,
            layers=[self.layer],
            # One sweep at a time: event bursts queue (Lambda retries throttled async events) instead of racing.
            reserved_concurrency=1,
        )
        role = handler.role
        approved_package.grant_read(role)
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["sagemaker:DescribeModelPackage"],
                resources=[self.format_arn(service="sagemaker", resource="model-package", resource_name=f"{group}/*")],
            )
        )
        # Which package served the captured requests: the live endpoint -> config -> model chain (generated names).
        live = {"endpoint": self.endpoint_name, "endpoint-config": "*", "model": "*"}
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["sagemaker:DescribeEndpoint", "sagemaker:DescribeEndpointConfig", "sagemaker:DescribeModel"],
                resources=[self.format_arn(service="sagemaker", resource=k, resource_name=v) for k, v in live.items()],
            )
        )
        capture_bucket.grant_read(role, f"{capture_prefix}/*")
        capture_bucket.grant_read(role, f"{config.ground_truth_prefix}/*")
        # Markers: written once per file, read back for the predictions that ground truth is joined with.
        markers = f"{MARKER_PREFIX.split('/')[0]}/*"
        capture_bucket.grant_read(role, markers)
        capture_bucket.grant_put(role, markers)  # never delete: a deleted marker would let a file count twice
        # The pipeline's baseline step output (and, in triton mode, PackageTriton's feature_encoding.json)
        artifact_bucket.grant_read(role, f"{PIPELINE_PREFIX}/*")
        if self.model_monitor is not None:
            artifact_bucket.grant_read(role, f"{BASELINE_PREFIX}/*")
            artifact_bucket.grant_put(role, f"{BASELINE_PREFIX}/*")
        return handler

    def _triggers(self, config: PlatformConfig, capture_bucket: s3.IBucket, capture_prefix: str) -> None:
        target = targets.LambdaFunction(
            self.drift_function.function, retry_attempts=2, max_event_age=cdk.Duration.hours(1)
        )
        events.Rule(
            self,
            "DriftSchedule",
            description="Scheduled drift check of the endpoint's captured traffic",
            schedule=events.Schedule.rate(self.period),
            targets=[target],
        )
        events.Rule(
            self,
            "CaptureObjectCreated",
            description="A new data-capture file of the endpoint",
            event_pattern=object_created(capture_bucket.bucket_name, f"{capture_prefix}/{self.endpoint_name}/"),
            targets=[target],
        )
        _send_object_events_to_eventbridge(capture_bucket)

    # ---- alarms ------------------------------------------------------------------------------------------

    def drift_metric(
        self, name: str, feature: str | None = None, statistic: str = "Maximum", label: str | None = None
    ) -> cloudwatch.Metric:
        dimensions = {metrics.ENDPOINT_NAME: self.endpoint_name, metrics.SERVICE: SERVICE}
        if feature is not None:
            dimensions[metrics.FEATURE] = feature
        return cloudwatch.Metric(
            namespace=self.namespace,
            metric_name=name,
            dimensions_map=dimensions,
            statistic=statistic,
            period=self.period,
            label=label,  # dashboards only: a labelled metric turns an alarm into a metric-math alarm
        )

    def _alarm(
        self, construct_id: str, description: str, metric: cloudwatch.IMetric, **kwargs: Any
    ) -> cloudwatch.Alarm:
        return cloudwatch.Alarm(
            self,
            construct_id,
            alarm_description=description,
            metric=metric,
            evaluation_periods=1,
            # No new traffic in a period is no evidence of drift.
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            **kwargs,
        )

    def _feature_alarms(self, config: PlatformConfig) -> list[cloudwatch.Alarm]:
        above = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD
        alarms = []
        for feature in config.features:
            title = feature.name[:1].upper() + feature.name[1:]
            if feature.type != "String":  # a categorical feature has no mean
                alarms.append(
                    self._alarm(
                        f"{title}MeanShiftAlarm",
                        f"Mean of '{feature.name}' moved more than {config.drift_sigma:g} baseline sigmas",
                        self.drift_metric(MEAN_SHIFT_SIGMA, feature.name),
                        threshold=config.drift_sigma,
                        comparison_operator=above,
                    )
                )
            alarms.append(
                self._alarm(
                    f"{title}PsiAlarm",
                    f"PSI of '{feature.name}' against its baseline above {config.psi_threshold:g}",
                    self.drift_metric(PSI, feature.name),
                    threshold=config.psi_threshold,
                    comparison_operator=above,
                )
            )
            if self.model_monitor is not None:
                alarms.append(
                    self._alarm(
                        f"{title}BaselineDriftAlarm",
                        f"Model Monitor: baseline drift distance of '{feature.name}' above its constraint",
                        self.model_monitor.baseline_drift_metric(feature.name, cdk.Duration.hours(1)),
                        threshold=BASELINE_DRIFT_THRESHOLD,
                        comparison_operator=above,
                    )
                )
        alarms.append(
            self._alarm(
                "MultivariateDriftAlarm",
                "PCA reconstruction error of the numeric features above"
                f" {config.multivariate_drift_ratio:g}x the training data's (their joint structure changed)",
                self.drift_metric(MULTIVARIATE_RATIO),
                threshold=config.multivariate_drift_ratio,
                comparison_operator=above,
            )
        )
        return alarms

    def _estimated_accuracy_alarm(self, config: PlatformConfig) -> cloudwatch.Alarm:
        """Before any label arrives: the calibrated confidences of the served predictions (CBPE). An early warning,
        not a retraining trigger: the labels a retraining needs do not exist yet."""
        return self._alarm(
            "EstimatedAccuracyAlarm",
            f"Estimated accuracy of unlabelled traffic (CBPE) below A_min {config.min_accuracy:g}",
            self.drift_metric(ESTIMATED_ACCURACY, statistic="Minimum"),
            threshold=config.min_accuracy,
            comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        )

    def _quality_alarms(self, config: PlatformConfig) -> list[cloudwatch.Alarm]:
        below = cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD
        alarms = [
            self._alarm(
                "AccuracyAlarm",
                f"Accuracy of captured predictions against ground truth below A_min {config.min_accuracy:g}",
                self.drift_metric(ACCURACY, statistic="Minimum"),
                threshold=config.min_accuracy,
                comparison_operator=below,
            ),
        ]
        if self.model_monitor is None:
            return alarms
        return [
            *alarms,
            self._alarm(
                "ModelMonitorAccuracyAlarm",
                f"Model Monitor: accuracy against ground truth below A_min {config.min_accuracy:g}",
                self.model_monitor.accuracy_metric(cdk.Duration.hours(1)),
                threshold=config.min_accuracy,
                comparison_operator=below,
            ),
        ]

    def _monitor_broken_alarm(self) -> cloudwatch.Alarm:
        """The approved package has no readable baseline: drift is not being measured (not model degradation)."""
        alarm = self._alarm(
            "BaselineMissingAlarm",
            "Drift monitor cannot read the deployed model's baseline: drift is not being checked",
            self.drift_metric(BASELINE_MISSING, statistic="Sum"),
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        )
        alarm.add_alarm_action(cw_actions.SnsAction(self.alarm_topic))
        return alarm

    def _alarm_topic(self) -> sns.Topic:
        key = kms.Key(
            self,
            "AlarmTopicKey",
            description=f"{self.config.project_name}: monitoring alarm notifications",
            enable_key_rotation=True,
        )
        # CloudWatch publishes alarm notifications to the encrypted topic: it needs the key, for this account only.
        key.add_to_resource_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": self.account}},
            )
        )
        return sns.Topic(self, "AlarmTopic", master_key=key, enforce_ssl=True)

    def _dashboard(self, config: PlatformConfig) -> cloudwatch.Dashboard:
        numeric = [f.name for f in config.features if f.type != "String"]
        accuracy = [
            self.drift_metric(ACCURACY, statistic="Minimum", label="drift monitor"),
            self.drift_metric(ESTIMATED_ACCURACY, statistic="Minimum", label="estimated (CBPE, no labels)"),
        ]
        if self.model_monitor:
            accuracy.append(self.model_monitor.accuracy_metric(cdk.Duration.hours(1)).with_(label="Model Monitor"))
        return monitoring_dashboard(
            self,
            "Dashboard",
            name=config.resource_name("monitoring"),
            endpoint=self.endpoint_name,
            variant=self.variant_name,
            mean_shift=[self.drift_metric(MEAN_SHIFT_SIGMA, name, label=name) for name in numeric],
            psi=[self.drift_metric(PSI, f.name, label=f.name) for f in config.features],
            ks=[self.drift_metric(KS, name, label=name) for name in numeric],
            accuracy=accuracy,
            data_volume=[
                self.drift_metric(ROWS, statistic="Sum", label="rows analysed"),
                self.drift_metric(MALFORMED, statistic="Sum", label="malformed records"),
                self.drift_metric(GROUND_TRUTH_MATCHED, statistic="Sum", label="ground truth joined"),
                self.drift_metric(LABEL_SHIFT, label="label shift (L-inf, predicted vs training)"),
                self.drift_metric(MULTIVARIATE_RATIO, label="multivariate drift (PCA error ratio)"),
            ],
            sigma=config.drift_sigma,
            psi_threshold=config.psi_threshold,
            min_accuracy=config.min_accuracy,
            alarms=[
                self.degraded_alarm,
                self.drift_warning_alarm,
                *self.feature_alarms,
                *self.quality_alarms,
                self.estimated_accuracy_alarm,
                self.monitor_broken_alarm,
            ],
        )


def _send_object_events_to_eventbridge(bucket: s3.IBucket) -> None:
    """Turn on S3 -> EventBridge delivery on the capture bucket (a property of that bucket, in the data stack).

    Set on the bucket's CloudFormation resource directly: `Bucket.enable_event_bridge_notification()` would add a
    custom resource and its Lambda function to the data stack for the same single property.
    """
    cfn = bucket.node.default_child
    if not isinstance(cfn, s3.CfnBucket):
        raise TypeError("the capture bucket must be a bucket defined in this app (its EventBridge switch is set here)")
    cfn.add_property_override("NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled", True)
