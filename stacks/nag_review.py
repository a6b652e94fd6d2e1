"""Reviewed IAM wildcards: every `AwsSolutions-IAM5` finding the platform accepts, each with its reason.

cdk-nag 3 reports one IAM5 finding per wildcard (`AwsSolutions-IAM5[Action::s3:GetObject*]`,
`AwsSolutions-IAM5[Resource::<bucket>/*]`, ...) and an acknowledgement must name the finding exactly. The exact
text of a resource finding depends on generated logical IDs and cross-stack export names, which exist only once
the app is prepared. So the review runs as a validation plugin registered just before cdk-nag: it resolves each
IAM policy as cdk-nag will see it, and acknowledges (with `Validations.acknowledge`) only the findings that match a
reviewed pattern below. Any other wildcard stays a finding and fails the synth.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_iam as iam
from constructs import IConstruct

from contracts.batch_transform import JOB_NAME_INFIX

RULE = "AwsSolutions-IAM5"
# Account-level actions that IAM cannot scope to a resource; "Resource::*" is accepted only for these.
UNSCOPED_ACTIONS = frozenset(
    {
        "ecr:GetAuthorizationToken",
        "cloudwatch:PutMetricData",
        # Composite alarms are readable only with DescribeAlarms scoped to * (CloudWatch API Reference)
        "cloudwatch:DescribeAlarms",
        # X-Ray tracing
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
        # CloudWatch Logs vended-log delivery, which Step Functions logging needs
        "logs:CreateLogDelivery",
        "logs:GetLogDelivery",
        "logs:UpdateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:ListLogDeliveries",
        "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies",
        "logs:DescribeLogGroups",
    }
)
_PLATFORM_BUCKETS = r"(RawData|Artifacts|DataCapture|FeatureStore)[0-9A-F]{8}"


@dataclass(frozen=True)
class Review:
    pattern: str  # a regex that must match the whole finding text
    reason: str

    def matches(self, finding: str) -> bool:
        return re.fullmatch(self.pattern, finding) is not None


REVIEWS: tuple[Review, ...] = (
    Review(
        r"Resource::arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:(endpoint-config|model)/\*",
        "Describe-only reads (DescribeEndpointConfig, DescribeModel) of the deploy/drift functions' live-endpoint "
        "check: CloudFormation generates the serving stack's model and endpoint-config names, so the live ones "
        "cannot be named in advance.",
    ),
    Review(
        r"Action::s3:(Abort|DeleteObject|GetBucket|GetObject|List|PutObjectLegalHold|PutObjectRetention|"
        r"PutObjectTagging|PutObjectVersionTagging)\*",
        "Action groups of CDK's bucket.grant_read/grant_read_write, applied only to the platform's own buckets "
        "and the delivery pipeline's artifact bucket.",
    ),
    Review(
        r"Action::kms:(GenerateDataKey|ReEncrypt)\*",
        "Data-key action groups of CDK's key.grant_encrypt_decrypt, on the platform's data key or the delivery "
        "pipeline's artifact key only.",
    ),
    Review(
        rf"Resource::<?[^/]*{_PLATFORM_BUCKETS}[^/]*/([a-z-]+/)?\*",
        "Objects inside one of the platform's buckets (or one prefix of it); S3 object ARNs need a wildcard.",
    ),
    Review(
        r"Resource::arn:aws[a-z-]*:logs:[a-z0-9-]+:\d{12}:log-group:/aws/sagemaker/(Endpoints/)?\*",
        "SageMaker jobs and endpoints write to log groups SageMaker names per job/endpoint under /aws/sagemaker/.",
    ),
    Review(
        r"Resource::arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:(processing-job|training-job)/pipelines-\*",
        "Pipeline job names carry the execution id; scoped to the pipelines- prefix in this account and region.",
    ),
    Review(
        r"Resource::arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:(model|transform-job)/"
        + rf"[a-z0-9-]+{re.escape(JOB_NAME_INFIX)}\*",
        "Batch models and transform jobs are named per (batch, package) digest; scoped to the project's batch prefix.",
    ),
    Review(
        r"Resource::arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-card/[a-z0-9-]+-models-\*",
        "One model card per package version of the project's group, named <group>-<version>.",
    ),
    Review(
        r"Resource::arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:pipeline/[a-z0-9-]+/execution/\*",
        "Pipeline execution ids are generated per run; scoped to the executions of the project's one pipeline.",
    ),
    Review(
        r"Resource::(<[A-Za-z0-9]+Function[0-9A-F]{8}\.Arn>|[A-Za-z0-9-]+:ExportsOutputFnGetAtt[A-Za-z0-9]+Function"
        r"[0-9A-F]{8}Arn[0-9A-F]{8}):\*",
        "Invoking any version or alias of one named function (CDK's grant_invoke adds the ':*' form).",
    ),
    Review(
        r"Resource::arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package/[a-z0-9-]+/\*",
        "Model package versions of the project's one model package group.",
    ),
    # The delivery pipeline (CDK Pipelines, stacks/delivery_stack.py)
    Review(
        r"Resource::<PipelineArtifactsBucket[0-9A-F]{8}\.Arn>/\*",
        "Objects in the delivery pipeline's own artifact bucket: each step reads its input and writes its output "
        "artifacts there under names CodePipeline generates per execution.",
    ),
    Review(
        r"Resource::arn:aws[a-z-]*:logs:[a-z0-9-]+:\d{12}:log-group:/aws/codebuild/<Pipeline[A-Za-z0-9]+>:\*",
        "Log streams in one pipeline CodeBuild project's own log group; CodeBuild names a stream per build.",
    ),
    Review(
        r"Resource::arn:aws[a-z-]*:codebuild:[a-z0-9-]+:\d{12}:report-group/<Pipeline[A-Za-z0-9]+>-\*",
        "Test report groups of one pipeline CodeBuild project; CodeBuild names them <project>-<report>.",
    ),
)


def wildcard_findings(document: Any) -> list[str]:
    """The IAM5 finding texts of one resolved policy document, computed the way cdk-nag computes them."""
    findings: dict[str, None] = {}
    for statement in (document or {}).get("Statement", []):
        if statement.get("Effect") != "Allow":
            continue
        for action in _as_list(statement.get("Action")):
            if "*" in action:
                findings[f"Action::{action}"] = None
        for resource in _as_list(statement.get("Resource")):
            flat = flatten_reference(resource)
            if "*" in flat:
                findings[f"Resource::{flat}"] = None
    return list(findings)


def flatten_reference(node: Any) -> str:
    """cdk-nag's flattenCfnReference: intrinsic functions as a flat string."""
    if node is None:
        return ""
    if isinstance(node, str):
        return node.replace("${", "<").replace("}", ">")
    if isinstance(node, dict):
        if "Fn::Join" in node:
            delimiter, items = node["Fn::Join"]
            return delimiter.join(flatten_reference(i) for i in items)
        if "Fn::Sub" in node:
            return flatten_reference(node["Fn::Sub"])
        if "Fn::GetAtt" in node:
            resource, attribute = node["Fn::GetAtt"]
            return f"<{flatten_reference(resource)}.{flatten_reference(attribute)}>"
        if "Fn::ImportValue" in node:
            return flatten_reference(node["Fn::ImportValue"])
        if "Ref" in node:
            return f"<{flatten_reference(node['Ref'])}>"
    return json.dumps(node, separators=(",", ":"))


def review(finding: str, document: Any) -> Review | None:
    if finding == "Resource::*":
        return _unscoped_actions_review(document)
    return next((r for r in REVIEWS if r.matches(finding)), None)


def _unscoped_actions_review(document: Any) -> Review | None:
    actions = {
        action
        for statement in document.get("Statement", [])
        if statement.get("Effect") == "Allow" and "*" in _as_list(statement.get("Resource"))
        for action in _as_list(statement.get("Action"))
    }
    if actions and actions <= UNSCOPED_ACTIONS:
        return Review("Resource::*", f"Only {', '.join(sorted(actions))}, which IAM cannot scope to a resource.")
    return None


def _policy_documents(node: IConstruct) -> Iterator[Any]:
    if isinstance(node, (iam.CfnPolicy, iam.CfnManagedPolicy)):
        yield cdk.Stack.of(node).resolve(node.policy_document)
    elif isinstance(node, iam.CfnRole):
        for policy in cdk.Stack.of(node).resolve(node.policies) or []:
            yield policy.get("PolicyDocument")


def _walk(root: IConstruct) -> Iterable[IConstruct]:
    return root.node.find_all()


@jsii.implements(cdk.IPolicyValidationPlugin)
class ReviewedWildcards:
    """Acknowledges reviewed IAM5 findings; register it before AwsSolutionsChecks."""

    # Optional members of the plugin interface (CDK uses them for analytics only).
    rule_ids: list[str] | None = None
    version: str | None = None

    def __init__(self, root: IConstruct) -> None:
        self._root = root

    @property
    def name(self) -> str:
        return "ReviewedIamWildcards"

    def validate(self, context: Any) -> cdk.PolicyValidationPluginReport:
        for node in _walk(self._root):
            for document in _policy_documents(node):
                for finding in wildcard_findings(document):
                    accepted = review(finding, document)
                    if accepted is not None:
                        cdk.Validations.of(node).acknowledge(
                            cdk.Acknowledgment(id=f"{RULE}[{finding}]", reason=accepted.reason)
                        )
        return cdk.PolicyValidationPluginReport(success=True, violations=[])


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
