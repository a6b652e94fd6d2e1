"""Issue #15 item 1: no CloudFormation update of the build stack can reset the desired model package to "none".

The build stack is synthesized twice, the second time with one more tag (what `cdk.Tags.of(app).add` in a later
release does); CloudFormation's update is applied by the twin's model of the resource handlers
(mlops/twin/emulators/stack_updates.py) after the deploy function has written an approval.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import boto3
import pytest
from moto import mock_aws

from mlops.twin.emulators.stack_updates import is_sdk_call_resource, run_sdk_call, update_resources
from platform_config.platform import config_from_app_context
from stacks.platform import add_platform
from tests.conftest import cdk_context

APPROVED = "arn:aws:sagemaker:us-east-1:111111111111:model-package/mlops-models/3"


def build_template(outdir: Path, tags: dict[str, str]) -> tuple[dict[str, Any], str]:
    app = cdk.App(outdir=str(outdir), context=cdk_context())
    config = config_from_app_context(app.node.try_get_context)
    platform = add_platform(app, config)
    for key, value in tags.items():
        cdk.Tags.of(app).add(key, value)
    assembly = app.synth()
    return assembly.get_stack_by_name(platform.build.stack_name).template, config.approved_package_parameter


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any], str]:
    old, name = build_template(tmp_path_factory.mktemp("before"), {})
    new, _ = build_template(tmp_path_factory.mktemp("after"), {"cost-centre": "ml-platform"})
    return old, new, name


def _clients(service: str) -> Any:
    return boto3.client(service, region_name="us-east-1")


def _plain(node: Any) -> Any:
    assert not isinstance(node, dict), f"the desired-state resource should need no intrinsic: {node}"
    return node


def create(template: dict[str, Any]) -> None:
    """CloudFormation creating the build stack's desired-state resource (whichever kind it is)."""
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::SSM::Parameter":
            _clients("ssm").put_parameter(Name=props["Name"], Value=props["Value"], Type="String")
        elif is_sdk_call_resource(resource):
            run_sdk_call(props.get("Create"), _clients, _plain)


def desired(name: str) -> str:
    return str(_clients("ssm").get_parameter(Name=name)["Parameter"]["Value"])


@pytest.fixture()
def aws() -> Any:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        yield


def test_a_tag_change_does_not_reset_the_approved_package(templates, aws) -> None:
    old, new, name = templates
    create(old)
    assert desired(name) == "none"
    _clients("ssm").put_parameter(Name=name, Value=APPROVED, Type="String", Overwrite=True)  # the deploy function
    update_resources(old, new, _clients, _plain)
    assert desired(name) == APPROVED


def test_recreating_the_stack_keeps_an_approval_the_parameter_already_holds(templates, aws) -> None:
    _, new, name = templates
    _clients("ssm").put_parameter(Name=name, Value=APPROVED, Type="String")
    create(new)  # e.g. the build stack deleted and deployed again: the desired state outlives it
    assert desired(name) == APPROVED


def test_the_build_stack_declares_no_ssm_parameter_resource_for_the_desired_state(templates) -> None:
    _, new, name = templates
    declared = [r for r in new["Resources"].values() if r["Type"] == "AWS::SSM::Parameter"]
    assert all(r["Properties"].get("Name") != name for r in declared)
    (creator,) = [r for r in new["Resources"].values() if is_sdk_call_resource(r)]
    assert "Update" not in creator["Properties"] and "Delete" not in creator["Properties"]
