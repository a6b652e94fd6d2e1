"""DeliveryStack: a self-mutating CDK Pipelines pipeline that tests, synthesizes and promotes the platform.

Source -> Build (`make test`, then `cdk synth -c delivery=true`) -> UpdatePipeline (self-mutation) -> Assets ->
one CodePipeline stage per stage file, in the order `config/delivery.json` lists them; a stage may wait for a manual
approval before it deploys and may run the smoke test after it deploys.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codecommit as codecommit
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import pipelines
from constructs import Construct

from platform_config.platform import CONTEXT_KEY, ConfigError, PlatformConfig, load_config
from platform_config.stages import CONFIG_DIR, DeliveryConfig, SourceSettings, StageConfig, load_delivery_config
from stacks.constructs.secure_bucket import AccessLogBucket
from stacks.nag_review import RULE
from stacks.platform_stage import PlatformStage

REPO = Path(__file__).resolve().parents[1]
SYNTH_OUTPUT = "cdk.out"
# Python and Node versions the Makefile needs (pyproject: Python >= 3.11; the CDK CLI: Node >= 20).
RUNTIMES = {"python": "3.11", "nodejs": "20"}
SYNTH_ENV = {
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    "SAGEMAKER_SUPPRESS_V2_WARNING": "1",
    "CDK_VALIDATION": "false",  # `make test` has just run cfn-lint on every template; CDK's check would repeat it
}
SYNTH_COMMANDS = [
    "make test",  # ruff, unit and snapshot tests, cdk-nag and cfn-lint: a failure stops the pipeline here
    # The same `make synth` a developer runs, with the delivery app instead of the stages (cdk.out).
    'make synth CDK_ARGS="-c delivery=true"',
]
# A module run from the checkout root, so it imports contracts/ (the "none" sentinel) as the stacks do.
SMOKE_TEST_COMMANDS = ["python -m scripts.smoke_test"]


def add_delivery(app: cdk.App, config_dir: Path = CONFIG_DIR) -> DeliveryStack:
    """The delivery app (`-c delivery=true`): the pipeline stack and, beside it, one Stage per stage file."""
    context = app.node.try_get_context(CONTEXT_KEY)
    _reject_single_key_overrides(app)
    delivery = load_delivery_config(config_dir, context)
    base = load_config(context)
    stack = DeliveryStack(app, f"{_stack_prefix(base)}-delivery", delivery=delivery, cli_version=pinned_cli_version())
    cdk.Tags.of(stack).add("project", base.project_name)  # the stages' stacks keep their own (closer) tag
    return stack


def pinned_cli_version(package_json: Path = REPO / "package.json") -> str:
    # Self-mutation and asset publishing install the CDK CLI; use the version the repository pins.
    return str(json.loads(package_json.read_text())["devDependencies"]["aws-cdk"])


class DeliveryStack(cdk.Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, delivery: DeliveryConfig, cli_version: str, **kwargs: Any
    ) -> None:
        settings = delivery.settings
        super().__init__(
            scope,
            construct_id,
            env=cdk.Environment(account=settings.account, region=settings.region),
            description="MLOps delivery: self-mutating pipeline, staging -> smoke test -> approval -> prod",
            **kwargs,
        )
        self.source = self._source(settings.source)
        self.synth_step = pipelines.CodeBuildStep(
            "Synth",
            input=self.source,
            commands=SYNTH_COMMANDS,
            env=SYNTH_ENV,
            primary_output_directory=SYNTH_OUTPUT,
            # The whole test suite runs here: a medium machine, and time for a cold .venv and node_modules.
            build_environment=codebuild.BuildEnvironment(compute_type=codebuild.ComputeType.MEDIUM),
            timeout=cdk.Duration.minutes(60),
        )
        self.pipeline = pipelines.CodePipeline(
            self,
            "Pipeline",
            pipeline_name=settings.pipeline_name,
            pipeline_type=codepipeline.PipelineType.V2,
            synth=self.synth_step,
            self_mutation=True,
            # A customer-managed, rotating key for the artifacts even when every stage is in the pipeline's account:
            # stages in other accounts need it to read them, and CodeBuild encrypts its output with it (cdk-nag CB4).
            cross_account_keys=True,
            enable_key_rotation=True,
            cli_version=cli_version,
            publish_assets_in_parallel=False,  # one CodeBuild project for all file assets, not one per asset
            code_build_defaults=pipelines.CodeBuildOptions(
                build_environment=codebuild.BuildEnvironment(build_image=codebuild.LinuxBuildImage.STANDARD_7_0),
                partial_build_spec=codebuild.BuildSpec.from_object(
                    {"phases": {"install": {"runtime-versions": RUNTIMES}}}
                ),
            ),
        )
        # The stages are siblings of this stack in the app: their stacks are "Staging-Mlops-data", not nested names.
        self._stage_scope = scope
        self.stages: dict[str, PlatformStage] = {}
        for stage in delivery.stages:
            self.stages[stage.name] = self._add_stage(stage)
        # Build now rather than at synth, so the generated constructs exist for the settings below.
        self.pipeline.build_pipeline()
        if settings.source.connection_arn is not None:
            self._grant_codeconnections(settings.source.connection_arn)
        self._log_artifact_access(retention_days=delivery.stages[0].platform.access_log_retention_days)
        acknowledge_generated_wildcards(self.pipeline)

    def _source(self, source: SourceSettings) -> pipelines.CodePipelineSource:
        if source.provider == "codecommit":
            repository = codecommit.Repository.from_repository_name(self, "Repository", source.repository)
            return pipelines.CodePipelineSource.code_commit(repository, source.branch)
        assert source.connection_arn is not None  # stage_config requires it for this provider
        return pipelines.CodePipelineSource.connection(
            source.repository, source.branch, connection_arn=source.connection_arn
        )

    def _grant_codeconnections(self, connection_arn: str) -> None:
        """The source action's role may use the connection under its current service prefix too.

        CDK grants only `codestar-connections:UseConnection`; a connection created as `arn:aws:codeconnections:...`
        is authorised as `codeconnections:UseConnection` (cfn-lint I3510; "Service prefix changes",
        https://docs.aws.amazon.com/dtconsole/latest/userguide/rename.html). This connection only.
        """
        source_stage = self.pipeline.pipeline.node.find_child("Source")
        roles = [
            child.node.find_child("CodePipelineActionRole")
            for child in source_stage.node.children
            if child.node.try_find_child("CodePipelineActionRole") is not None
        ]
        assert len(roles) == 1, f"expected one source action role, found {len(roles)}"
        role = roles[0]
        assert isinstance(role, iam.Role)
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["codeconnections:UseConnection"], resources=[connection_arn])
        )

    def _add_stage(self, stage: StageConfig) -> PlatformStage:
        platform_stage = PlatformStage(
            self._stage_scope,
            stage.name.capitalize(),
            config=stage.platform,
            stage_name=stage.name,
            pipeline_account=self.account,
        )
        pre: list[pipelines.Step] = []
        if stage.manual_approval:
            pre.append(
                pipelines.ManualApprovalStep(
                    f"Approve{stage.name.capitalize()}",
                    comment=f"Deploy the platform to {stage.name} ({stage.account}, {stage.region})?",
                )
            )
        post = [self._smoke_test(stage, platform_stage)] if stage.smoke_test else []
        self.pipeline.add_stage(platform_stage, pre=pre, post=post)
        return platform_stage

    def _log_artifact_access(self, retention_days: int) -> None:
        """Server access logs for the artifact bucket CDK Pipelines creates (it offers no property for them)."""
        logs = AccessLogBucket(self, "ArtifactAccessLogs", retention_days=retention_days)
        artifacts = self.pipeline.pipeline.artifact_bucket
        bucket = cast(s3.CfnBucket, artifacts.node.default_child)
        bucket.logging_configuration = s3.CfnBucket.LoggingConfigurationProperty(
            destination_bucket_name=logs.bucket_name, log_file_prefix="pipeline-artifacts/"
        )
        logs.add_to_resource_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject"],
                principals=[iam.ServicePrincipal("logging.s3.amazonaws.com")],
                resources=[logs.arn_for_objects("pipeline-artifacts/*")],
                conditions={
                    "ArnLike": {"aws:SourceArn": artifacts.bucket_arn},
                    "StringEquals": {"aws:SourceAccount": self.account},
                },
            )
        )

    def _smoke_test(self, stage: StageConfig, platform_stage: PlatformStage) -> pipelines.CodeBuildStep:
        return pipelines.CodeBuildStep(
            "SmokeTest",
            input=self.source,
            install_commands=["pip install --quiet -c constraints.txt boto3"],
            commands=SMOKE_TEST_COMMANDS,
            env={
                "STAGE_REGION": stage.region,
                "SMOKE_TEST_ROLE_ARN": platform_stage.smoke_test_role_arn,
            },
            env_from_cfn_outputs=platform_stage.smoke_test_outputs,
            # The stage's own role decides what the test may touch there; here it may only assume that role.
            role_policy_statements=[
                iam.PolicyStatement(actions=["sts:AssumeRole"], resources=[platform_stage.smoke_test_role_arn])
            ],
            timeout=cdk.Duration.minutes(20),
        )


def acknowledge_generated_wildcards(pipeline: pipelines.CodePipeline) -> None:
    """The wildcards CDK Pipelines writes into roles it generates, acknowledged on those roles only, with reasons.

    "Resource::*" is acknowledged only after checking which actions it carries, so a CDK upgrade that adds one
    fails the synth here instead of riding on an old reason.
    """
    stack = cdk.Stack.of(pipeline)
    self_mutation = _default_policy(pipeline, "UpdatePipeline", "SelfMutation", "Role")
    _expect_unscoped_actions(self_mutation, {"cloudformation:DescribeStacks", "s3:ListBucket"})
    _acknowledge(
        self_mutation,
        {
            "Resource::*": "cloudformation:DescribeStacks and s3:ListBucket only: the CDK CLI reads the bootstrap "
            "stack and lists the asset bucket it names at run time.",
            f"Resource::arn:*:iam::{stack.account}:role/*": "sts:AssumeRole only on roles tagged "
            "aws-cdk:bootstrap-role (deploy, file- and image-publishing) in the pipeline's account: self-mutation "
            "deploys through the CDK bootstrap roles.",
        },
    )
    assets = _default_policy(pipeline, "Assets", "FileRole")
    _expect_unscoped_actions(assets, {"codebuild:BatchGetBuilds", "codebuild:StartBuild", "codebuild:StopBuild"})
    reason = "CDK Pipelines' asset publishing role, created before the CodeBuild project that uses it: {what}."
    _acknowledge(
        assets,
        {
            "Resource::*": reason.format(what="codebuild:StartBuild/StopBuild/BatchGetBuilds, as the action role"),
            f"Resource::arn:aws:logs:{stack.region}:{stack.account}:log-group:/aws/codebuild/*": reason.format(
                what="the project's log group, named after the project"
            ),
            f"Resource::arn:aws:codebuild:{stack.region}:{stack.account}:report-group/*": reason.format(
                what="the project's report groups, named after the project"
            ),
        },
    )


def _default_policy(pipeline: pipelines.CodePipeline, *path: str) -> iam.Policy:
    node: Construct = pipeline
    for child in (*path, "DefaultPolicy"):
        node = cast(Construct, node.node.find_child(child))
    return cast(iam.Policy, node)


def _expect_unscoped_actions(policy: iam.Policy, expected: set[str]) -> None:
    document = cdk.Stack.of(policy).resolve(policy.document)
    actions = {
        action
        for statement in document["Statement"]
        if statement["Resource"] == "*"
        for action in (statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]])
    }
    if actions != expected:
        raise RuntimeError(
            f"{policy.node.path}: Resource '*' now carries {sorted(actions)}; review the acknowledgement"
        )


def _acknowledge(scope: Construct, findings: dict[str, str]) -> None:
    for finding, reason in findings.items():
        cdk.Validations.of(scope).acknowledge(cdk.Acknowledgment(id=f"{RULE}[{finding}]", reason=reason))


def _reject_single_key_overrides(app: cdk.App) -> None:
    # In delivery mode each stage's values come from its reviewed stage file; a -c override would apply to the
    # local synth only, and the pipeline's own synth would silently undo it.
    for key in PlatformConfig.__dataclass_fields__:
        if app.node.try_get_context(key) is not None:
            raise ConfigError(f"-c {key}: not used with -c delivery=true; set it under 'platform' in config/stages/")


def _stack_prefix(config: PlatformConfig) -> str:
    return "".join(part.capitalize() for part in config.project_name.split("-"))
