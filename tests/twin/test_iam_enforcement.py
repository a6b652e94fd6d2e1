"""The twin evaluates every call of a deployed principal against its synthesized policies (issue #14 defects 3-5).

Each test runs the synthesized stacks in the twin with IAM/KMS enforcement on (TwinCloud's default).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from mlops.aws_rules.iam_actions import Requirement
from mlops.aws_rules.principals import acting_as
from mlops.twin.cloud import TwinCloud
from mlops.twin.emulators.pipeline_runner import TwinPipelineRunner
from mlops.twin.templates import Assembly
from platform_config.platform import load_config
from stacks.serving.names import DEPLOY_RESOURCE_TYPES

CONFIG = load_config()
ALARM_EVENT = {"detail-type": "CloudWatch Alarm State Change", "detail": {"state": {"value": "ALARM"}}}


def _twin(twin_assembly: Any, tmp_path: Path, edit: Any = None) -> Iterator[TwinCloud]:
    assembly = Assembly.load(twin_assembly.outdir)
    if edit is not None:
        edit(assembly)
    twin = TwinCloud(assembly)
    with twin.running():
        twin.pipeline_runner = TwinPipelineRunner(twin, CONFIG, tmp_path / "runs")
        yield twin


@pytest.fixture()
def cloud(twin_assembly: Any, tmp_path: Path) -> Iterator[TwinCloud]:
    yield from _twin(twin_assembly, tmp_path)


def _without_topic_key_grant(assembly: Assembly) -> None:
    """The retraining stack as it was before the fix: the state machine role may publish, not use the topic's key."""
    _, template = assembly.stack("-retraining")
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::IAM::Policy":
            statements = resource["Properties"]["PolicyDocument"]["Statement"]
            statements[:] = [s for s in statements if "kms:ViaService" not in json.dumps(s.get("Condition", {}))]


@pytest.fixture()
def cloud_without_key_grant(twin_assembly: Any, tmp_path: Path) -> Iterator[TwinCloud]:
    yield from _twin(twin_assembly, tmp_path, _without_topic_key_grant)


def _failed_run(cloud: TwinCloud, name: str) -> tuple[dict[str, Any], list[str], list[dict[str, Any]]]:
    """A run whose pipeline fails at once (no raw data under the input prefix): the loop must notify and release."""
    arn = cloud.start_execution(cloud.state_machine_arn("RetrainingLoop"), ALARM_EVENT, name)
    result = cloud.wait_execution(arn, timeout_s=120)
    events = cloud.client("stepfunctions").get_execution_history(executionArn=arn, maxResults=1000)["events"]
    return result, cloud.visited_states(arn), events


def _lock_released(cloud: TwinCloud) -> bool:
    guard = [c for c in cloud.dispatcher.calls if c[0].startswith("GuardFunction")]
    return guard[-1][1]["action"] == "release" and guard[-1][2]["proceed"] is True


@pytest.mark.slow
def test_notify_publish_denied_without_key_grant(cloud: TwinCloud) -> None:
    """Defect 3: with the key grant the failure notice is published (no denial) and the lock released."""
    result, states, events = _failed_run(cloud, "notify")
    assert cloud.iam is not None
    assert cloud.iam.report.denials == []
    assert result["status"] == "FAILED" and states[-3:] == ["NotifyFailure", "ReleaseAfterFailure", "RetrainingFailed"]
    assert not [e for e in events if e["type"] == "TaskFailed"]  # the publish itself succeeded
    assert _lock_released(cloud)


@pytest.mark.slow
def test_a_denied_notice_still_releases_the_lock(cloud_without_key_grant: TwinCloud) -> None:
    """Without the key grant the twin denies the publish as AWS would, and the Catch still reaches the release."""
    cloud = cloud_without_key_grant
    result, states, events = _failed_run(cloud, "denied")
    assert cloud.iam is not None
    denied = {(d.action, d.principal.rsplit("/", 1)[-1][:16]) for d in cloud.iam.report.denials}
    assert ("kms:GenerateDataKey", "RetrainingLoopRo") in denied
    failed = [e["taskFailedEventDetails"] for e in events if e["type"] == "TaskFailed"]
    assert failed and "not authorized to perform: kms:GenerateDataKey" in failed[0]["cause"]
    assert result["status"] == "FAILED" and states[-2:] == ["ReleaseAfterFailure", "RetrainingFailed"]
    assert _lock_released(cloud)


def _role(cloud: TwinCloud, stack_suffix: str, prefix: str) -> str:
    stack, template = cloud.assembly.stack(stack_suffix)
    (logical,) = [k for k, v in template["Resources"].items() if v["Type"] == "AWS::IAM::Role" and k.startswith(prefix)]
    return cloud.role_arn(stack, {"Fn::GetAtt": [logical, "Arn"]})


def test_deploy_function_can_read_the_bootstrap_parameter(cloud: TwinCloud) -> None:
    """Defect 5: UpdateStack resolves the serving template's BootstrapVersion (an SSM parameter type) as the caller."""
    name, template = cloud.assembly.stack("-serving")
    assert template["Parameters"]["BootstrapVersion"]["Type"] == "AWS::SSM::Parameter::Value<String>"
    # Authorized, the request reaches CloudFormation (moto), which finds nothing to change, as the handler expects.
    with acting_as(_role(cloud, "-serving", "DeployModelRole")), pytest.raises(ClientError, match="No updates"):
        cloud.client("cloudformation").update_stack(
            StackName=name,
            UsePreviousTemplate=True,
            Parameters=[{"ParameterKey": "ApprovedModelPackageArn", "UsePreviousValue": True}],
            ResourceTypes=list(DEPLOY_RESOURCE_TYPES),  # as the deploy function names them (its IAM fence)
        )
    assert cloud.iam is not None and cloud.iam.report.denials == []


def test_a_role_without_the_parameter_grant_cannot_update_the_stack(cloud: TwinCloud) -> None:
    """The same call by a role without ssm:GetParameters on the bootstrap parameter is refused as AWS refuses it."""
    name, _ = cloud.assembly.stack("-serving")
    assert cloud.iam is not None
    bootstrap = "arn:aws:ssm:us-east-1:111111111111:parameter/cdk-bootstrap/hnb659fds/version"
    role = _role(cloud, "-serving", "DeployModelRole")
    cloud.iam.policies = {
        **cloud.iam.policies,
        role: [s for s in cloud.iam.policies[role] if bootstrap not in s.resources],
    }
    with acting_as(role), pytest.raises(ClientError) as denied:
        cloud.client("cloudformation").update_stack(
            StackName=name, UsePreviousTemplate=True, ResourceTypes=list(DEPLOY_RESOURCE_TYPES)
        )
    assert denied.value.response["Error"]["Code"] == "AccessDenied"
    assert f"ssm:GetParameters on resource: {bootstrap}" in denied.value.response["Error"]["Message"]


def test_batch_transform_may_pass_the_model_role_to_sagemaker_only(cloud: TwinCloud) -> None:
    """Defect 5: iam:PassRole of the model role carries iam:PassedToService sagemaker.amazonaws.com."""
    assert cloud.iam is not None
    batch = _role(cloud, "-serving", "BatchTransformRole")
    model = _role(cloud, "-serving", "ModelRole")
    statements = cloud.iam.policies[batch]
    from mlops.aws_rules.iam_statements import evaluate

    def passed_to(service: str) -> str:
        requirement = Requirement("iam:PassRole", model, {"iam:PassedToService": service})
        return evaluate(statements, requirement.action, requirement.resource, requirement.context).decision

    assert passed_to("sagemaker.amazonaws.com") == "allow"
    assert passed_to("lambda.amazonaws.com") == "implicit-deny"


def test_every_role_statement_of_the_platform_resolves(cloud: TwinCloud) -> None:
    """The twin creates (or names) every resource the platform's policies grant on, so no statement of any role is
    left unevaluable (an unresolved one would be reported, and never allow anything)."""
    assert cloud.iam is not None
    roles = {arn.rsplit("/", 1)[-1] for arn in cloud.iam.policies}
    for role in ("RetrainingLoopRole", "DeployModelRole", "JobRole", "PipelineRole", "DriftMonitorRole"):
        assert any(name.startswith(role) for name in roles), role
    unresolved = sorted({(s.source, s.unresolved) for st in cloud.iam.policies.values() for s in st if s.unresolved})
    assert unresolved == []


@pytest.mark.slow
def test_a_denied_outcome_notice_releases_the_lock_and_fails_visibly(
    cloud_without_key_grant: TwinCloud, tmp_path: Path
) -> None:
    """The model is promoted, the notice cannot be published: the lock is released, the run ends FAILED."""
    from mlops.local.sample_data import load_dataset
    from tests.twin.test_retraining_loop import champion, run_loop, upload_raw

    cloud = cloud_without_key_grant
    upload_raw(cloud, load_dataset("ISLR", "Default"), tmp_path)
    champion(cloud, tmp_path, regularisation=1e-5)
    result, states = run_loop(cloud, "unnotified")
    assert result["status"] == "FAILED", result["trace"]
    assert states[-4:] == ["Deploy", "NotifyPromoted", "ReleaseAfterNoticeFailed", "NotificationFailed"]
    assert result["error"] == "NotificationFailed"
    assert _lock_released(cloud)
