"""Permission to pull one SageMaker framework image (its ECR repository in the image's account)."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam


def grant_image_pull(role: iam.IRole, image_uri: str) -> None:
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
