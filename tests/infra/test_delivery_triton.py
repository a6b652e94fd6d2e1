"""Delivery with a Triton stage: the smoke test gets the live-model parameter and the archive prefix, and the
stage's smoke-test role may read exactly those (cdk-nag and the wildcard review run in this synth)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

from platform_config.stages import CONFIG_DIR
from stacks.delivery_stack import add_delivery
from stacks.platform import add_guards
from tests.conftest import cdk_context

PIPELINE_STACK = "Mlops-delivery"


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    root = tmp_path_factory.getbasetemp() / "delivery-triton"
    config_dir = Path(shutil.copytree(CONFIG_DIR, root / "config"))
    path = config_dir / "stages" / "staging.json"
    stage = json.loads(path.read_text())
    stage["platform"].update({"serving_mode": "triton", "training_engine": "xgboost"})
    path.write_text(json.dumps(stage))
    app = cdk.App(outdir=str(root / "cdk.out"), context=cdk_context(), builtin_cloud_formation_validation=False)
    add_delivery(app, config_dir)
    add_guards(app)  # cdk-nag AwsSolutions and the reviewed wildcards: an unreviewed finding fails the synth
    return {stack.stack_name: stack.template for stack in app.synth().stacks_recursively}


def _smoke_action(templates: dict[str, dict[str, Any]]) -> dict[str, Any]:
    pipeline = templates[PIPELINE_STACK]
    (resource,) = [r for r in pipeline["Resources"].values() if r["Type"] == "AWS::CodePipeline::Pipeline"]
    (staging,) = [s for s in resource["Properties"]["Stages"] if s["Name"] == "Staging"]
    (smoke,) = [a for a in staging["Actions"] if a["Name"] == "SmokeTest"]
    return smoke


def test_the_smoke_test_reads_the_live_model_and_archive_prefix_from_the_serving_outputs(templates) -> None:  # type: ignore[no-untyped-def]
    variables = {
        v["name"]: v["value"] for v in json.loads(_smoke_action(templates)["Configuration"]["EnvironmentVariables"])
    }
    assert {"TRITON_LIVE_MODEL_PARAMETER", "TRITON_MODEL_URL", "ENDPOINT_NAME"} <= set(variables)
    outputs = templates["Staging-Mlops-serving"]["Outputs"]
    assert outputs["TritonLiveModelParameter"]["Value"] == "/mlops/serving/triton-target-model"
    url = templates["Staging-Mlops-data"]["Outputs"]["TritonModelUrl"]
    assert "Condition" not in outputs["TritonLiveModelParameter"] and "Condition" not in url
    assert "Artifacts" in json.dumps(url["Value"]) and json.dumps(url["Value"]).endswith('"/triton"]]}')
    assert "TritonModelUrl" not in json.dumps(templates["Prod-Mlops-data"].get("Outputs", {}))


def test_the_stage_role_reads_one_parameter_and_the_triton_prefix_only(templates) -> None:  # type: ignore[no-untyped-def]
    smoke = templates["Staging-Mlops-smoke"]
    (policy,) = [r for r in smoke["Resources"].values() if r["Type"] == "AWS::IAM::Policy"]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    by_action = {json.dumps(s["Action"]): s for s in statements}
    assert all("*" not in json.dumps(s["Action"]) for s in statements)  # named actions only
    parameter = by_action['"ssm:GetParameter"']
    assert parameter["Resource"] == "arn:aws:ssm:us-east-1:222222222222:parameter/mlops/serving/triton-target-model"
    objects = by_action['"s3:GetObject"']
    text = json.dumps(objects["Resource"])
    assert "Artifacts" in text and text.endswith('/triton/*"]]}')  # objects under the Triton prefix, nothing else
    decrypt = by_action['"kms:Decrypt"']
    assert decrypt["Condition"] == {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}
    assert "*" not in json.dumps(decrypt["Resource"])
    assert set(by_action) == {
        '"sagemaker:DescribePipeline"',
        '["sagemaker:DescribeEndpoint", "sagemaker:InvokeEndpoint"]',
        '"ssm:GetParameter"',
        '"s3:GetObject"',
        '"kms:Decrypt"',
    }
    # the prod stage (realtime) keeps the role without any of these
    prod = json.dumps(templates["Prod-Mlops-smoke"])
    assert "ssm:GetParameter" not in prod and "s3:GetObject" not in prod


def test_the_triton_stage_templates_pass_cfn_lint(templates, tmp_path_factory: pytest.TempPathFactory) -> None:  # type: ignore[no-untyped-def]
    files = sorted(
        (tmp_path_factory.getbasetemp() / "delivery-triton" / "cdk.out").glob("assembly-Staging/*.template.json")
    )
    assert len(files) == 6  # data, build, serving, monitoring, retraining, smoke
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "cfn-lint"),
            *("--format", "parseable", "--non-zero-exit-code", "error", "--ignore-checks", "W3005", "--"),
            *map(str, files),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0 and result.stdout.strip() == "", result.stdout + result.stderr
