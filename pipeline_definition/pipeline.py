"""The pipeline definition JSON: the steps of steps.py, assembled with the SDK offline and serialised stably."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline_definition.spec import PipelineSpec

if TYPE_CHECKING:  # the SDK is imported only when a definition is built
    from sagemaker.workflow.pipeline import Pipeline

PACKAGE_DIR = Path(__file__).resolve().parent
PIPELINE_CODE = PACKAGE_DIR.parent / "pipeline_code"
CONTRACTS = PACKAGE_DIR.parent / "contracts"
# The source the definition is computed from (the synth's build cache keys on it): this package, the contracts (the
# metadata keys and sentinel it writes into the definition) and the modules of pipeline_code/ that the steps import.
BUILDER_SOURCES = (
    *sorted(PACKAGE_DIR.glob("*.py")),
    *sorted(CONTRACTS.glob("*.py")),
    PIPELINE_CODE / "serving_code.py",
    PIPELINE_CODE / "triton_repository.py",
)


def build_definition(spec: PipelineSpec) -> str:
    """The pipeline definition JSON. Imports the SDK (seconds): the stacks call it through their build cache."""
    from pipeline_definition.sdk import config_validated_once

    with warnings.catch_warnings(), config_validated_once():
        warnings.simplefilter("ignore")  # the SDK's v2 deprecation and "PipelineSession: no wait" notices
        definition = json.loads(_pipeline(spec).definition())
    # Re-serialise with sorted keys so that the template diff of a change is minimal and stable.
    return json.dumps(definition, sort_keys=True, separators=(",", ":"))


def _pipeline(spec: PipelineSpec) -> Pipeline:
    from sagemaker.workflow.pipeline import Pipeline

    from pipeline_definition import steps
    from pipeline_definition.sdk import offline_session

    session = offline_session(spec)
    ctx = steps.StepContext.of(spec, session)
    preprocess = steps.preprocess_step(ctx)
    train = steps.train_step(ctx, preprocess)
    evaluate = steps.evaluate_step(ctx, preprocess, train)
    baseline = steps.baseline_step(ctx, preprocess, evaluate)
    governance = steps.governance_step(ctx, preprocess, train, evaluate, baseline)
    # serving_mode "triton": the trained model as a Triton FIL multi-model archive; Register records where it is.
    triton = steps.package_triton_step(ctx, train) if spec.triton_code_uri else None
    packaging = [triton] if triton else []
    register = steps.register_step(ctx, train, evaluate, baseline, governance, triton)
    gate = steps.accuracy_gate(ctx, evaluate, register, depends_on=[baseline, governance, *packaging])
    return Pipeline(
        name=spec.pipeline_name,
        parameters=ctx.parameters.all(),
        steps=[preprocess, train, evaluate, baseline, governance, *packaging, gate],
        sagemaker_session=session,
    )
