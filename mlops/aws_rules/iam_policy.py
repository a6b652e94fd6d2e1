"""IAM and KMS evaluation: every boto3 call a deployed principal makes is checked against that role's policies.

`IamEnforcer` is a `Check` for `interception.enforcing`. For a call whose principal is known (`principals`), it
derives what AWS authorizes (`requirements`): the operation's own action on the resource the request names, plus
the authorizations AWS makes on the caller's behalf:
- a role in the request (`...RoleArn`) is passed: iam:PassRole on it, with iam:PassedToService the called service
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html);
- a KMS-encrypted destination or source uses the key with the caller's permissions, through the service
  (kms:ViaService): SNS Publish to a topic with KmsMasterKeyId needs kms:GenerateDataKey and kms:Decrypt
  (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html); S3 PutObject into a bucket with SSE-KMS
  default encryption needs kms:GenerateDataKey, GetObject kms:Decrypt, a multipart upload both
  (https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html#require-sse-kms); SQS SendMessage
  to a queue with a customer managed key needs kms:GenerateDataKey and kms:Decrypt
  (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-key-management.html);
- CloudFormation UpdateStack resolves the template's SSM parameter types with the caller's ssm:GetParameters
  ("Systems Manager parameter types",
  https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-supplied-parameter-types.html).
Each requirement is evaluated against the role's statements (`iam_statements.evaluate`); a denied one raises the
error the service returns. Statements the twin could not resolve, and calls whose resource the request does not
determine, are recorded (`report`) and warned about once, never silently allowed.
Not modelled: resource-based policies (bucket, key, topic policies) and SCPs; the platform's keys delegate to IAM.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mlops.aws_rules.iam_actions import Requirement, actions_for, build_resources, iam_prefix, resource_types
from mlops.aws_rules.iam_statements import ContextValue, Statement, evaluate
from mlops.aws_rules.interception import ApiCall, aws_error
from mlops.aws_rules.principals import principal_of

logger = logging.getLogger(__name__)

_AWS_MANAGED_KEYS = ("alias/aws/",)  # AWS managed keys' policies allow every principal of the account, via service
# What an S3 request on a bucket with SSE-KMS default encryption asks KMS for, with the caller's permissions.
_S3_KMS_ACTIONS: dict[str, tuple[str, ...]] = {
    "GetObject": ("Decrypt",),
    "PutObject": ("GenerateDataKey",),
    "CopyObject": ("GenerateDataKey",),
    "CreateMultipartUpload": ("GenerateDataKey", "Decrypt"),
    "UploadPart": ("GenerateDataKey",),
}
_PASSED_ROLE_PARAMS = ("RoleArn", "roleArn", "RoleARN", "ExecutionRoleArn")


@dataclass
class ResourceFacts:
    """What the synthesized resources say about encryption and templates, keyed as requests name them."""

    topic_keys: dict[str, str] = field(default_factory=dict)  # topic ARN -> KMS key ARN
    bucket_keys: dict[str, str] = field(default_factory=dict)  # bucket name -> KMS key ARN (SSE-KMS default)
    queue_keys: dict[str, str] = field(default_factory=dict)  # queue URL or ARN -> KMS key id/ARN
    stack_templates: dict[str, dict[str, Any]] = field(default_factory=dict)  # stack name -> template
    known_arns: set[str] = field(default_factory=set)  # ARNs of what the twin created (name -> ARN look-ups)


@dataclass(frozen=True)
class Denial:
    principal: str
    service: str
    operation: str
    action: str
    resource: str
    reason: str


@dataclass
class IamReport:
    evaluated_calls: int = 0  # calls of a known principal whose every requirement was evaluated
    denials: list[Denial] = field(default_factory=list)
    unresolved_statements: list[str] = field(default_factory=list)  # "<source>: <why> (for <action>)"
    unevaluated_calls: list[str] = field(default_factory=list)  # "<principal> <service>.<operation>: <why>"

    def summary(self) -> str:
        return (
            f"IAM: {self.evaluated_calls} calls evaluated against their roles' synthesized policies, "
            f"{len(self.denials)} denied; {len(self.unresolved_statements)} unresolved statements, "
            f"{len(self.unevaluated_calls)} calls not evaluated"
        )

    def lines(self) -> list[str]:
        return [
            *(f"denied: {d.principal} {d.action} on {d.resource} ({d.service}.{d.operation})" for d in self.denials),
            *(f"unresolved statement: {s}" for s in self.unresolved_statements),
            *(f"not evaluated: {c}" for c in self.unevaluated_calls),
        ]


class IamEnforcer:
    """The Check: evaluates each call with a principal against `policies[principal]` (statements by role ARN)."""

    def __init__(
        self, policies: Mapping[str, Sequence[Statement]], facts: ResourceFacts | None = None, partition: str = "aws"
    ) -> None:
        self.policies = policies
        self.facts = facts or ResourceFacts()
        self.partition = partition
        self.report = IamReport()
        self._lock = threading.Lock()

    def __call__(self, call: ApiCall) -> None:
        principal = principal_of(call.client)
        if principal is None:
            return
        if principal not in self.policies:
            self._note(self.report.unevaluated_calls, f"{principal} {call.service}.{call.operation_name}: "
                       "the principal's policies are unknown to the twin")  # fmt: skip
            return
        for requirement in self.requirements(call, principal):
            self._authorize(call, principal, requirement)
        with self._lock:
            self.report.evaluated_calls += 1

    # -- what AWS authorizes for the call ----------------------------------------------------------------------

    def requirements(self, call: ApiCall, principal: str) -> list[Requirement]:
        prefix = iam_prefix(call.client.meta.service_model.signing_name)
        account = principal.split(":")[4]
        pseudo = {"Partition": self.partition, "Region": call.region or "", "Account": account}
        base = self._context(call, principal)
        names = actions_for(prefix, call.operation_name)
        if not names:
            self._note(self.report.unevaluated_calls, f"{principal} {call.service}.{call.operation_name}: "
                       "the IAM database names no action for this operation")  # fmt: skip
            return []
        out: list[Requirement] = []
        for name in names:
            out.extend(self._action_requirements(call, principal, prefix, name, pseudo, base))
        out.extend(self._passed_roles(call, base))
        out.extend(self._implied_kms(call, prefix, base))
        out.extend(self._implied_by_operation(call, pseudo, base))
        return out

    def _context(self, call: ApiCall, principal: str) -> dict[str, ContextValue]:
        # Keys the evaluator models; None = modelled, absent in this request. boto3 always uses TLS.
        return {
            "aws:SecureTransport": "true",
            "aws:PrincipalArn": principal,
            "aws:PrincipalAccount": principal.split(":")[4],
            "aws:RequestedRegion": call.region,
            "iam:PassedToService": None,
            "kms:ViaService": None,
            **_cloudformation_keys(call),
        }

    def _action_requirements(
        self,
        call: ApiCall,
        principal: str,
        prefix: str,
        name: str,
        pseudo: Mapping[str, str],
        context: Mapping[str, ContextValue],
    ) -> list[Requirement]:
        action = f"{prefix}:{name}"
        formats = resource_types(prefix, name)
        if not formats:
            return [Requirement(action, "*", context)]
        for arn_format, _ in formats:
            built = build_resources(arn_format, call.params, pseudo, self.facts.known_arns)
            if built:
                return [Requirement(action, arn, context) for arn in built]
        if not any(required for _, required in formats):
            return [Requirement(action, "*", context)]
        self._note(self.report.unevaluated_calls, f"{principal} {call.service}.{call.operation_name}: the request "
                   f"does not determine the {action} resource ({formats[0][0]})")  # fmt: skip
        return []

    def _passed_roles(self, call: ApiCall, context: Mapping[str, ContextValue]) -> list[Requirement]:
        service = f"{call.client.meta.service_model.signing_name}.amazonaws.com"
        return [
            Requirement("iam:PassRole", str(call.params[key]), {**context, "iam:PassedToService": service})
            for key in _PASSED_ROLE_PARAMS
            if isinstance(call.params.get(key), str)
        ]

    def _implied_kms(self, call: ApiCall, prefix: str, context: Mapping[str, ContextValue]) -> list[Requirement]:
        op = call.operation_name
        key: str | None = None
        actions: tuple[str, ...] = ()
        if prefix == "sns" and op == "Publish":
            key, actions = self.facts.topic_keys.get(str(call.params.get("TopicArn"))), ("GenerateDataKey", "Decrypt")
        elif prefix == "sqs" and op in ("SendMessage", "SendMessageBatch"):
            key, actions = self.facts.queue_keys.get(str(call.params.get("QueueUrl"))), ("GenerateDataKey", "Decrypt")
        elif prefix == "s3" and op in _S3_KMS_ACTIONS:
            key, actions = self.facts.bucket_keys.get(str(call.params.get("Bucket"))), _S3_KMS_ACTIONS[op]
        if key is None or key.startswith(_AWS_MANAGED_KEYS):
            return []
        via = f"{prefix}.{call.region}.amazonaws.com"
        why = f"{prefix} {op} uses the key for the caller"
        return [Requirement(f"kms:{a}", key, {**context, "kms:ViaService": via}, why) for a in actions]

    def _implied_by_operation(
        self, call: ApiCall, pseudo: Mapping[str, str], context: Mapping[str, ContextValue]
    ) -> list[Requirement]:
        op = call.operation_name
        if call.service == "s3" and op == "CopyObject":
            source = call.params.get("CopySource")
            if isinstance(source, Mapping):
                arn = f"arn:{self.partition}:s3:::{source.get('Bucket')}/{source.get('Key')}"
                out = [Requirement("s3:GetObject", arn, context, "CopyObject reads its source")]
                key = self.facts.bucket_keys.get(str(source.get("Bucket")))
                if key and not key.startswith(_AWS_MANAGED_KEYS):
                    via = {**context, "kms:ViaService": f"s3.{call.region}.amazonaws.com"}
                    out.append(Requirement("kms:Decrypt", key, via, "CopyObject decrypts its source"))
                return out
        if call.service == "cloudformation" and op in ("UpdateStack", "CreateStack"):
            named = str(call.params.get("StackName", ""))
            name = named.split("/")[1] if named.startswith("arn:") else named  # stack/<name>/<id>
            template = self.facts.stack_templates.get(name, {})
            out = []
            for parameter in template.get("Parameters", {}).values():
                if str(parameter.get("Type", "")).startswith("AWS::SSM::Parameter::") and "Default" in parameter:
                    path = str(parameter["Default"]).lstrip("/")
                    arn = f"arn:{self.partition}:ssm:{pseudo['Region']}:{pseudo['Account']}:parameter/{path}"
                    out.append(Requirement("ssm:GetParameters", arn, context, f"{op} resolves SSM parameter types"))
            return out
        return []

    # -- the decision --------------------------------------------------------------------------------------------

    def _authorize(self, call: ApiCall, principal: str, requirement: Requirement) -> None:
        result = evaluate(self.policies[principal], requirement.action, requirement.resource, requirement.context)
        for statement, why in result.unresolved:
            self._note(self.report.unresolved_statements, f"{statement.source}: {why} (for {requirement.action})")
        if result.decision == "allow":
            return
        because = (
            f"with an explicit deny in {result.deciding.source}"
            if result.decision == "explicit-deny" and result.deciding
            else "because no identity-based policy allows the " + requirement.action + " action"
        )
        reason = requirement.why + "; " if requirement.why else ""
        role_name = principal.rsplit("/", 1)[-1]
        account = principal.split(":")[4]
        user = f"arn:{self.partition}:sts::{account}:assumed-role/{role_name}/twin"
        message = (
            f"User: {user} is not authorized to perform: {requirement.action} on resource: "
            f"{requirement.resource} {because}"
        )
        with self._lock:
            self.report.denials.append(
                Denial(principal, call.service, call.operation_name, requirement.action, requirement.resource,
                       reason + because)
            )  # fmt: skip
        logger.warning("IAM denied %s.%s: %s", call.service, call.operation_name, message)
        error = aws_error(call, _denied_code(call), message, status=403)
        # Every AWS answer carries a request id (moto's Step Functions engine reads it from a failed task's error).
        error.response["ResponseMetadata"]["RequestId"] = str(uuid.uuid4())
        raise error

    def _note(self, bucket: list[str], line: str) -> None:
        with self._lock:
            if line in bucket:
                return
            bucket.append(line)
        logger.warning("IAM evaluation: %s", line)


def _cloudformation_keys(call: ApiCall) -> dict[str, ContextValue]:
    """CloudFormation's request condition keys (cloudformation:TemplateUrl, the multivalued ResourceTypes),
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/control-access-with-iam.html#using-iam-template-conditions
    """
    if call.service != "cloudformation":
        return {}
    types = call.params.get("ResourceTypes")
    return {
        "cloudformation:TemplateUrl": call.params.get("TemplateURL"),
        "cloudformation:ResourceTypes": None if types is None else [str(t) for t in types],
    }


def _denied_code(call: ApiCall) -> str:
    """The error code the service returns for a denied request: SNS's AuthorizationError, AccessDenied for the
    query/rest-xml services (S3, CloudFormation, IAM, STS), AccessDeniedException for the JSON ones."""
    model = call.client.meta.service_model
    codes = {shape.error_code for shape in model.error_shapes}
    if "AuthorizationError" in codes:
        return "AuthorizationError"
    if model.protocol in ("query", "rest-xml", "ec2"):
        return "AccessDenied"
    return "AccessDeniedException"
