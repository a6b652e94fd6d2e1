"""The IAM evaluator on its own: actions and ARNs from the IAM database, wildcards, Deny, NotResource, conditions,
implied KMS / PassRole / SSM requirements, AWS-shaped denials, and what it cannot resolve being reported."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from mlops.aws_rules.iam_actions import actions_for, build_resources, resource_types
from mlops.aws_rules.iam_policy import IamEnforcer, ResourceFacts
from mlops.aws_rules.iam_statements import Statement, evaluate, wildcard_match
from mlops.aws_rules.interception import enforcing
from mlops.aws_rules.principals import acting_as, tag_client, untracked

ACCOUNT = "111111111111"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/Worker"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/TopicKey"
PSEUDO = {"Partition": "aws", "Region": "us-east-1", "Account": ACCOUNT}


def allow(action: Any, resource: Any, **extra: Any) -> Statement:
    return Statement.from_json({"Effect": "Allow", "Action": action, "Resource": resource, **extra}, "test")


def deny(action: Any, resource: Any, **extra: Any) -> Statement:
    return Statement.from_json({"Effect": "Deny", "Action": action, "Resource": resource, **extra}, "test")


# -- the IAM database ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "operation", "action"),
    [
        ("s3", "ListObjectsV2", "ListBucket"),  # the reference documents ListBucket on the ListObjectsV2 page
        ("s3", "GetObject", "GetObject"),
        ("s3", "HeadObject", "GetObject"),  # not in the reference's table: S3's documented permission
        ("lambda", "Invoke", "InvokeFunction"),
        ("states", "StartExecution", "StartExecution"),
        ("sagemaker", "DescribeModelPackage", "DescribeModelPackage"),
        ("sns", "Publish", "Publish"),
    ],
)
def test_operations_map_to_the_actions_the_database_names(prefix: str, operation: str, action: str) -> None:
    assert actions_for(prefix, operation) == (action,)


def test_an_operation_the_database_does_not_know_maps_to_nothing() -> None:
    assert actions_for("s3", "NoSuchOperation") == ()


def test_resource_arns_are_built_from_the_databases_formats() -> None:
    def arns(prefix: str, action: str, params: dict[str, Any]) -> list[str] | None:
        for arn_format, _ in resource_types(prefix, action):
            built = build_resources(arn_format, params, PSEUDO)
            if built:
                return built
        return None

    assert arns("s3", "GetObject", {"Bucket": "b", "Key": "k/x.csv"}) == ["arn:aws:s3:::b/k/x.csv"]
    assert arns("ssm", "GetParameter", {"Name": "/mlops/p"}) == [f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/mlops/p"]
    assert arns("lambda", "InvokeFunction", {"FunctionName": "f"}) == [f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:f"]
    topic = f"arn:aws:sns:us-east-1:{ACCOUNT}:t"
    assert arns("sns", "Publish", {"TopicArn": topic, "Message": "m"}) == [topic]
    assert arns("ssm", "GetParameters", {"Names": ["/a", "/b"]}) == [
        f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/a",
        f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/b",
    ]


def test_a_name_without_its_id_is_found_among_the_known_arns() -> None:
    stack = f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/serving/0a1b"
    (arn_format, _) = resource_types("cloudformation", "DescribeStacks")[0]
    assert build_resources(arn_format, {"StackName": "serving"}, PSEUDO, {stack}) == [stack]
    assert build_resources(arn_format, {"StackName": "serving"}, PSEUDO, set()) is None


# -- statements --------------------------------------------------------------------------------------------------


def test_wildcards_star_and_question_mark() -> None:
    assert wildcard_match("arn:aws:s3:::b/*", "arn:aws:s3:::b/a/b/c")
    assert wildcard_match("arn:aws:s3:::b/?.csv", "arn:aws:s3:::b/x.csv")
    assert not wildcard_match("arn:aws:s3:::b/?.csv", "arn:aws:s3:::b/xy.csv")
    assert not wildcard_match("arn:aws:s3:::B/*", "arn:aws:s3:::b/x")  # resources are case-sensitive
    assert evaluate([allow("S3:get*", "*")], "s3:GetObject", "x", {}).decision == "allow"  # actions are not


def test_explicit_deny_wins_over_allow() -> None:
    statements = [allow("s3:*", "*"), deny("s3:GetObject", "arn:aws:s3:::b/secret/*")]
    assert evaluate(statements, "s3:GetObject", "arn:aws:s3:::b/secret/x", {}).decision == "explicit-deny"
    assert evaluate(statements, "s3:GetObject", "arn:aws:s3:::b/public/x", {}).decision == "allow"
    assert evaluate(statements, "sns:Publish", "arn:aws:sns:::t", {}).decision == "implicit-deny"
    assert evaluate([], "s3:GetObject", "x", {}).decision == "implicit-deny"


def test_not_action_and_not_resource() -> None:
    everything_but_writes = Statement.from_json({"Effect": "Allow", "NotAction": "s3:Put*", "Resource": "*"})
    assert evaluate([everything_but_writes], "s3:GetObject", "x", {}).decision == "allow"
    assert evaluate([everything_but_writes], "s3:PutObject", "x", {}).decision == "implicit-deny"
    not_secret = Statement.from_json(
        {"Effect": "Deny", "Action": "s3:*", "NotResource": "arn:aws:s3:::b/public/*"}, "guard"
    )
    statements = [allow("s3:*", "*"), not_secret]
    assert evaluate(statements, "s3:GetObject", "arn:aws:s3:::b/public/x", {}).decision == "allow"
    assert evaluate(statements, "s3:GetObject", "arn:aws:s3:::b/other", {}).decision == "explicit-deny"


def test_conditions_on_request_values() -> None:
    passed = allow("iam:PassRole", ROLE, Condition={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}})
    via = allow("kms:Decrypt", KEY, Condition={"StringLike": {"kms:ViaService": "sns.*.amazonaws.com"}})
    assert evaluate([passed], "iam:PassRole", ROLE, {"iam:PassedToService": "sagemaker.amazonaws.com"}).decision == (
        "allow"
    )
    assert evaluate([passed], "iam:PassRole", ROLE, {"iam:PassedToService": "lambda.amazonaws.com"}).decision == (
        "implicit-deny"
    )
    assert evaluate([via], "kms:Decrypt", KEY, {"kms:ViaService": "sns.us-east-1.amazonaws.com"}).decision == "allow"
    assert evaluate([via], "kms:Decrypt", KEY, {"kms:ViaService": None}).decision == "implicit-deny"  # direct call
    tls_only = deny("s3:*", "*", Condition={"Bool": {"aws:SecureTransport": "false"}})
    assert evaluate([allow("s3:*", "*"), tls_only], "s3:GetObject", "x", {"aws:SecureTransport": "true"}).decision == (
        "allow"
    )


def test_an_unknown_condition_or_unresolved_statement_is_reported_not_applied() -> None:
    tagged = allow("s3:GetObject", "*", Condition={"StringEquals": {"aws:ResourceTag/team": "ml"}})
    result = evaluate([tagged], "s3:GetObject", "arn:aws:s3:::b/k", {"aws:SecureTransport": "true"})
    assert result.decision == "implicit-deny"
    assert [why for _, why in result.unresolved] == [
        "condition not evaluated: StringEquals on key aws:ResourceTag/team"
    ]
    unresolved = Statement(
        "Allow", ("sns:Publish",), resources=("*",), source="x", unresolved="Resource did not resolve"
    )
    result = evaluate([unresolved], "sns:Publish", "arn:aws:sns:::t", {})
    assert result.decision == "implicit-deny" and result.unresolved == [(unresolved, "Resource did not resolve")]


# -- the Check in a (moto) process ----------------------------------------------------------------------------------


@pytest.fixture()
def topic() -> Iterator[str]:
    with mock_aws():
        yield boto3.client("sns", region_name="us-east-1").create_topic(Name="t")["TopicArn"]


def _enforcer(topic: str, statements: list[Statement]) -> IamEnforcer:
    return IamEnforcer({ROLE: statements}, ResourceFacts(topic_keys={topic: KEY}))


def test_publishing_to_an_encrypted_topic_needs_the_key_through_sns(topic: str) -> None:
    sns = boto3.client("sns", region_name="us-east-1")
    publish_only = [allow("sns:Publish", topic)]
    enforcer = _enforcer(topic, publish_only)
    with enforcing(enforcer), acting_as(ROLE), pytest.raises(ClientError) as denied:
        sns.publish(TopicArn=topic, Message="m")
    error = denied.value.response["Error"]
    assert error["Code"] == "AuthorizationError"  # SNS's code for a denied request
    assert error["Message"].startswith(
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/Worker/twin is not authorized to perform: kms:GenerateDataKey "
        f"on resource: {KEY}"
    )
    assert [(d.action, d.resource) for d in enforcer.report.denials] == [("kms:GenerateDataKey", KEY)]
    via_sns = {"StringEquals": {"kms:ViaService": "sns.us-east-1.amazonaws.com"}}
    granted = [*publish_only, allow(["kms:GenerateDataKey*", "kms:Decrypt"], KEY, Condition=via_sns)]
    with enforcing(_enforcer(topic, granted)), acting_as(ROLE):
        sns.publish(TopicArn=topic, Message="m")


def test_calls_without_a_principal_or_on_untracked_clients_are_not_evaluated(topic: str) -> None:
    enforcer = _enforcer(topic, [])
    sns = boto3.client("sns", region_name="us-east-1")
    with enforcing(enforcer):
        sns.publish(TopicArn=topic, Message="harness")
        with acting_as(ROLE):
            untracked(boto3.client("sns", region_name="us-east-1")).publish(TopicArn=topic, Message="twin")
    assert enforcer.report.evaluated_calls == 0 and enforcer.report.denials == []


def test_a_tagged_client_acts_for_its_role_in_any_thread(topic: str) -> None:
    import threading

    enforcer = _enforcer(topic, [])
    client = tag_client(boto3.client("sns", region_name="us-east-1"), ROLE)
    errors: list[str] = []

    def publish() -> None:
        try:
            client.publish(TopicArn=topic, Message="m")
        except ClientError as exc:
            errors.append(exc.response["Error"]["Code"])

    with enforcing(enforcer):
        thread = threading.Thread(target=publish)
        thread.start()
        thread.join()
    assert errors == ["AuthorizationError"]


def test_passing_a_role_needs_pass_role_to_that_service() -> None:
    with mock_aws():
        sagemaker = boto3.client("sagemaker", region_name="us-east-1")
        model = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:model/m"
        enforcer = IamEnforcer({ROLE: [allow("sagemaker:CreateModel", model)]})
        with enforcing(enforcer), acting_as(ROLE), pytest.raises(ClientError) as denied:
            sagemaker.create_model(ModelName="m", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "i"})
        assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
        assert "iam:PassRole on resource: " + ROLE in denied.value.response["Error"]["Message"]


def test_an_unknown_principal_is_reported(topic: str) -> None:
    enforcer = _enforcer(topic, [])
    with enforcing(enforcer), acting_as(f"arn:aws:iam::{ACCOUNT}:role/Other"):
        boto3.client("sns", region_name="us-east-1").publish(TopicArn=topic, Message="m")
    assert enforcer.report.unevaluated_calls == [
        f"arn:aws:iam::{ACCOUNT}:role/Other sns.Publish: the principal's policies are unknown to the twin"
    ]


def test_service_prefixes_come_from_the_signing_name() -> None:
    """boto3's `stepfunctions` is IAM's `states`; the Feature Store runtime's actions are `sagemaker:`."""
    runtime = boto3.client("sagemaker-featurestore-runtime", region_name="us-east-1")
    enforcer = IamEnforcer({ROLE: []})
    from mlops.aws_rules.interception import ApiCall

    call = ApiCall(
        "sagemaker-featurestore-runtime",
        runtime.meta.service_model.operation_model("PutRecord"),
        {"FeatureGroupName": "fg", "Record": []},
        "us-east-1",
        runtime,
    )
    (requirement,) = enforcer.requirements(call, ROLE)
    assert (requirement.action, requirement.resource) == (
        "sagemaker:PutRecord",
        f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:feature-group/fg",
    )
    assert boto3.client("stepfunctions", region_name="us-east-1").meta.service_model.signing_name == "states"


def test_cloudwatch_calls_are_authorized_as_cloudwatch_actions() -> None:
    """CloudWatch signs as `monitoring` but authorizes `cloudwatch:` actions (the re-check function's DescribeAlarms
    used to fail with a KeyError on the unknown `monitoring` prefix)."""
    with mock_aws():
        cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
        assert cloudwatch.meta.service_model.signing_name == "monitoring"
        with enforcing(IamEnforcer({ROLE: []})), acting_as(ROLE), pytest.raises(ClientError) as denied:
            cloudwatch.describe_alarms(AlarmNames=["a"])
        assert "cloudwatch:DescribeAlarms" in denied.value.response["Error"]["Message"]
        granted = IamEnforcer({ROLE: [allow("cloudwatch:DescribeAlarms", "*")]})
        with enforcing(granted), acting_as(ROLE):
            cloudwatch.describe_alarms(AlarmNames=["a"])
        assert granted.report.evaluated_calls == 1 and granted.report.denials == []


def test_a_service_prefix_the_database_lacks_maps_to_no_action() -> None:
    assert actions_for("no-such-service", "Anything") == ()


def test_a_policy_naming_what_the_twin_did_not_create_is_kept_unresolved(tmp_path: Any) -> None:
    from mlops.twin.emulators.iam_roles import role_policies
    from mlops.twin.templates import Assembly, Resolver

    template = {
        "Resources": {
            "Worker": {"Type": "AWS::IAM::Role", "Properties": {}},
            "Missing": {"Type": "AWS::SNS::Topic", "Properties": {}},
            "Policy": {
                "Type": "AWS::IAM::Policy",
                "Properties": {
                    "Roles": [{"Ref": "Worker"}],
                    "PolicyDocument": {
                        "Statement": [
                            {"Effect": "Allow", "Action": "sns:Publish", "Resource": [{"Ref": "Missing"}, "arn:x"]}
                        ]
                    },
                },
            },
        }
    }
    resolver = Resolver(Assembly(tmp_path, {"s": template}), {})
    resolver.physical[("s", "Worker")] = "Worker"
    (kept, unresolved) = role_policies(resolver, ACCOUNT)[ROLE]
    assert kept.resources == ("arn:x",) and not kept.unresolved  # what resolved applies
    assert unresolved.unresolved == "Resource {'Ref': 'Missing'} did not resolve"
    enforcer = IamEnforcer({ROLE: [kept, unresolved]})
    result = evaluate(enforcer.policies[ROLE], "sns:Publish", "arn:aws:sns:us-east-1:1:t", {})
    assert result.decision == "implicit-deny" and [s for s, _ in result.unresolved] == [unresolved]


def test_s3_and_sqs_on_kms_encrypted_resources_need_the_key() -> None:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="data")
        s3.put_object(Bucket="data", Key="k", Body=b"x")
        sqs = boto3.client("sqs", region_name="us-east-1")
        queue = sqs.create_queue(QueueName="q")["QueueUrl"]
        facts = ResourceFacts(bucket_keys={"data": KEY}, queue_keys={queue: KEY})
        object_grants = [allow(["s3:GetObject", "s3:PutObject"], "arn:aws:s3:::data/*"),
                         allow("sqs:SendMessage", f"arn:aws:sqs:us-east-1:{ACCOUNT}:q")]  # fmt: skip
        enforcer = IamEnforcer({ROLE: object_grants}, facts)
        with enforcing(enforcer), acting_as(ROLE):
            for call, action in (
                (lambda: s3.get_object(Bucket="data", Key="k"), "kms:Decrypt"),
                (lambda: s3.put_object(Bucket="data", Key="k2", Body=b"y"), "kms:GenerateDataKey"),
                (lambda: sqs.send_message(QueueUrl=queue, MessageBody="m"), "kms:GenerateDataKey"),
            ):
                with pytest.raises(ClientError, match=f"not authorized to perform: {action} on resource: {KEY}"):
                    call()
        via = {"StringLike": {"kms:ViaService": ["s3.*.amazonaws.com", "sqs.*.amazonaws.com"]}}
        key_grant = allow(["kms:Decrypt", "kms:GenerateDataKey*"], KEY, Condition=via)
        with enforcing(IamEnforcer({ROLE: [*object_grants, key_grant]}, facts)), acting_as(ROLE):
            assert s3.get_object(Bucket="data", Key="k")["Body"].read() == b"x"
            s3.put_object(Bucket="data", Key="k2", Body=b"y")
            sqs.send_message(QueueUrl=queue, MessageBody="m")


def test_set_operators_on_a_multivalued_key_and_null_on_an_absent_one() -> None:
    """The deploy function's UpdateStack fence: no TemplateUrl, ResourceTypes present and all of them allowed."""
    fence = {
        "Null": {"cloudformation:TemplateUrl": "true", "cloudformation:ResourceTypes": "false"},
        "ForAllValues:StringEquals": {"cloudformation:ResourceTypes": ["AWS::SageMaker::Model"]},
    }
    statement = allow("cloudformation:UpdateStack", "*", Condition=fence)

    def decision(template_url: str | None, types: list[str] | None) -> str:
        context = {"cloudformation:TemplateUrl": template_url, "cloudformation:ResourceTypes": types}
        return evaluate([statement], "cloudformation:UpdateStack", "arn:stack", context).decision

    assert decision(None, ["AWS::SageMaker::Model"]) == "allow"
    assert decision(None, ["AWS::SageMaker::Model", "AWS::IAM::Role"]) == "implicit-deny"
    assert decision("https://bucket/template.json", ["AWS::SageMaker::Model"]) == "implicit-deny"
    assert decision(None, None) == "implicit-deny"
    any_value = allow("s:A", "*", Condition={"ForAnyValue:StringLike": {"s:k": "x*"}})
    assert evaluate([any_value], "s:A", "r", {"s:k": ["a", "xy"]}).decision == "allow"
    assert evaluate([any_value], "s:A", "r", {"s:k": None}).decision == "implicit-deny"
