"""The platform as a set of stacks, one per lifecycle stage, wired by typed properties."""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks
from constructs import Construct

from platform_config.platform import PlatformConfig
from stacks.build_stack import BuildStack
from stacks.data_stack import DataStack
from stacks.monitoring_stack import MonitoringStack
from stacks.nag_review import ReviewedWildcards
from stacks.retraining_stack import RetrainingStack
from stacks.serving.names import CAPTURE_PREFIX
from stacks.serving_stack import ServingStack


@dataclass(frozen=True)
class Platform:
    data: DataStack
    build: BuildStack
    serving: ServingStack
    monitoring: MonitoringStack
    retraining: RetrainingStack

    @property
    def stacks(self) -> list[cdk.Stack]:
        return [self.data, self.build, self.serving, self.monitoring, self.retraining]


def add_platform(scope: Construct, config: PlatformConfig) -> Platform:
    env = cdk.Environment(account=config.account, region=config.region)
    prefix = _stack_prefix(config)
    data = DataStack(scope, f"{prefix}-data", config=config, env=env, description="MLOps data: buckets, key, features")
    build = BuildStack(
        scope,
        f"{prefix}-build",
        config=config,
        key=data.key,
        raw_bucket=data.raw_bucket,
        artifact_bucket=data.artifact_bucket,
        feature_group_name=data.feature_group.feature_group_name,
        feature_group_arn=data.feature_group_arn,
        env=env,
        description="MLOps build: SageMaker Pipeline, model registry, MLflow",
    )
    serving = ServingStack(
        scope,
        f"{prefix}-serving",
        config=config,
        key=data.key,
        artifact_bucket=data.artifact_bucket,
        capture_bucket=data.capture_bucket,
        model_package_group_name=build.model_package_group_name,
        approved_package=build.approved_package,
        env=env,
        description="MLOps serving: endpoint for the approved model, blue/green deploy path, auto scaling",
    )
    monitoring = MonitoringStack(
        scope,
        f"{prefix}-monitoring",
        config=config,
        key=data.key,
        capture_bucket=data.capture_bucket,
        capture_prefix=CAPTURE_PREFIX,
        artifact_bucket=data.artifact_bucket,
        endpoint_name=serving.endpoint_name,
        variant_name=serving.variant_name,
        model_package_group_name=build.model_package_group_name,
        approved_package=build.approved_package,
        env=env,
        description="MLOps monitoring: drift function, Model Monitor, alarms, model-degraded alarm, dashboard",
    )
    # The desired-state parameter is referenced by name (not a cross-stack export): deploy order says it exists.
    for stack in (serving, monitoring):
        stack.add_dependency(build)
    monitoring.add_stack_dependency(serving)  # the schedules need the endpoint the serving stack creates
    retraining = RetrainingStack(
        scope,
        f"{prefix}-retraining",
        config=config,
        key=data.key,
        artifact_bucket=data.artifact_bucket,
        pipeline_name=build.pipeline_name,
        model_package_group_name=build.model_package_group_name,
        approved_package=build.approved_package,
        deploy_function=serving.deploy_function.function,
        trigger_alarm=monitoring.degraded_alarm,
        env=env,
        description="MLOps retraining: a model-degraded alarm starts the loop that redeploys only a better model",
    )
    retraining.add_dependency(build)
    platform = Platform(data=data, build=build, serving=serving, monitoring=monitoring, retraining=retraining)
    for stack in platform.stacks:
        cdk.Tags.of(stack).add("project", config.project_name)
    return platform


def add_guards(app: cdk.App) -> None:
    """cdk-nag's AWS Solutions pack runs on every synth; an unacknowledged finding stops the synth."""
    # The wildcard review must run first: it acknowledges the reviewed IAM5 findings that cdk-nag then reads.
    cdk.Validations.of(app).add_plugins(ReviewedWildcards(app), AwsSolutionsChecks(app, verbose=True))


def _stack_prefix(config: PlatformConfig) -> str:
    return "".join(part.capitalize() for part in config.project_name.split("-"))
