"""One deployment stage of the platform (staging, prod): the platform's stacks plus what the smoke test needs.

The stacks are the same ones `cdk deploy --all` creates (`stacks.platform.add_platform`); only the config differs.
The smoke test runs in the pipeline's account, so each stage adds a small role in its own account that the
pipeline's account may assume, allowed only to describe the SageMaker Pipeline and to describe and invoke the
stage's endpoint. Same-account and cross-account stages use the same path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, cast

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from contracts import serving as modes
from contracts import ssm as ssm_names
from platform_config.platform import PlatformConfig
from stacks.platform import Platform, add_platform
from stacks.serving.names import TRITON_LIVE_MODEL_OUTPUT, TRITON_PREFIX

PIPELINE_NAME_OUTPUT = "PipelineName"  # CfnOutputs the smoke test reads, by construct id
ENDPOINT_NAME_OUTPUT = "EndpointName"
DEPLOYED_MODEL_OUTPUT = "DeployedModelPackageArn"
TRITON_MODEL_URL_OUTPUT = "TritonModelUrl"


class _Serving(Protocol):
    """What the stage needs from the serving stack: the endpoint's (constant) name and two stack outputs."""

    endpoint_name: str
    endpoint_name_output: cdk.CfnOutput
    deployed_model_output: cdk.CfnOutput


@dataclass(frozen=True)
class TritonAccess:
    """serving_mode "triton": the live-model parameter and the archive prefix the smoke test reads."""

    live_model_parameter: str
    artifact_bucket: s3.IBucket
    key: kms.IKey
    prefix: str


def smoke_test_role_name(config: PlatformConfig, stage_name: str) -> str:
    # A fixed name, so the pipeline stack (another account, maybe) can name the ARN without a cross-stack reference.
    return f"{config.project_name}-{stage_name}-smoke"


def smoke_test_role_arn(config: PlatformConfig, stage_name: str) -> str:
    return f"arn:{cdk.Aws.PARTITION}:iam::{config.account}:role/{smoke_test_role_name(config, stage_name)}"


class PlatformStage(cdk.Stage):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PlatformConfig,
        stage_name: str,
        pipeline_account: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            scope, construct_id, env=cdk.Environment(account=config.account, region=config.region), **kwargs
        )
        self.config = config
        self.platform: Platform = add_platform(self, config)
        self.smoke_test_role_arn = smoke_test_role_arn(config, stage_name)
        SmokeTestAccessStack(
            self,
            f"{self.platform.data.node.id.rsplit('-', 1)[0]}-smoke",  # next to "<Prefix>-data", "<Prefix>-build"
            config=config,
            role_name=smoke_test_role_name(config, stage_name),
            pipeline_account=pipeline_account,
            pipeline_name=self.platform.build.pipeline_name,
            endpoint_name=self.endpoint_name,
            triton=self._triton_access(),
            env=cdk.Environment(account=config.account, region=config.region),
            description="MLOps delivery: the role the post-deploy smoke test assumes",
        )

    def _triton_access(self) -> TritonAccess | None:
        """serving_mode "triton": what the smoke test reads to call the live model (parameter, archive prefix)."""
        if self.config.serving_mode != modes.TRITON or self.serving is None:
            return None
        data = self.platform.data
        return TritonAccess(
            live_model_parameter=ssm_names.triton_live_model_parameter(self.config.project_name),
            artifact_bucket=data.artifact_bucket,
            key=data.key,
            prefix=TRITON_PREFIX,
        )

    @property
    def serving(self) -> _Serving | None:
        return getattr(self.platform, "serving", None)  # guarded: stages work before the serving stack exists

    @property
    def endpoint_name(self) -> str | None:
        """The endpoint the smoke test invokes, when the stage's outputs say which one."""
        if self.serving is None or "ENDPOINT_NAME" not in self.smoke_test_outputs:
            return None
        name = self.serving.endpoint_name
        if cdk.Token.is_unresolved(name):
            raise TypeError("the smoke test's IAM scope needs a fixed endpoint name (config.resource_name)")
        return name

    @property
    def smoke_test_outputs(self) -> dict[str, cdk.CfnOutput]:
        """Environment variables of the smoke test, each read from an unconditional stack output of this stage.

        A conditional output is skipped: CodePipeline fails an action that reads a variable the stack lacks.
        """
        found = {"PIPELINE_NAME": _output(self.platform.build, PIPELINE_NAME_OUTPUT, None)}
        if self.serving is not None:
            serving = cast(cdk.Stack, self.serving)
            found["ENDPOINT_NAME"] = _output(serving, ENDPOINT_NAME_OUTPUT, "endpoint_name_output")
            found["DEPLOYED_MODEL_PACKAGE_ARN"] = _output(serving, DEPLOYED_MODEL_OUTPUT, "deployed_model_output")
            if self.config.serving_mode == modes.TRITON:
                found["TRITON_LIVE_MODEL_PARAMETER"] = _output(
                    serving, TRITON_LIVE_MODEL_OUTPUT, "triton_live_model_output"
                )
                found["TRITON_MODEL_URL"] = _output(
                    self.platform.data, TRITON_MODEL_URL_OUTPUT, "triton_model_url_output"
                )
        if found["PIPELINE_NAME"] is None:
            raise TypeError(f"BuildStack has no unconditional CfnOutput '{PIPELINE_NAME_OUTPUT}'")
        return {name: output for name, output in found.items() if output is not None}


def _output(stack: cdk.Stack, construct_id: str, attribute: str | None) -> cdk.CfnOutput | None:
    output = getattr(stack, attribute, None) if attribute else None  # the typed attribute, once the stack has it
    if output is None:
        output = stack.node.try_find_child(construct_id)
    if not isinstance(output, cdk.CfnOutput) or output.condition is not None:
        return None
    return output


class SmokeTestAccessStack(cdk.Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PlatformConfig,
        role_name: str,
        pipeline_account: str,
        pipeline_name: str,
        endpoint_name: str | None,
        triton: TritonAccess | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        # The pipeline account's IAM decides who there may assume it: only the smoke test's CodeBuild role may.
        role = iam.Role(self, "Role", role_name=role_name, assumed_by=iam.AccountPrincipal(pipeline_account))
        pipeline_arn = self.format_arn(service="sagemaker", resource="pipeline", resource_name=pipeline_name)
        role.add_to_policy(iam.PolicyStatement(actions=["sagemaker:DescribePipeline"], resources=[pipeline_arn]))
        if endpoint_name is not None:
            # SageMaker lower-cases endpoint names in ARNs.
            endpoint_arn = self.format_arn(
                service="sagemaker", resource="endpoint", resource_name=endpoint_name.lower()
            )
            role.add_to_policy(
                iam.PolicyStatement(
                    actions=["sagemaker:DescribeEndpoint", "sagemaker:InvokeEndpoint"], resources=[endpoint_arn]
                )
            )
        if triton is not None:
            self._triton_reads(role, triton)
        cdk.Tags.of(self).add("project", config.project_name)

    def _triton_reads(self, role: iam.Role, triton: TritonAccess) -> None:
        """The live TargetModel (one parameter) and its archive's feature_encoding.json (objects under the Triton
        prefix, decrypted through S3 only): read-only, named actions, no account-wide resource."""
        parameter_arn = self.format_arn(
            service="ssm", resource="parameter", resource_name=triton.live_model_parameter.lstrip("/")
        )
        role.add_to_policy(iam.PolicyStatement(actions=["ssm:GetParameter"], resources=[parameter_arn]))
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"], resources=[triton.artifact_bucket.arn_for_objects(f"{triton.prefix}/*")]
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt"],
                resources=[triton.key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"s3.{self.region}.amazonaws.com"}},
            )
        )
