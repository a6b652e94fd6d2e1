"""SageMaker Model Monitor on the endpoint: an hourly data-quality and an hourly model-quality schedule.

Data quality compares captured requests with the baseline at BASELINE_PREFIX in the artifact bucket: a fixed
location to which the drift function copies the baseline of the package that is approved now (lambdas/
drift_monitor), so the job definition never needs replacing when a new model is approved. Model quality joins
captured predictions with ground-truth labels that the application writes to the capture bucket under
`ground_truth_prefix` (SageMaker's ground-truth JSON lines, matched by eventId), and reports accuracy.

Both schedules need the endpoint; the caller passes the stack's HasApprovedModel condition, which leaves them
out until a model is approved (see stacks/monitoring_stack.py).
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from contracts import metrics
from pipeline_definition.sdk_cache import cached
from platform_config.platform import PlatformConfig
from stacks.constructs.sagemaker_grants import grant_image_pull, grant_sagemaker_logs

BASELINE_PREFIX = "monitoring-baseline"
REPORTS_PREFIX = "monitoring-reports"
HOURLY = "cron(0 * ? * * *)"
# The baseline step writes this comparison_threshold into constraints.json (drift_core's Thresholds default):
# Model Monitor reports a violation when a feature's baseline drift distance exceeds it.
BASELINE_DRIFT_THRESHOLD = 0.1


def model_monitor_image(region: str) -> str:
    """Model Monitor's analyzer image for a region, from the SageMaker SDK's table (no hand-kept account map)."""

    def retrieve() -> str:
        from sagemaker import image_uris

        return str(image_uris.retrieve("model-monitor", region))

    return cached("model-monitor-image", [region], retrieve)


def _name_of(job_definition_arn: str) -> str:
    """The name in a job definition ARN (…:data-quality-job-definition/<name>). The definitions get generated
    names: they are immutable, so every change replaces them, which a fixed name would block."""
    return cdk.Fn.select(1, cdk.Fn.split("/", job_definition_arn))


class ModelMonitorSchedules(Construct):
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
        condition: cdk.CfnCondition,
    ) -> None:
        super().__init__(scope, construct_id)
        self.endpoint_name = endpoint_name
        image = model_monitor_image(config.region)
        self.role = self._role(config, key, capture_bucket, capture_prefix, artifact_bucket, image)
        self.data_quality_schedule_name = config.resource_name("data-quality")
        self.model_quality_schedule_name = config.resource_name("model-quality")
        output = artifact_bucket.s3_url_for_object(REPORTS_PREFIX)
        data_quality = sagemaker.CfnDataQualityJobDefinition(
            self,
            "DataQualityJob",
            data_quality_app_specification=sagemaker.CfnDataQualityJobDefinition.DataQualityAppSpecificationProperty(
                image_uri=image
            ),
            data_quality_baseline_config=sagemaker.CfnDataQualityJobDefinition.DataQualityBaselineConfigProperty(
                constraints_resource=sagemaker.CfnDataQualityJobDefinition.ConstraintsResourceProperty(
                    s3_uri=artifact_bucket.s3_url_for_object(f"{BASELINE_PREFIX}/constraints.json")
                ),
                statistics_resource=sagemaker.CfnDataQualityJobDefinition.StatisticsResourceProperty(
                    s3_uri=artifact_bucket.s3_url_for_object(f"{BASELINE_PREFIX}/statistics.json")
                ),
            ),
            data_quality_job_input=sagemaker.CfnDataQualityJobDefinition.DataQualityJobInputProperty(
                endpoint_input=sagemaker.CfnDataQualityJobDefinition.EndpointInputProperty(
                    endpoint_name=endpoint_name, local_path="/opt/ml/processing/input/endpoint"
                )
            ),
            **self._job(sagemaker.CfnDataQualityJobDefinition, config, key, f"{output}/data-quality", "data_quality"),
        )
        model_quality = sagemaker.CfnModelQualityJobDefinition(
            self,
            "ModelQualityJob",
            model_quality_app_specification=sagemaker.CfnModelQualityJobDefinition.ModelQualityAppSpecificationProperty(
                image_uri=image,
                # String class labels ("Yes"/"No"): Model Monitor's binary type wants 0/1, multiclass takes labels.
                problem_type="MulticlassClassification",
            ),
            model_quality_job_input=sagemaker.CfnModelQualityJobDefinition.ModelQualityJobInputProperty(
                endpoint_input=sagemaker.CfnModelQualityJobDefinition.EndpointInputProperty(
                    endpoint_name=endpoint_name,
                    local_path="/opt/ml/processing/input/endpoint",
                    # The JSON response of pipeline_code/inference.py, one prediction per captured request.
                    inference_attribute="predictions[0].label",
                    # Ground truth arrives after the prediction: judge the hours from a day ago to an hour ago.
                    start_time_offset="-P1D",
                    end_time_offset="-PT1H",
                ),
                ground_truth_s3_input=sagemaker.CfnModelQualityJobDefinition.MonitoringGroundTruthS3InputProperty(
                    s3_uri=capture_bucket.s3_url_for_object(config.ground_truth_prefix)
                ),
            ),
            **self._job(
                sagemaker.CfnModelQualityJobDefinition, config, key, f"{output}/model-quality", "model_quality"
            ),
        )
        schedules = []
        for kind, name, definition in (
            ("DataQuality", self.data_quality_schedule_name, _name_of(data_quality.attr_job_definition_arn)),
            ("ModelQuality", self.model_quality_schedule_name, _name_of(model_quality.attr_job_definition_arn)),
        ):
            schedules.append(
                sagemaker.CfnMonitoringSchedule(
                    self,
                    f"{kind}Schedule",
                    monitoring_schedule_name=name,
                    endpoint_name=endpoint_name,
                    monitoring_schedule_config=sagemaker.CfnMonitoringSchedule.MonitoringScheduleConfigProperty(
                        monitoring_job_definition_name=definition,
                        monitoring_type=kind,
                        schedule_config=sagemaker.CfnMonitoringSchedule.ScheduleConfigProperty(
                            schedule_expression=HOURLY
                        ),
                    ),
                )
            )
        for resource in (data_quality, model_quality, *schedules):
            resource.cfn_options.condition = condition
            resource.node.add_dependency(self.role)  # the jobs run as the role: its policy must exist first

    def _job(self, cls: Any, config: PlatformConfig, key: kms.IKey, uri: str, kind: str) -> dict[str, Any]:
        """Resources, role, time limit and KMS-encrypted output of a job definition (per class: jsii structs are
        typed by the resource they belong to)."""
        return {
            "job_resources": cls.MonitoringResourcesProperty(
                cluster_config=cls.ClusterConfigProperty(
                    instance_count=1,
                    instance_type=config.monitoring_instance_type,
                    volume_size_in_gb=20,
                    volume_kms_key_id=key.key_arn,
                )
            ),
            "role_arn": self.role.role_arn,
            "stopping_condition": cls.StoppingConditionProperty(max_runtime_in_seconds=1800),
            f"{kind}_job_output_config": cls.MonitoringOutputConfigProperty(
                kms_key_id=key.key_arn,
                monitoring_outputs=[
                    cls.MonitoringOutputProperty(
                        s3_output=cls.S3OutputProperty(
                            local_path="/opt/ml/processing/output", s3_uri=uri, s3_upload_mode="EndOfJob"
                        )
                    )
                ],
            ),
        }

    def _role(
        self,
        config: PlatformConfig,
        key: kms.IKey,
        capture_bucket: s3.IBucket,
        capture_prefix: str,
        artifact_bucket: s3.IBucket,
        image: str,
    ) -> iam.Role:
        role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="Model Monitor jobs: read capture, ground truth and baseline; write reports and metrics",
        )
        capture_bucket.grant_read(role, f"{capture_prefix}/*")
        capture_bucket.grant_read(role, f"{config.ground_truth_prefix}/*")
        artifact_bucket.grant_read(role, f"{BASELINE_PREFIX}/*")
        artifact_bucket.grant_put(role, f"{REPORTS_PREFIX}/*")
        key.grant_encrypt_decrypt(role)
        grant_image_pull(role, image)
        grant_sagemaker_logs(role)
        # Model Monitor publishes its per-feature and quality metrics itself; PutMetricData has no resource scope.
        role.add_to_policy(iam.PolicyStatement(actions=["cloudwatch:PutMetricData"], resources=["*"]))
        return role

    def baseline_drift_metric(self, feature: str, period: cdk.Duration) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace=metrics.MODEL_MONITOR_DATA_NAMESPACE,
            metric_name=f"feature_baseline_drift_{feature}",
            dimensions_map={"Endpoint": self.endpoint_name, "MonitoringSchedule": self.data_quality_schedule_name},
            statistic="Maximum",
            period=period,
        )

    def accuracy_metric(self, period: cdk.Duration) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace=metrics.MODEL_MONITOR_MODEL_NAMESPACE,
            metric_name=metrics.MODEL_MONITOR_ACCURACY,
            dimensions_map={"Endpoint": self.endpoint_name, "MonitoringSchedule": self.model_quality_schedule_name},
            statistic="Minimum",
            period=period,
        )
