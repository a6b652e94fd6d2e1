"""The delivery app (`cdk synth -c delivery=true`): the pipeline's shape, its steps, its stages; one synth per module.

Synthesized through app.py's own `build`, with the guards (the wildcard review and cdk-nag) on: the fixture
raising would mean an unacknowledged finding in the pipeline stack or a stage.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
import yaml
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Template
from syrupy.extensions.json import JSONSnapshotExtension

import app as cdk_app
from platform_config.platform import ConfigError
from platform_config.stages import CONFIG_DIR, load_delivery_config
from stacks.delivery_stack import add_delivery, pinned_cli_version
from stacks.nag_review import review
from stacks.platform import add_guards
from tests.conftest import REPO, cdk_context
from tests.infra.test_snapshots import normalise

PIPELINE_STACK = "Mlops-delivery"
PLATFORM_STACKS = ("Mlops-data", "Mlops-build")  # deployed in every stage (serving joins them when it lands)


@dataclass
class Delivery:
    outdir: Path
    templates: dict[str, dict[str, Any]]  # by stack name, the stages' stacks included

    @property
    def pipeline(self) -> dict[str, Any]:
        return self.templates[PIPELINE_STACK]

    def stages(self) -> dict[str, list[dict[str, Any]]]:
        (pipeline,) = _resources(self.pipeline, "AWS::CodePipeline::Pipeline").values()
        return {stage["Name"]: stage["Actions"] for stage in pipeline["Properties"]["Stages"]}

    def project(self, action: dict[str, Any]) -> dict[str, Any]:
        return self.pipeline["Resources"][action["Configuration"]["ProjectName"]["Ref"]]["Properties"]


@pytest.fixture(scope="module")
def delivery(tmp_path_factory: pytest.TempPathFactory) -> Delivery:
    outdir = tmp_path_factory.mktemp("cdk.out.delivery")
    app = cdk.App(
        outdir=str(outdir), context={**cdk_context(), "delivery": "true"}, builtin_cloud_formation_validation=False
    )
    cdk_app.build(app)
    assembly = app.synth()
    return Delivery(outdir, {stack.stack_name: stack.template for stack in assembly.stacks_recursively})


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def _buildspec(project: dict[str, Any]) -> dict[str, Any]:
    return json.loads(project["Source"]["BuildSpec"])


def _deploys(actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [a for a in actions if a["ActionTypeId"]["Category"] == "Deploy"]


def test_pipeline_is_v2_and_stages_run_in_order(delivery: Delivery) -> None:
    Template.from_json(delivery.pipeline).has_resource_properties(
        "AWS::CodePipeline::Pipeline", {"PipelineType": "V2", "Name": "mlops-delivery"}
    )
    assert list(delivery.stages()) == ["Source", "Build", "UpdatePipeline", "Assets", "Staging", "Prod"]


def test_source_is_the_configured_connection_and_branch(delivery: Delivery) -> None:
    (source,) = delivery.stages()["Source"]
    settings = load_delivery_config().settings.source
    assert source["ActionTypeId"]["Provider"] == "CodeStarSourceConnection"
    assert source["Configuration"] == {
        "ConnectionArn": settings.connection_arn,
        "FullRepositoryId": settings.repository,
        "BranchName": settings.branch,
    }


def test_synth_step_runs_the_tests_then_synthesizes_the_delivery_app(delivery: Delivery) -> None:
    (synth,) = delivery.stages()["Build"]
    project = delivery.project(synth)
    spec = _buildspec(project)
    commands = spec["phases"]["build"]["commands"]
    assert commands[0] == "make test"
    assert commands[1] == 'make synth CDK_ARGS="-c delivery=true"'
    assert spec["artifacts"]["base-directory"] == "cdk.out"
    assert spec["phases"]["install"]["runtime-versions"] == {"python": "3.11", "nodejs": "20"}
    assert project["Environment"]["Image"] == "aws/codebuild/standard:7.0"
    assert project["Environment"]["PrivilegedMode"] is False


def test_self_mutation_deploys_the_pipeline_stack_with_the_pinned_cli(delivery: Delivery) -> None:
    (mutate,) = delivery.stages()["UpdatePipeline"]
    assert mutate["Name"] == "SelfMutate"
    spec = _buildspec(delivery.project(mutate))
    assert spec["phases"]["install"]["commands"] == [f"npm install -g aws-cdk@{pinned_cli_version()}"]
    assert spec["phases"]["build"]["commands"] == [
        f"cdk -a . deploy {PIPELINE_STACK} --require-approval=never --verbose"
    ]


def test_each_stage_deploys_the_platform_stacks_into_its_own_account(delivery: Delivery) -> None:
    config = load_delivery_config()
    for stage in config.stages:
        deploys = _deploys(delivery.stages()[stage.name.capitalize()])
        stacks = {a["Configuration"]["StackName"] for a in deploys}
        prefix = stage.name.capitalize()
        assert {f"{prefix}-{name}" for name in (*PLATFORM_STACKS, "Mlops-smoke")} <= stacks
        assert all(
            f":iam::{stage.account}:role/cdk-hnb659fds-deploy-role-" in json.dumps(a["RoleArn"]) for a in deploys
        )


def test_stage_config_reaches_the_stage_templates(delivery: Delivery) -> None:
    staging, prod = (json.dumps(delivery.templates[f"{s}-Mlops-build"]) for s in ("Staging", "Prod"))
    assert 'InstanceType\\":\\"ml.m5.xlarge' in prod  # in the SageMaker Pipeline definition (a JSON string)
    assert "ml.m5.xlarge" not in staging


def test_manual_approval_comes_before_prod_deploys_and_nowhere_else(delivery: Delivery) -> None:
    stages = delivery.stages()
    approvals = {
        name: [a for a in actions if a["ActionTypeId"]["Category"] == "Approval"] for name, actions in stages.items()
    }
    assert {name: len(found) for name, found in approvals.items() if found} == {"Prod": 1}
    (approval,) = approvals["Prod"]
    assert approval["ActionTypeId"]["Provider"] == "Manual"
    assert approval["RunOrder"] < min(a["RunOrder"] for a in _deploys(stages["Prod"]))


def test_smoke_test_runs_after_every_staging_deploy_with_the_stage_outputs(delivery: Delivery) -> None:
    staging = delivery.stages()["Staging"]
    (smoke,) = [a for a in staging if a["Name"] == "SmokeTest"]
    assert smoke["RunOrder"] > max(a["RunOrder"] for a in _deploys(staging))
    assert not [a for a in delivery.stages()["Prod"] if a["Name"] == "SmokeTest"]
    variables = {v["name"]: v["value"] for v in json.loads(smoke["Configuration"]["EnvironmentVariables"])}
    namespaces = {a["Namespace"]: a["Configuration"]["StackName"] for a in staging if "Namespace" in a}
    namespace, output = re.fullmatch(r"#\{(\w+)\.(\w+)\}", variables["PIPELINE_NAME"]).groups()  # type: ignore[union-attr]
    assert (namespaces[namespace], output) == ("Staging-Mlops-build", "PipelineName")
    project = delivery.project(smoke)
    assert _buildspec(project)["phases"]["build"]["commands"] == ["python -m scripts.smoke_test"]
    env = {v["Name"]: v["Value"] for v in project["Environment"]["EnvironmentVariables"]}
    assert env["STAGE_REGION"] == "us-east-1"
    assert "role/mlops-staging-smoke" in json.dumps(env["SMOKE_TEST_ROLE_ARN"])


def test_every_smoke_test_variable_is_an_unconditional_output_of_a_staging_stack(delivery: Delivery) -> None:
    # CodePipeline fails an action whose variable the stack did not output, so a conditional output must not be used.
    staging = delivery.stages()["Staging"]
    (smoke,) = [a for a in staging if a["Name"] == "SmokeTest"]
    namespaces = {a["Namespace"]: a["Configuration"]["StackName"] for a in staging if "Namespace" in a}
    for variable in json.loads(smoke["Configuration"]["EnvironmentVariables"]):
        namespace, output = re.fullmatch(r"#\{(\w+)\.(\w+)\}", variable["value"]).groups()  # type: ignore[union-attr]
        outputs = delivery.templates[namespaces[namespace]]["Outputs"]
        assert output in outputs and "Condition" not in outputs[output], variable


def test_smoke_test_may_only_assume_the_stage_role_which_may_only_read_the_stage(delivery: Delivery) -> None:
    staging_account = load_delivery_config().stages[0].account
    (codebuild_policy,) = [
        p
        for p in _resources(delivery.pipeline, "AWS::IAM::Policy").values()
        if p["Properties"]["Roles"][0]["Ref"].startswith("PipelineStagingSmokeTestRole")
    ]
    statements = codebuild_policy["Properties"]["PolicyDocument"]["Statement"]
    (assume,) = [s for s in statements if "sts:AssumeRole" in json.dumps(s["Action"])]
    assert json.dumps(assume["Resource"]).endswith(f':iam::{staging_account}:role/mlops-staging-smoke"]]}}')
    assert "sagemaker:" not in json.dumps(statements)  # it reaches SageMaker only through the stage's role
    smoke = Template.from_json(delivery.templates["Staging-Mlops-smoke"])
    smoke.has_resource_properties(
        "AWS::IAM::Role",
        {
            "RoleName": "mlops-staging-smoke",
            "AssumeRolePolicyDocument": {
                "Statement": [
                    {
                        "Action": "sts:AssumeRole",
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{load_delivery_config().settings.account}:root"},
                    }
                ],
                "Version": "2012-10-17",
            },
        },
    )
    (policy,) = _resources(delivery.templates["Staging-Mlops-smoke"], "AWS::IAM::Policy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statements[0] == {
        "Action": "sagemaker:DescribePipeline",
        "Effect": "Allow",
        "Resource": f"arn:aws:sagemaker:us-east-1:{staging_account}:pipeline/mlops-build",
    }
    assert all("*" not in json.dumps(s["Resource"]) for s in statements)


def test_artifacts_use_a_rotating_key_and_a_logged_bucket(delivery: Delivery) -> None:
    template = Template.from_json(delivery.pipeline)
    template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    (pipeline,) = _resources(delivery.pipeline, "AWS::CodePipeline::Pipeline").values()
    assert pipeline["Properties"]["ArtifactStore"]["EncryptionKey"]["Type"] == "KMS"
    bucket_id = pipeline["Properties"]["ArtifactStore"]["Location"]["Ref"]
    bucket = delivery.pipeline["Resources"][bucket_id]["Properties"]
    assert bucket["LoggingConfiguration"]["LogFilePrefix"] == "pipeline-artifacts/"
    assert (
        bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"][
            "SSEAlgorithm"
        ]
        == "aws:kms"
    )


def test_pipeline_stack_snapshot(delivery: Delivery, snapshot) -> None:  # type: ignore[no-untyped-def]
    assert normalise(delivery.pipeline) == snapshot.use_extension(JSONSnapshotExtension)


def test_delivery_templates_have_no_cfn_lint_errors(delivery: Delivery) -> None:
    templates = sorted(delivery.outdir.rglob("*.template.json"))
    assert len(templates) == len(delivery.templates)
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "cfn-lint"),
            *("--format", "parseable", "--non-zero-exit-code", "error"),
            # W3005: as in test_cfn_lint. E3703: cfn-lint's schema for CodePipeline action configuration rejects the
            # Fn::Join that CDK Pipelines writes for a cross-account action's RoleArn ("prefer Fn::Sub"); both are
            # valid CloudFormation, and the template is CDK's, not ours.
            *("--ignore-checks", "W3005", "E3703", "--"),
            *map(str, templates),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "", result.stdout


@pytest.mark.slow
def test_one_account_codecommit_variant_synthesizes_clean(tmp_path: Path) -> None:
    """The other source provider and a single-account layout pass the guards too (a second synth, ~10 s)."""
    config_dir = Path(shutil.copytree(CONFIG_DIR, tmp_path / "config"))
    for name in ("staging", "prod"):
        path = config_dir / "stages" / f"{name}.json"
        stage = json.loads(path.read_text())
        stage["account"] = "111111111111"
        stage["platform"]["project_name"] = f"mlops-{name}"
        path.write_text(json.dumps(stage))
    path = config_dir / "delivery.json"
    settings = {
        **json.loads(path.read_text()),
        "source": {"provider": "codecommit", "repository": "mlops", "branch": "main"},
    }
    path.write_text(json.dumps(settings))
    app = cdk.App(outdir=str(tmp_path / "cdk.out"), context=cdk_context(), builtin_cloud_formation_validation=False)
    add_delivery(app, config_dir)
    add_guards(app)
    template = app.synth().get_stack_by_name(PIPELINE_STACK).template
    (pipeline,) = _resources(template, "AWS::CodePipeline::Pipeline").values()
    source = pipeline["Properties"]["Stages"][0]["Actions"][0]
    assert (source["ActionTypeId"]["Provider"], source["Configuration"]["RepositoryName"]) == ("CodeCommit", "mlops")
    assert pipeline["Properties"]["ArtifactStore"]["EncryptionKey"]["Type"] == "KMS"
    deploy_roles = json.dumps([a.get("RoleArn") for s in pipeline["Properties"]["Stages"][4:] for a in s["Actions"]])
    assert "222222222222" not in deploy_roles and "333333333333" not in deploy_roles


def test_single_key_overrides_are_refused_in_delivery_mode() -> None:
    app = cdk.App(context={**cdk_context(), "delivery": "true", "min_accuracy": "0.9"})
    with pytest.raises(ConfigError, match=r"-c min_accuracy: .*config/stages/"):
        add_delivery(app)


def test_pipeline_wildcard_reviews_match_only_the_pipelines_own_resources() -> None:
    assert review("Resource::<PipelineArtifactsBucketAEA9A052.Arn>/*", {}) is not None
    assert review("Resource::<OtherBucketAEA9A052.Arn>/*", {}) is None
    logs = "Resource::arn:aws:logs:us-east-1:111111111111:log-group:/aws/codebuild/"
    assert review(f"{logs}<PipelineBuildSynthCdkBuildProject6BEFA8E6>:*", {}) is not None
    assert review(f"{logs}*", {}) is None  # any project's logs: only acknowledged on the asset role, with a reason
    reports = "Resource::arn:aws:codebuild:us-east-1:111111111111:report-group/"
    assert review(f"{reports}<PipelineStagingSmokeTest890F3537>-*", {}) is not None
    assert review(f"{reports}*", {}) is None


def test_guards_check_stacks_inside_stages(tmp_path: Path) -> None:
    # The stages' stacks live in nested cloud assemblies; cdk-nag must still see them.
    app = cdk.App(outdir=str(tmp_path), builtin_cloud_formation_validation=False)
    stage = cdk.Stage(app, "Staging", env=cdk.Environment(account="111111111111", region="us-east-1"))
    s3.Bucket(cdk.Stack(stage, "Probe"), "Open")
    add_guards(app)
    with pytest.raises(RuntimeError, match=r"AwsSolutions-S10"):
        app.synth()


def test_ci_workflow_runs_make_test_on_pull_requests() -> None:
    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "ci.yml").read_text())
    triggers = workflow[True] if True in workflow else workflow["on"]  # YAML 1.1 reads the key `on` as true
    assert "pull_request" in triggers
    steps = [step for job in workflow["jobs"].values() for step in job["steps"]]
    assert any(step.get("run", "").strip() == "make test" for step in steps)
    versions = {step["uses"].split("@")[0]: step.get("with", {}) for step in steps if "uses" in step}
    assert str(versions["actions/setup-python"]["python-version"]) == "3.11"
    assert str(versions["actions/setup-node"]["node-version"]) == "20"


def test_delivery_source_role_allows_codeconnections_use_connection(delivery: Delivery) -> None:
    """Issue #14 defect 4: a codeconnections ARN is authorised as codeconnections:UseConnection, on it only."""
    connection = load_delivery_config(CONFIG_DIR).settings.source.connection_arn
    assert connection is not None and connection.startswith("arn:aws:codeconnections:")
    policies = _resources(delivery.pipeline, "AWS::IAM::Policy").values()
    grants = [
        statement
        for policy in policies
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "codeconnections:UseConnection" in json.dumps(statement["Action"])
    ]
    assert len(grants) == 1 and grants[0]["Resource"] == connection
    (source,) = delivery.stages()["Source"]
    role = source["RoleArn"]["Fn::GetAtt"][0]
    holders = [p for p in policies if grants[0] in p["Properties"]["PolicyDocument"]["Statement"]]
    assert [p["Properties"]["Roles"] for p in holders] == [[{"Ref": role}]]
