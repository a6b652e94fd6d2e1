"""What every role a SageMaker job or endpoint runs as needs: its framework image, and its own log groups."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam


def grant_image_pull(role: iam.IRole, image_uri: str) -> None:
    """Pull one SageMaker framework image (its ECR repository in the image's account)."""
    stack = cdk.Stack.of(role)
    image_account, _, rest = image_uri.partition(".dkr.ecr.")
    repository = rest.split("/", 1)[1].split(":", 1)[0]
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
            resources=[
                stack.format_arn(service="ecr", account=image_account, resource="repository", resource_name=repository)
            ],
        )
    )
    # GetAuthorizationToken has no resource scope in IAM; reviewed in stacks/nag_review.py.
    role.add_to_principal_policy(iam.PolicyStatement(actions=["ecr:GetAuthorizationToken"], resources=["*"]))


def grant_sagemaker_logs(role: iam.IRole, log_groups: str = "/aws/sagemaker/*") -> None:
    """Write to the log groups SageMaker names per job or endpoint under /aws/sagemaker/."""
    stack = cdk.Stack.of(role)
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[
                stack.format_arn(
                    service="logs",
                    resource="log-group",
                    resource_name=log_groups,
                    arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                )
            ],
        )
    )


def grant_model_card_publishing(role: iam.IRole, model_package_group: str) -> None:
    """Create or update the model cards of one package group's approved packages (named `<group>-<version>`).

    Reading the card's content (the pipeline's governance output in the artifact bucket) is granted by the caller,
    which owns the bucket and key.
    """
    stack = cdk.Stack.of(role)
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["sagemaker:CreateModelCard", "sagemaker:UpdateModelCard", "sagemaker:DescribeModelCard"],
            resources=[
                stack.format_arn(service="sagemaker", resource="model-card", resource_name=f"{model_package_group}-*")
            ],
        )
    )
