"""The modes served by the model package's own container (realtime, serverless, async, multi_model).

Each builds one model, one endpoint config with one variant, and the endpoint; the modes differ in the model
(the approved package, or a multi-model container), the variant (instances or serverless) and the config's
extras (volume encryption, data capture, asynchronous output).
"""

from __future__ import annotations

from typing import Any, ClassVar

from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from stacks.serving.capture import data_capture
from stacks.serving.modes.base import ModeProps, ServingMode
from stacks.serving.names import VARIANT


class ModelContainerMode(ServingMode):
    # Whether the model, config and endpoint wait for an approved package (HasApprovedModel).
    endpoint_waits_for_model: ClassVar[bool] = True
    # Keep the instance count auto scaling has set when a new model rolls out (SageMaker allows a model change on
    # a scaled variant; an instance-type change needs the variant deregistered first).
    retain_variant_properties: ClassVar[bool] = False

    def __init__(self, scope: Construct, construct_id: str, *, props: ModeProps) -> None:
        super().__init__(scope, construct_id, props=props)
        model = self._model()
        variant = sagemaker.CfnEndpointConfig.ProductionVariantProperty(
            variant_name=VARIANT, model_name=model.attr_model_name, **self._variant()
        )
        self.endpoint_config = sagemaker.CfnEndpointConfig(
            self, "EndpointConfig", production_variants=[variant], **self._endpoint_config_extras()
        )
        self.endpoint = sagemaker.CfnEndpoint(
            self,
            "Endpoint",
            endpoint_name=props.endpoint_name,
            endpoint_config_name=self.endpoint_config.attr_endpoint_config_name,
            deployment_config=self.deployment_config(),
            retain_all_variant_properties=self.retain_variant_properties,
        )
        if self.endpoint_waits_for_model:
            for resource in (model, self.endpoint_config, self.endpoint):
                resource.cfn_options.condition = props.has_model

    def _model(self) -> sagemaker.CfnModel:
        """The approved model package, with network isolation (its inference code is in model.tar.gz)."""
        return sagemaker.CfnModel(
            self,
            "Model",
            execution_role_arn=self.props.model_role.role_arn,
            containers=[
                sagemaker.CfnModel.ContainerDefinitionProperty(
                    model_package_name=self.props.approved_package_arn.value_as_string
                )
            ],
            enable_network_isolation=True,
        )

    def _variant(self) -> dict[str, Any]:
        """The variant's capacity: instances."""
        config = self.props.config
        return {
            "instance_type": config.endpoint_instance_type,
            "initial_instance_count": config.endpoint_min_instances,
            "initial_variant_weight": 1.0,
        }

    def _endpoint_config_extras(self) -> dict[str, Any]:
        """Volume encryption, and data capture as the model's role."""
        props = self.props
        return {
            "kms_key_id": props.key.key_arn,
            "data_capture_config": data_capture(props.config, props.key, props.capture_bucket, props.model_role),
        }

    @property
    def live_endpoint_config(self) -> sagemaker.CfnEndpointConfig | None:
        return self.endpoint_config if self.endpoint_waits_for_model else None
