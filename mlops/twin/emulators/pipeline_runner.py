"""Run a SageMaker pipeline execution of the synthesized pipeline on this machine.

The parameters come from the synthesized definition (its defaults, overridden by the execution's), the raw data
from the S3 prefix its `InputDataUri` names, and the steps are the pipeline's own scripts (mlops.local.pipeline).
A model that passes the gate is registered in moto's registry with the execution's ARN and the Register step's
container environment (from the synthesized definition), as the Register step does.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from contracts.package_metadata import PIPELINE_EXECUTION_ARN
from contracts.sentinels import NONE
from contracts.state_machine import CHAMPION_MODEL_PARAMETER
from mlops.aws_rules.principals import acting_as, tag_client, untracked
from mlops.local.pipeline import run_local_pipeline
from mlops.local.registry import LocalRegistry
from mlops.twin.cloud import TwinCloud
from mlops.twin.emulators.model_containers import register_environment
from platform_config.platform import PlatformConfig
from stacks.build_stack import PIPELINE_PREFIX


class PipelineFailed(RuntimeError):
    """The run ended in the pipeline's Fail step (or a step failed)."""


class TwinPipelineRunner:
    def __init__(self, cloud: TwinCloud, config: PlatformConfig, work_dir: Path) -> None:
        self.cloud = cloud
        self.config = config
        self.work_dir = work_dir
        self.runs: list[dict[str, Any]] = []

    def definition(self) -> dict[str, Any]:
        stack, template = self.cloud.assembly.stack("-build")
        (pipeline,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::SageMaker::Pipeline"]
        body = pipeline["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"]
        return dict(json.loads(self.cloud.resolver.resolve(stack, body)))

    def __call__(self, execution_arn: str, overrides: dict[str, str]) -> None:
        definition = self.definition()
        parameters = {p["Name"]: p.get("DefaultValue") for p in definition["Parameters"]}
        parameters.update(overrides)
        run_dir = self.work_dir / execution_arn.rsplit("/", 1)[-1]
        pipeline_role, job_role = self.roles()
        config = replace(self.config, model_approval_status=str(parameters["ModelApprovalStatus"]))
        # Under the pipeline's output prefix, where the steps write in AWS (and what the readers are granted).
        registry = LocalRegistry(
            self.config.region, self.config.account, bucket=self._artifact_bucket(), own_mock=False,
            prefix=f"{PIPELINE_PREFIX}/models",
        )  # fmt: skip
        # As in AWS: the steps' jobs read and write S3 under the job role; the Register step is the pipeline's own
        # call, under the pipeline role (their calls are evaluated against those roles' synthesized policies).
        with registry, acting_as(job_role):
            registry.register_client = tag_client(self.cloud.client("sagemaker"), pipeline_role)
            tag_client(registry.s3_client, job_role)
            untracked(registry.bookkeeping_client)  # listing groups and versions: the registry's own work in AWS
            data = self._download(str(parameters["InputDataUri"]), run_dir / "raw")
            result = run_local_pipeline(
                data, self.config.target_column, config, run_dir / "steps",
                min_accuracy=float(parameters["MinAccuracy"]), registry=registry,
                # As in AWS, the training run is tracked (the governance gate needs its MLflow run id).
                tracking_uri=f"sqlite:///{self.work_dir / 'mlflow.db'}",
                champion_model=self._champion(str(parameters.get(CHAMPION_MODEL_PARAMETER, NONE)), run_dir),
                metadata={PIPELINE_EXECUTION_ARN: execution_arn},
                container_environment=register_environment(definition),
            )  # fmt: skip
        self.runs.append({"execution": execution_arn, "accuracy": result.accuracy, "package": result.model_package_arn})
        if not result.registered:
            raise PipelineFailed(f"AccuracyBelowMinimum: {result.message}")

    def roles(self) -> tuple[str, str]:
        """(pipeline role ARN, job role ARN) as the synthesized pipeline and its steps name them."""
        stack, template = self.cloud.assembly.stack("-build")
        (pipeline,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::SageMaker::Pipeline"]
        pipeline_role = self.cloud.role_arn(stack, pipeline["Properties"]["RoleArn"])
        job_roles = {
            step["Arguments"]["RoleArn"]
            for step in self.definition()["Steps"]
            if "RoleArn" in step.get("Arguments", {})
        }
        if len(job_roles) != 1:
            raise PipelineFailed(f"expected one job role in the pipeline's steps, found {sorted(job_roles)}")
        return pipeline_role, job_roles.pop()

    def _champion(self, uri: str, run_dir: Path) -> Path | None:
        """The champion's model.tar.gz from (moto's) S3, as the evaluate step would download it in AWS."""
        if uri == NONE:
            return None
        location = urlparse(uri)
        target = run_dir / "champion" / "model.tar.gz"
        target.parent.mkdir(parents=True, exist_ok=True)
        self.cloud.client("s3").download_file(location.netloc, location.path.lstrip("/"), str(target))
        return target

    def _download(self, uri: str, target: Path) -> Path:
        location = urlparse(uri)
        s3 = self.cloud.client("s3")
        target.mkdir(parents=True, exist_ok=True)
        keys = s3.list_objects_v2(Bucket=location.netloc, Prefix=location.path.lstrip("/")).get("Contents", [])
        csvs = [k["Key"] for k in keys if k["Key"].endswith(".csv")]
        if not csvs:
            raise PipelineFailed(f"{uri}: no CSV objects under the input prefix")
        for key in csvs:
            s3.download_file(location.netloc, key, str(target / key.replace("/", "_")))
        return target if len(csvs) > 1 else target / csvs[0].replace("/", "_")

    def _artifact_bucket(self) -> str:
        stack, template = self.cloud.assembly.stack("-data")
        (logical,) = [
            k for k, v in template["Resources"].items() if v["Type"] == "AWS::S3::Bucket" and k.startswith("Artifacts")
        ]
        return self.cloud.resolver.physical[(stack, logical)]
