"""A SageMaker Triton Inference Server multi-model endpoint for tree models (FIL backend), serving_mode "triton".

One endpoint, many model versions: the container loads `<prefix>/<TargetModel>` on first use, where each archive
holds one Triton model directory (config.pbtxt, 1/xgboost.json) built by the pipeline's PackageTriton step. The
deploy function adds an approved version by copying its archive under the prefix, so the endpoint exists before
any model (no "has a model" condition) and a new version needs no stack update.

Its own model role reads only the prefix's archives and pulls only the Triton image; the container runs with
network isolation (SageMaker fetches the archives for it).
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from pipeline_definition.sdk_cache import cached
from platform_config.platform import ConfigError
from stacks.constructs.sagemaker_grants import grant_image_pull, grant_sagemaker_logs

TRITON_FRAMEWORK = "sagemaker-tritonserver"  # the SageMaker SDK's image config name


def triton_image_uri(region: str, version: str, instance_type: str) -> str:
    """SageMaker's Triton image for the region and version (CPU or GPU build by instance type), from the SDK's table."""

    def retrieve() -> str:
        from sagemaker import image_uris

        try:
            return str(image_uris.retrieve(TRITON_FRAMEWORK, region, version=version, instance_type=instance_type))
        except ValueError as exc:
            raise ConfigError(f"config key 'triton_image_version': {exc}") from None

    return cached("triton-image", [region, version, instance_type], retrieve)


@dataclass(frozen=True)
class TritonEndpointProps:
    endpoint_name: str
    variant_name: str
    image_uri: str  # sagemaker-tritonserver, from sagemaker.image_uris
    model_bucket: s3.IBucket
    model_prefix: str  # archives live under s3://<model_bucket>/<model_prefix>/
    key: kms.IKey
    instance_type: str
    initial_instance_count: int
    deployment_config: sagemaker.CfnEndpoint.DeploymentConfigProperty
    data_capture: sagemaker.CfnEndpointConfig.DataCaptureConfigProperty | None = None


class TritonEndpoint(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, props: TritonEndpointProps) -> None:
        super().__init__(scope, construct_id)
        prefix = props.model_prefix.strip("/")
        self.model_data_url = props.model_bucket.s3_url_for_object(f"{prefix}/")
        self.role = iam.Role(
            self,
            "ModelRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="Triton multi-model endpoint: reads its model archives, pulls the Triton image",
        )
        props.model_bucket.grant_read(self.role, f"{prefix}/*")
        props.key.grant_decrypt(self.role)
        grant_image_pull(self.role, props.image_uri)
        grant_sagemaker_logs(self.role, "/aws/sagemaker/Endpoints/*")
        self.model = sagemaker.CfnModel(
            self,
            "Model",
            execution_role_arn=self.role.role_arn,
            primary_container=sagemaker.CfnModel.ContainerDefinitionProperty(
                image=props.image_uri, mode="MultiModel", model_data_url=self.model_data_url
            ),
            enable_network_isolation=True,
        )
        self.model.node.add_dependency(self.role)  # the role's policy must exist before SageMaker checks access
        self.endpoint_config = sagemaker.CfnEndpointConfig(
            self,
            "EndpointConfig",
            production_variants=[
                sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                    variant_name=props.variant_name,
                    model_name=self.model.attr_model_name,
                    instance_type=props.instance_type,
                    initial_instance_count=props.initial_instance_count,
                    initial_variant_weight=1.0,
                )
            ],
            kms_key_id=props.key.key_arn,
            data_capture_config=props.data_capture,
        )
        self.endpoint = sagemaker.CfnEndpoint(
            self,
            "Endpoint",
            endpoint_name=props.endpoint_name,
            endpoint_config_name=self.endpoint_config.attr_endpoint_config_name,
            deployment_config=props.deployment_config,
            retain_all_variant_properties=True,  # keep the instance count auto scaling has reached
        )
