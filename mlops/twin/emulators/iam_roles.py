"""The synthesized roles' policies and resource facts, resolved to what the twin created, for the IAM evaluator.

A role's statements: its inline `Policies`, every `AWS::IAM::Policy` / `AWS::IAM::ManagedPolicy` that lists it in
`Roles`, and the in-template managed policies its `ManagedPolicyArns` reference. A resource or condition value the
twin cannot resolve (something it did not create) leaves that part of the statement unresolved: it is kept, marked,
and reported by the evaluator whenever it could have applied. AWS managed policies are not in the templates: each
becomes an unresolved statement for every action, so a denial that one of them might have prevented says so.
"""

from __future__ import annotations

from typing import Any

from mlops.aws_rules.iam_policy import ResourceFacts
from mlops.aws_rules.iam_statements import Statement
from mlops.twin.templates import Resolver

_POLICY_TYPES = ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")


def role_arn(account: str, name: str) -> str:
    return f"arn:aws:iam::{account}:role/{name}"


def role_policies(resolver: Resolver, account: str) -> dict[str, list[Statement]]:
    """Statements by role ARN, for every role in the assembly."""
    templates = resolver.assembly.templates
    out: dict[str, list[Statement]] = {}
    managed: dict[str, list[Statement]] = {}  # in-template managed policy ARN -> statements
    for stack, template in templates.items():
        for logical, resource in template["Resources"].items():
            if resource["Type"] == "AWS::IAM::Role":
                statements = out.setdefault(role_arn(account, _try(resolver, stack, {"Ref": logical}) or logical), [])
                for i, policy in enumerate(resource.get("Properties", {}).get("Policies", [])):
                    statements += _statements(resolver, stack, policy["PolicyDocument"], f"{stack}/{logical}#{i}")
    for stack, template in templates.items():
        for logical, resource in template["Resources"].items():
            if resource["Type"] not in _POLICY_TYPES:
                continue
            props = resource.get("Properties", {})
            statements = _statements(resolver, stack, props["PolicyDocument"], f"{stack}/{logical}")
            if resource["Type"] == "AWS::IAM::ManagedPolicy":
                managed[f"arn:aws:iam::{account}:policy/{logical}"] = statements
            for role in props.get("Roles", []):
                name = _try(resolver, stack, role)
                if name is not None:
                    out.setdefault(role_arn(account, name), []).extend(statements)
    for stack, template in templates.items():
        for logical, resource in template["Resources"].items():
            if resource["Type"] != "AWS::IAM::Role":
                continue
            arn = role_arn(account, _try(resolver, stack, {"Ref": logical}) or logical)
            for reference in resource.get("Properties", {}).get("ManagedPolicyArns", []):
                policy = _try(resolver, stack, reference)
                if policy in managed:
                    out[arn].extend(managed[policy])
                else:
                    why = f"managed policy {policy or reference} is not in the templates"
                    out[arn].append(Statement("Allow", ("*",), resources=("*",), source=f"{stack}/{logical}",
                                              unresolved=why))  # fmt: skip
    return out


def _statements(resolver: Resolver, stack: str, document: Any, source: str) -> list[Statement]:
    nodes = document["Statement"]
    out = []
    for i, node in enumerate(nodes if isinstance(nodes, list) else [nodes]):
        where = f"{source}#{i}" if len(nodes) > 1 else source
        resolved = dict(node)
        problems = []
        for key in ("Resource", "NotResource"):
            if key in node:
                items = node[key] if isinstance(node[key], list) else [node[key]]
                values = [_try(resolver, stack, item) for item in items]
                problems += [
                    f"{key} {item} did not resolve" for item, v in zip(items, values, strict=True) if v is None
                ]
                resolved[key] = [v for v in values if v is not None]
        condition_resolved = True
        if "Condition" in node:
            resolved["Condition"] = _try(resolver, stack, node["Condition"])
            if resolved["Condition"] is None:
                problems.append("its Condition did not resolve")
                condition_resolved = False
        if not problems or (condition_resolved and (resolved.get("Resource") or resolved.get("NotResource"))):
            out.append(Statement.from_json(resolved, where))  # what resolved applies
        if problems:  # the rest is reported wherever it could have applied, never applied
            out.append(Statement.from_json({**node, "Resource": "*"}, where, unresolved="; ".join(problems)))
    return out


def _try(resolver: Resolver, stack: str, node: Any) -> Any:
    try:
        return resolver.resolve(stack, node)
    except KeyError:
        return None


def resource_facts(resolver: Resolver) -> ResourceFacts:
    """Encryption of topics, buckets and queues, the stacks' templates, and every ARN the twin created."""
    facts = ResourceFacts(stack_templates=dict(resolver.assembly.templates))
    for stack, template in resolver.assembly.templates.items():
        for logical, resource in template["Resources"].items():
            props = resource.get("Properties", {})
            kind = resource["Type"]
            if kind == "AWS::SNS::Topic" and "KmsMasterKeyId" in props:
                arn = resolver.attributes.get((stack, logical, "TopicArn"))
                key = _try(resolver, stack, props["KmsMasterKeyId"])
                if arn and key:
                    facts.topic_keys[arn] = key
            elif kind == "AWS::S3::Bucket":
                rules = props.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [])
                default = rules[0].get("ServerSideEncryptionByDefault", {}) if rules else {}
                name = resolver.physical.get((stack, logical))
                if default.get("SSEAlgorithm") in ("aws:kms", "aws:kms:dsse") and name:
                    facts.bucket_keys[name] = _try(resolver, stack, default.get("KMSMasterKeyID")) or "alias/aws/s3"
            elif kind == "AWS::SQS::Queue" and "KmsMasterKeyId" in props:
                key = _try(resolver, stack, props["KmsMasterKeyId"])
                for name in (resolver.physical.get((stack, logical)), resolver.attributes.get((stack, logical, "Arn"))):
                    if name and key:
                        facts.queue_keys[name] = key
    facts.known_arns = {
        value
        for value in (*resolver.physical.values(), *resolver.attributes.values(), *resolver.stack_ids.values())
        if value.startswith("arn:")
    }
    return facts
