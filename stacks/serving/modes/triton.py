"""serving_mode "triton": a Triton (FIL backend) multi-model endpoint over the artifact bucket's prefix."""

from __future__ import annotations

from typing import ClassVar

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from contracts import environment as env_names
from contracts import ssm as ssm_names
from contracts.sentinels import NONE
from stacks.constructs.triton_endpoint import TritonEndpoint, TritonEndpointProps, triton_image_uri
from stacks.serving.capture import data_capture
from stacks.serving.modes.base import ModeProps, ServingMode
from stacks.serving.names import TRITON_LIVE_MODEL_OUTPUT, TRITON_PREFIX, VARIANT
from stacks.serving.scaling import add_autoscaling


class TritonMode(ServingMode):
    # Nothing here waits for an approved package: the endpoint exists before any model, and so does its scaling.
    waits_for_approved_model: ClassVar[bool] = False

    def __init__(self, scope: Construct, construct_id: str, *, props: ModeProps) -> None:
        super().__init__(scope, construct_id, props=props)
        config = props.config
        self.triton_endpoint = TritonEndpoint(
            self,
            "Triton",
            props=TritonEndpointProps(
                endpoint_name=props.endpoint_name,
                variant_name=VARIANT,
                image_uri=triton_image_uri(config.region, config.triton_image_version, config.endpoint_instance_type),
                model_bucket=props.artifact_bucket,
                model_prefix=TRITON_PREFIX,
                key=props.key,
                instance_type=config.endpoint_instance_type,
                initial_instance_count=config.endpoint_min_instances,
                deployment_config=self.deployment_config(),
                data_capture=None,  # set below, once the role it is written as exists
            ),
        )
        # Triton's requests are JSON (KServe v2) or its binary-tensor extension, never CSV.
        self.triton_endpoint.endpoint_config.data_capture_config = data_capture(
            config, props.key, props.capture_bucket, self.triton_endpoint.role, csv_content_types=()
        )
        self.endpoint = self.triton_endpoint.endpoint
        # What the deploy function last made live (the TargetModel clients send); "none" before the first approval.
        live_model_parameter = ssm_names.triton_live_model_parameter(config.project_name)
        self.live_model = ssm.StringParameter(
            self,
            "TritonLiveModel",
            parameter_name=live_model_parameter,
            string_value=NONE,
            description="TargetModel of the Triton endpoint's live model version (written by the deploy function)",
        )
        add_autoscaling(self, config, props.endpoint_name, self.endpoint, condition=None)
        # The smoke test's Triton check: which TargetModel is live (its archive's prefix: the data stack's output).
        self.live_model_output = cdk.CfnOutput(self, TRITON_LIVE_MODEL_OUTPUT, value=live_model_parameter)

    def deploy_environment(self) -> dict[str, str]:
        return {
            env_names.TRITON_MODEL_URL: self.triton_endpoint.model_data_url,
            env_names.TRITON_LIVE_MODEL_PARAMETER: self.live_model.parameter_name,
        }

    def grant_deploy(self, role: iam.IRole) -> None:
        """Copy an approved package's Triton archive (written by the pipeline) under the endpoint's prefix."""
        self.props.artifact_bucket.grant_put(role, f"{TRITON_PREFIX}/*")
        self.props.key.grant_encrypt_decrypt(role)
        self.live_model.grant_write(role)
