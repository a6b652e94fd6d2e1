"""Synthesized templates: no isolated model is told to download its serving code from S3.

A model created with EnableNetworkIsolation has no network and no credentials ("Run Training and Inference
Containers in Internet-Free Mode", https://docs.aws.amazon.com/sagemaker/latest/dg/mkt-algo-model-internet-free.html),
so an `s3://` SAGEMAKER_SUBMIT_DIRECTORY cannot be fetched and the container fails its health check. A container
that names a model package runs with the package's container environment, i.e. the Register step's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pipeline_code.serving_code import SUBMIT_DIRECTORY_VARIABLE, serving_environment
from tests.conftest import Synthesized, cdk_context, synth_app

VARIANTS = {
    "multi_model": {"serving_mode": "multi_model"},
    "triton": {"serving_mode": "triton", "training_engine": "xgboost"},
}


@pytest.fixture(scope="module", params=["default", *VARIANTS])
def assembly(request: pytest.FixtureRequest, synthesized: Synthesized, tmp_path_factory: pytest.TempPathFactory):
    if request.param == "default":
        return synthesized
    context = cdk_context()
    context["platform"] = {**context["platform"], **VARIANTS[request.param]}
    out: Path = tmp_path_factory.mktemp(request.param)
    return synth_app(out, context)


def _resources(assembly: Synthesized, kind: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{stack}/{logical}", resource["Properties"])
        for stack, template in assembly.templates.items()
        for logical, resource in template["Resources"].items()
        if resource["Type"] == kind
    ]


def _register_containers(assembly: Synthesized) -> list[dict[str, Any]]:
    """The container definitions of the pipeline's RegisterModel step (what every package carries)."""
    containers = []
    for _, props in _resources(assembly, "AWS::SageMaker::Pipeline"):
        body = props["PipelineDefinition"]["PipelineDefinitionBody"]
        text = body["Fn::Sub"][0] if isinstance(body, dict) else body
        for step in _steps(json.loads(text)["Steps"]):
            if step["Type"] == "RegisterModel":
                containers.extend(step["Arguments"]["InferenceSpecification"]["Containers"])
    return containers


def _steps(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for step in steps:
        found.append(step)
        arguments = step.get("Arguments", {})
        found.extend(_steps([*arguments.get("IfSteps", []), *arguments.get("ElseSteps", [])]))
    return found


def _names_s3(value: Any) -> bool:
    return "s3://" in json.dumps(value)


def test_packages_point_the_framework_container_at_the_code_inside_model_tar_gz(assembly: Synthesized) -> None:
    (container,) = _register_containers(assembly)
    assert container["Environment"] == serving_environment()


def test_no_isolated_model_downloads_its_serving_code_from_s3(assembly: Synthesized) -> None:
    register = _register_containers(assembly)
    models = _resources(assembly, "AWS::SageMaker::Model")
    assert models, "every serving mode synthesizes a model"
    for name, props in models:
        assert props.get("EnableNetworkIsolation") is True, f"{name}: serving models run isolated"
        containers = [c for c in [props.get("PrimaryContainer"), *props.get("Containers", [])] if c]
        for container in containers:
            # A container that names a package runs with the package's environment (the Register step's).
            environments = [c.get("Environment", {}) for c in register] if "ModelPackageName" in container else []
            for environment in [container.get("Environment", {}), *environments]:
                submit = environment.get(SUBMIT_DIRECTORY_VARIABLE)
                assert submit is None or not _names_s3(submit), f"{name}: {SUBMIT_DIRECTORY_VARIABLE}={submit}"
