"""DataStack: the KMS key, the data buckets and the SageMaker Feature Group."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from contracts import serving as modes
from platform_config.platform import PlatformConfig
from stacks.constructs.secure_bucket import AccessLogBucket, SecureBucket

FEATURE_STORE_PREFIX = "offline-store"
# The preprocess step writes these two columns (pipeline_code/feature_ingest.py; a test keeps both in step).
RECORD_ID = "record_id"
EVENT_TIME = "event_time"


class DataStack(cdk.Stack):
    """Owns the data: everything here is retained when the stack is deleted."""

    def __init__(self, scope: Construct, construct_id: str, *, config: PlatformConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.key = kms.Key(
            self,
            "DataKey",
            description=f"{config.project_name}: data, artifacts, capture and feature store",
            enable_key_rotation=True,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        self.access_logs = AccessLogBucket(self, "AccessLogs", retention_days=config.access_log_retention_days)
        self.raw_bucket = SecureBucket(self, "RawData", key=self.key, access_logs=self.access_logs)
        self.artifact_bucket = SecureBucket(
            self,
            "Artifacts",
            key=self.key,
            access_logs=self.access_logs,
            lifecycle_rules=[s3.LifecycleRule(noncurrent_version_expiration=cdk.Duration.days(90))],
        )
        if config.serving_mode == modes.TRITON:
            from stacks.serving.names import TRITON_PREFIX

            # The delivery smoke test reads the live Triton archive under this prefix (an output here: an output
            # of the serving stack would re-export this stack's bucket, which cfn-lint flags).
            self.triton_model_url_output = cdk.CfnOutput(
                self, "TritonModelUrl", value=self.artifact_bucket.s3_url_for_object(TRITON_PREFIX)
            )
        self.capture_bucket = SecureBucket(
            self,
            "DataCapture",
            key=self.key,
            access_logs=self.access_logs,
            lifecycle_rules=[
                s3.LifecycleRule(
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.INFREQUENT_ACCESS,
                            transition_after=cdk.Duration.days(min(30, config.capture_retention_days)),
                        )
                    ]
                    if config.capture_retention_days > 30
                    else [],
                    expiration=cdk.Duration.days(config.capture_retention_days),
                    noncurrent_version_expiration=cdk.Duration.days(7),
                )
            ],
        )
        self.feature_bucket = SecureBucket(self, "FeatureStore", key=self.key, access_logs=self.access_logs)
        self.feature_group = self._feature_group(config)

    def _feature_group(self, config: PlatformConfig) -> sagemaker.CfnFeatureGroup:
        role = iam.Role(
            self,
            "FeatureStoreRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="Feature Store writes the offline store to S3",
        )
        self.feature_bucket.grant_read_write(role, f"{FEATURE_STORE_PREFIX}/*")
        self.feature_bucket.grant_read(role)
        feature_group_name = config.resource_name("features")
        definitions = [
            {"feature_name": RECORD_ID, "feature_type": "String"},
            {"feature_name": EVENT_TIME, "feature_type": "String"},
            *({"feature_name": f.name, "feature_type": f.type} for f in config.features),
            {"feature_name": config.target_column, "feature_type": "String"},
        ]
        group = sagemaker.CfnFeatureGroup(
            self,
            "FeatureGroup",
            feature_group_name=feature_group_name,
            record_identifier_feature_name=RECORD_ID,
            event_time_feature_name=EVENT_TIME,
            feature_definitions=[sagemaker.CfnFeatureGroup.FeatureDefinitionProperty(**d) for d in definitions],
            online_store_config={"EnableOnlineStore": True, "SecurityConfig": {"KmsKeyId": self.key.key_arn}},
            offline_store_config={
                "S3StorageConfig": {
                    "S3Uri": self.feature_bucket.s3_url_for_object(FEATURE_STORE_PREFIX),
                    "KmsKeyId": self.key.key_arn,
                },
                # A Glue table would need Glue write permissions on the role; Athena users can create it on demand.
                "DisableGlueTableCreation": True,
            },
            role_arn=role.role_arn,
            description="Model features, written by the pipeline's preprocess step",
        )
        group.node.add_dependency(role)
        self.feature_group_arn = cdk.Stack.of(self).format_arn(
            service="sagemaker", resource="feature-group", resource_name=feature_group_name
        )
        return group
