"""BuildStack: the SageMaker Pipeline that turns raw data into a registered model, and its experiment tracking.

The pipeline definition is built at synth time with the SageMaker Python SDK (pipeline_definition/); values
known only at deploy time (bucket names, role, key, asset locations) enter it as `${...}` placeholders that the
template resolves with `Fn::Sub`.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from contracts import serving as modes
from pipeline_definition.images import sklearn_image_uri, xgboost_image_uri
from pipeline_definition.pipeline import BUILDER_SOURCES, build_definition
from pipeline_definition.sdk_cache import cached
from pipeline_definition.spec import PipelineSpec
from platform_config.platform import PlatformConfig, config_sha256
from stacks.code_version import code_version
from stacks.constructs.approved_package import DesiredState
from stacks.constructs.sagemaker_grants import grant_image_pull
from stacks.constructs.sagemaker_roles import JobRole, PipelineRole
from stacks.constructs.step_code import StepCode, script_id

RAW_PREFIX = "raw"
PIPELINE_PREFIX = "pipelines"
MLFLOW_PREFIX = "mlflow"


class BuildStack(cdk.Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PlatformConfig,
        key: kms.IKey,
        raw_bucket: s3.IBucket,
        artifact_bucket: s3.IBucket,
        feature_group_name: str,
        feature_group_arn: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.model_package_group_name = config.resource_name("models")
        self.model_package_group = sagemaker.CfnModelPackageGroup(
            self,
            "ModelPackageGroup",
            model_package_group_name=self.model_package_group_name,
            model_package_group_description=f"{config.project_name}: models that passed the accuracy gate",
        )
        # The model package the endpoint serves (desired state): created once with "none", owned by the deploy
        # function afterwards (see stacks/constructs/approved_package.py for why it is not an AWS::SSM::Parameter).
        self.desired_state = DesiredState(self, "ApprovedModelPackage", config=config)
        self.approved_package = self.desired_state.parameter
        # Stacks deployed before the desired state moved here import the old parameter's name through this export;
        # CloudFormation refuses to delete an export in use, and the value (the name) is unchanged. Drop it once no
        # deployed serving/monitoring/retraining stack imports it (see docs/deploy-path.md, "Upgrading").
        cdk.CfnOutput(
            self,
            "LegacyApprovedPackageExport",
            value=config.approved_package_parameter,
            export_name=f"{self.stack_name}:ExportsOutputRefApprovedModelPackage7E142123ED1D0E5C",
        )
        # serving_mode "triton" adds the PackageTriton step's script (readable by the job role, like the others).
        triton = config.serving_mode == modes.TRITON
        self.step_code = StepCode(self, "StepCode", extra_scripts=("package_triton",) if triton else ())
        self.mlflow = self._mlflow_server(config, key, artifact_bucket)
        self.job_role = JobRole(
            self,
            "JobRole",
            key=key,
            raw_bucket=raw_bucket,
            artifact_bucket=artifact_bucket,
            step_code=self.step_code,
            image_uri=_sklearn_image(config),
            feature_group_arn=feature_group_arn,
            mlflow_tracking_server_arn=self.mlflow.attr_tracking_server_arn,
        )
        if config.training_engine == "xgboost":
            # The XGBoost engine trains, evaluates and serves in the XGBoost framework image.
            grant_image_pull(self.job_role, xgboost_image_uri(config.region, config.xgboost_framework_version))
        self.pipeline_role = PipelineRole(
            self,
            "PipelineRole",
            job_role=self.job_role,
            key=key,
            artifact_bucket=artifact_bucket,
            model_package_group_name=self.model_package_group_name,
        )
        self.pipeline_name = config.resource_name("build")
        self.pipeline = sagemaker.CfnPipeline(
            self,
            "Pipeline",
            pipeline_name=self.pipeline_name,
            pipeline_description=(
                "raw data -> preprocess -> train -> evaluate -> baseline -> governance -> gate -> register"
            ),
            role_arn=self.pipeline_role.role_arn,
            pipeline_definition={
                "PipelineDefinitionBody": self._definition(config, key, raw_bucket, artifact_bucket, feature_group_name)
            },
        )
        self.pipeline.node.add_dependency(self.pipeline_role, self.model_package_group)
        self.pipeline_arn = self.format_arn(service="sagemaker", resource="pipeline", resource_name=self.pipeline_name)
        cdk.CfnOutput(self, "PipelineName", value=self.pipeline_name)
        cdk.CfnOutput(self, "ModelPackageGroupName", value=self.model_package_group_name)
        cdk.CfnOutput(self, "MlflowTrackingServerArn", value=self.mlflow.attr_tracking_server_arn)

    def _definition(
        self,
        config: PlatformConfig,
        key: kms.IKey,
        raw_bucket: s3.IBucket,
        artifact_bucket: s3.IBucket,
        feature_group_name: str,
    ) -> str:
        code = self.step_code
        # The code version goes into every model's lineage (the governance step's arguments).
        code_state = code_version(self.node.try_get_context)
        # Placeholder -> deploy-time value. Fn::Sub resolves them; the SDK only ever sees plain strings.
        values = {
            "RawBucket": raw_bucket.bucket_name,
            "ArtifactBucket": artifact_bucket.bucket_name,
            "JobRoleName": self.job_role.role_name,
            "KeyArn": key.key_arn,
            "MlflowArn": self.mlflow.attr_tracking_server_arn,
            "AssetBucket": code.library.s3_bucket_name,
            **{f"{script_id(name)}Key": asset.s3_object_key for name, asset in code.scripts.items()},
            "LibraryKey": code.library.s3_object_key,
            "TrainingSourceKey": code.training_source.s3_object_key,
        }
        spec = PipelineSpec(
            pipeline_name=config.resource_name("build"),
            region=config.region,
            role_arn="arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${JobRoleName}",
            raw_data_uri=f"s3://${{RawBucket}}/{RAW_PREFIX}/",
            artifact_uri=f"s3://${{ArtifactBucket}}/{PIPELINE_PREFIX}",
            preprocess_code_uri="s3://${AssetBucket}/${PreprocessKey}",
            evaluate_code_uri="s3://${AssetBucket}/${EvaluateKey}",
            baseline_code_uri="s3://${AssetBucket}/${BaselineKey}",
            step_library_uri="s3://${AssetBucket}/${LibraryKey}",
            step_library_file="${LibraryKey}",
            training_source_uri="s3://${AssetBucket}/${TrainingSourceKey}",
            model_package_group=self.model_package_group_name,
            target=config.target_column,
            features=config.feature_names,
            feature_group_name=feature_group_name,
            mlflow_tracking_arn="${MlflowArn}",
            min_accuracy=config.min_accuracy,
            approval_status=config.model_approval_status,
            framework_version=config.sklearn_framework_version,
            processing_instance_type=config.processing_instance_type,
            processing_instance_count=config.processing_instance_count,
            training_instance_type=config.training_instance_type,
            training_instance_count=config.training_instance_count,
            inference_instance_type=config.endpoint_instance_type,
            holdout_fraction=config.holdout_fraction,
            seed=config.random_seed,
            kms_key_arn="${KeyArn}",
            triton_code_uri="s3://${AssetBucket}/${PackageTritonKey}" if "package_triton" in code.scripts else "",
            governance_code_uri="s3://${AssetBucket}/${GovernanceKey}",
            code_commit=str(code_state["commit"]),
            code_dirty={True: "true", False: "false"}.get(code_state["dirty"], "unknown"),
            config_sha256=config_sha256(config),
            project_name=config.project_name,
            model_risk_rating=config.model_risk_rating,
            readiness_majority_margin=config.readiness_majority_margin,
            readiness_contract_rows=config.readiness_contract_rows,
            training_engine=config.training_engine,
            xgboost_framework_version=config.xgboost_framework_version,
            xgboost_hyperparameters=tuple(config.xgboost_hyperparameters.items()),
            preprocess_chunk_rows=config.preprocess_chunk_rows,
            train_shard_count=config.train_shard_count,
            feature_ingest_batch_size=config.feature_ingest_batch_size,
        )
        definition = cached("pipeline-definition", spec, lambda: build_definition(spec), code=BUILDER_SOURCES)
        return cdk.Fn.sub(definition, values)

    def _mlflow_server(
        self, config: PlatformConfig, key: kms.IKey, artifact_bucket: s3.IBucket
    ) -> sagemaker.CfnMlflowTrackingServer:
        role = iam.Role(
            self,
            "MlflowRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="SageMaker managed MLflow writes run artifacts to the artifact bucket",
        )
        artifact_bucket.grant_read_write(role, f"{MLFLOW_PREFIX}/*")
        key.grant_encrypt_decrypt(role)
        server = sagemaker.CfnMlflowTrackingServer(
            self,
            "MlflowTrackingServer",
            tracking_server_name=config.resource_name("mlflow"),
            artifact_store_uri=artifact_bucket.s3_url_for_object(MLFLOW_PREFIX),
            role_arn=role.role_arn,
            tracking_server_size=config.mlflow_server_size,
            automatic_model_registration=False,  # the pipeline's gate decides what is registered
        )
        server.node.add_dependency(role)
        return server


def _sklearn_image(config: PlatformConfig) -> str:
    """The scikit-learn framework image for the region, from the SDK's own table (no hand-kept account map)."""
    return sklearn_image_uri(config.region, config.sklearn_framework_version)
