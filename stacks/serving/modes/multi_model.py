"""serving_mode "multi_model": one endpoint, many model versions, each loaded on first use by its TargetModel."""

from __future__ import annotations

from typing import ClassVar

from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from contracts import environment as env_names
from pipeline_code.serving_code import serving_environment
from pipeline_definition.images import sklearn_image_uri
from stacks.serving.modes.base import ModeProps
from stacks.serving.modes.model_container import ModelContainerMode
from stacks.serving.names import MULTI_MODEL_PREFIX
from stacks.serving.scaling import add_autoscaling


class MultiModelMode(ModelContainerMode):
    # A multi-model endpoint serves no model until one is copied in: it exists before the first approval.
    endpoint_waits_for_model: ClassVar[bool] = False
    retain_variant_properties: ClassVar[bool] = True

    def __init__(self, scope: Construct, construct_id: str, *, props: ModeProps) -> None:
        self.multi_model_url = props.artifact_bucket.s3_url_for_object(f"{MULTI_MODEL_PREFIX}/")
        super().__init__(scope, construct_id, props=props)
        # The scaling target waits for an approved package although the endpoint does not (unchanged behaviour:
        # it appears with the first deploy of this stack after an approval; docs/serving-modes.md).
        add_autoscaling(self, props.config, props.endpoint_name, self.endpoint, props.has_model)

    def _model(self) -> sagemaker.CfnModel:
        """The container loads `<prefix>/<version>.tar.gz` per TargetModel.

        The deploy function adds an approved package by copying its model.tar.gz under the prefix (no stack
        update); the inference code is the same inference.py as every other serving mode, from each archive's
        code/ (the multi-model server puts `<model dir>/code` on PYTHONPATH: sagemaker-inference-toolkit
        DefaultHandlerService.initialize), so this model needs no network either. The scikit-learn image only:
        the XGBoost image refuses multi-model endpoints in script mode (the config refuses that combination).
        """
        config = self.props.config
        return sagemaker.CfnModel(
            self,
            "MultiModel",
            execution_role_arn=self.props.model_role.role_arn,
            primary_container=sagemaker.CfnModel.ContainerDefinitionProperty(
                image=sklearn_image_uri(config.region, config.sklearn_framework_version),
                mode="MultiModel",
                model_data_url=self.multi_model_url,
                environment=serving_environment(),
            ),
            enable_network_isolation=True,
        )

    def deploy_environment(self) -> dict[str, str]:
        return {env_names.MULTI_MODEL_URL: self.multi_model_url}

    def grant_deploy(self, role: iam.IRole) -> None:
        """Copy approved model artifacts under the multi-model prefix."""
        self.props.artifact_bucket.grant_read(role)
        self.props.artifact_bucket.grant_put(role, f"{MULTI_MODEL_PREFIX}/*")
        self.props.key.grant_encrypt_decrypt(role)
