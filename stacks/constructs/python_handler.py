"""A Python Lambda function the way the platform runs them.

Code as a plain asset (no Docker, no bundling: the handlers need only boto3, which the runtime has, Powertools,
which comes as AWS's published layer, and the drift core layer where asked for). The asset is a folder of real
packages, the repository's own layout: `lambdas/<name>/`, `lambdas/shared/` and `contracts/`, so the Handler is
`lambdas.<name>.handler.lambda_handler` and the code imports `from lambdas.shared... import`, `from contracts
import`, in Lambda as in the repository (tests/lambdas/test_packaging.py imports each asset alone). Its
own log group with a retention; X-Ray tracing; a role with no managed policies, so every permission it has is
one the stack grants explicitly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from contracts import environment as env_names
from stacks.constructs.staging import package_files, stage_files

REPO = Path(__file__).resolve().parents[2]
BUILD_DIR = REPO / ".build" / "lambdas"
# What every function's asset carries besides its own package.
COMMON_PACKAGES = ("lambdas/shared", "contracts")
RUNTIME = lambda_.Runtime.PYTHON_3_13
# Powertools for AWS Lambda publishes this layer in every commercial region from one account.
POWERTOOLS_LAYER = "arn:{partition}:lambda:{region}:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-x86_64:{v}"


class PythonHandler(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        folder: str,
        description: str,
        environment: Mapping[str, str],
        powertools_layer_version: int,
        timeout_seconds: int = 60,
        memory_mb: int = 256,
        layers: Sequence[lambda_.ILayerVersion] = (),
        reserved_concurrency: int | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.role = iam.Role(
            self, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"), description=description
        )
        self.log_group = logs.LogGroup(
            self, "Logs", retention=logs.RetentionDays.THREE_MONTHS, removal_policy=cdk.RemovalPolicy.DESTROY
        )
        powertools = lambda_.LayerVersion.from_layer_version_arn(
            self,
            "Powertools",
            POWERTOOLS_LAYER.format(partition=stack.partition, region=stack.region, v=powertools_layer_version),
        )
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=RUNTIME,
            handler=handler_name(folder),
            code=lambda_.Code.from_asset(str(handler_asset_folder(folder))),
            description=description,
            role=self.role,
            timeout=cdk.Duration.seconds(timeout_seconds),
            memory_size=memory_mb,
            environment={env_names.POWERTOOLS_SERVICE_NAME: folder, **environment},
            layers=[powertools, *layers],
            log_group=self.log_group,
            tracing=lambda_.Tracing.ACTIVE,
            reserved_concurrent_executions=reserved_concurrency,
        )
        # The function writes only to its own log group (the role has no AWSLambdaBasicExecutionRole).
        self.log_group.grant_write(self.role)
        cdk.Validations.of(self.function).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions-L1",
                reason="python3.13 is the newest runtime with a published Powertools layer checked for this project; "
                "moving to 3.14 changes RUNTIME and POWERTOOLS_LAYER together.",
            )
        )


def handler_name(folder: str) -> str:
    return f"lambdas.{folder}.handler.lambda_handler"


def handler_asset_folder(folder: str, build_dir: Path = BUILD_DIR) -> Path:
    """The function's code, staged as one folder: the `lambdas` package with only this function's subpackage and
    the shared one, and the contracts."""
    files = {"lambdas/__init__.py": REPO / "lambdas" / "__init__.py"}
    for package in (f"lambdas/{folder}", *COMMON_PACKAGES):
        files.update(package_files(REPO / package, REPO))
    return stage_files(build_dir, folder, files)
