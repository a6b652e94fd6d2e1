"""cdk-nag (AwsSolutions) guards the synth: the platform passes, and a real finding fails the synth."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3

from stacks.nag_review import flatten_reference, review, wildcard_findings
from stacks.platform import add_guards


def _synth_stack(tmp_path: Path, build) -> None:  # type: ignore[no-untyped-def]
    app = cdk.App(outdir=str(tmp_path), builtin_cloud_formation_validation=False)
    stack = cdk.Stack(app, "Probe", env=cdk.Environment(account="111111111111", region="us-east-1"))
    build(stack)
    add_guards(app)
    app.synth()


def test_platform_synth_has_no_unacknowledged_finding(synthesized) -> None:
    # The session fixture synthesizes with the guards on; a finding would have raised there.
    assert set(synthesized.templates) >= {"Mlops-data", "Mlops-build"}


def test_an_unencrypted_public_bucket_fails_the_synth(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match=r"AwsSolutions-S10"):
        _synth_stack(tmp_path, lambda stack: s3.Bucket(stack, "Open"))


def test_an_unreviewed_wildcard_fails_the_synth(tmp_path: Path) -> None:
    def build(stack: cdk.Stack) -> None:
        role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        role.add_to_policy(iam.PolicyStatement(actions=["s3:*"], resources=["*"]))

    with pytest.raises(RuntimeError, match=r"AwsSolutions-IAM5\[Action::s3:\*\]"):
        _synth_stack(tmp_path, build)


def test_flatten_matches_cdk_nag_notation() -> None:
    assert flatten_reference({"Fn::Join": ["", [{"Fn::GetAtt": ["Bucket1", "Arn"]}, "/*"]]}) == "<Bucket1.Arn>/*"
    assert flatten_reference({"Fn::ImportValue": "Data:ExportsOutputX"}) == "Data:ExportsOutputX"
    assert flatten_reference("arn:${AWS::Partition}:s3:::b/*") == "arn:<AWS::Partition>:s3:::b/*"
    assert flatten_reference({"Ref": "X"}) == "<X>"


def test_all_resources_is_accepted_only_for_unscoped_actions() -> None:
    ecr_only = {"Statement": [{"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"}]}
    assert wildcard_findings(ecr_only) == ["Resource::*"]
    assert review("Resource::*", ecr_only) is not None
    broad = {
        "Statement": [{"Effect": "Allow", "Action": ["ecr:GetAuthorizationToken", "s3:GetObject"], "Resource": "*"}]
    }
    assert review("Resource::*", broad) is None


def test_bucket_object_wildcards_are_accepted_only_on_platform_buckets() -> None:
    assert review("Resource::<RawData202C7BD0.Arn>/*", {}) is not None
    assert review("Resource::Mlops-data:ExportsOutputFnGetAttArtifacts82DD59A1Arn3B515032/mlflow/*", {}) is not None
    assert review("Resource::<SomeOtherBucket1234ABCD.Arn>/*", {}) is None
    assert review("Resource::arn:aws:s3:::*", {}) is None
    assert review("Action::s3:*", {}) is None
