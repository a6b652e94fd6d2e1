"""The synthesized SageMaker pipeline's step requests against the service model, before any deploy.

Each step's `Arguments` is the request SageMaker sends when the step runs (Processing -> CreateProcessingJob,
Training -> CreateTrainingJob, RegisterModel -> CreateModelPackage). What the pipeline resolves at run time
(Parameters, step properties, JsonGet) and what CloudFormation substitutes (`${...}`) is not concrete here and
skipped; the local pipeline sends the resolved Register request through the check instead.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import botocore.session
import pytest

from mlops.aws_rules.service_model import validation_errors
from tests.conftest import Synthesized

REQUESTS = {"Processing": "CreateProcessingJob", "Training": "CreateTrainingJob", "RegisterModel": "CreateModelPackage"}


@pytest.fixture(scope="module")
def steps(synthesized: Synthesized) -> list[dict[str, Any]]:
    template = synthesized.template("-build")
    (pipeline,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::SageMaker::Pipeline"]
    body, _ = pipeline["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"]["Fn::Sub"]
    return list(_flattened(json.loads(body)["Steps"]))


def _flattened(steps: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for step in steps:
        yield step
        if step["Type"] == "Condition":
            yield from _flattened([*step["Arguments"].get("IfSteps", []), *step["Arguments"].get("ElseSteps", [])])


def _substitutions_as_placeholders(value: Any) -> Any:
    """A string with a CloudFormation `${...}` is a value AWS has not seen yet: a placeholder (skipped)."""
    if isinstance(value, str) and "${" in value:
        return {"Fn::Sub": value}
    if isinstance(value, dict):
        return {k: _substitutions_as_placeholders(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitutions_as_placeholders(v) for v in value]
    return value


def _errors(step: dict[str, Any]) -> list[str]:
    model = botocore.session.get_session().get_service_model("sagemaker")
    shape = model.operation_model(REQUESTS[step["Type"]]).input_shape
    arguments = _substitutions_as_placeholders(step["Arguments"])
    return validation_errors(shape, arguments, (model.service_name, model.api_version))


def test_every_job_and_registration_request_fits_the_service_model(steps: list[dict[str, Any]]) -> None:
    checked = [step for step in steps if step["Type"] in REQUESTS]
    assert {step["Type"] for step in checked} == set(REQUESTS)
    assert {step["Name"]: _errors(step) for step in checked} == {step["Name"]: [] for step in checked}


def test_a_concrete_value_out_of_the_model_is_reported(steps: list[dict[str, Any]]) -> None:
    (register,) = [copy.deepcopy(step) for step in steps if step["Type"] == "RegisterModel"]
    register["Arguments"]["InferenceSpecification"]["SupportedContentTypes"] = ["text/csv"] * 3 + ["x" * 300]
    assert _errors(register) == [
        f"Value '{'x' * 200}...' at 'InferenceSpecification.SupportedContentTypes[3]' failed to satisfy constraint: "
        "Member must have length less than or equal to 256"
    ]
