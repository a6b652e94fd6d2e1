"""The SageMaker Pipeline definition, built with the SageMaker Python SDK (v2 line) at synth time.

preprocess -> train -> evaluate (holdout) -> baseline -> accuracy > MinAccuracy ? register : fail.

The builder takes plain strings (URIs, role ARN, names), so it runs offline and is deterministic: the same spec
gives the same JSON byte for byte. The CDK stack passes CloudFormation `${...}` placeholders for values known only
at deploy time and wraps the result in `Fn::Sub`. Nothing here uploads: every code location is an S3 URI of a CDK
asset, and every output location is explicit.

This module runs at synth time only; it is not shipped to the step containers.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

# Set before the SDK is first imported anywhere in the process (it prints a banner at import otherwise).
os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
for _noisy in (
    "sagemaker",
    "sagemaker.config",
    "sagemaker.deprecations",
    "sagemaker.workflow.utilities",
    "sagemaker.image_uris",
):
    logging.getLogger(_noisy).setLevel(logging.ERROR)

ACCURACY_JSON_PATH = "summary.accuracy"
EVALUATION_PROPERTY_FILE = "EvaluationReport"

# The SDK's telemetry calls out to the network from inside definition(); opt out through its own config.
_SDK_CONFIG = {"SchemaVersion": "1.0", "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}}}


@dataclass(frozen=True)
class PipelineSpec:
    """Everything the definition depends on, as plain strings and numbers."""

    pipeline_name: str
    region: str
    role_arn: str
    raw_data_uri: str
    artifact_uri: str  # s3://bucket/prefix under which every execution writes its outputs
    preprocess_code_uri: str
    evaluate_code_uri: str
    baseline_code_uri: str
    step_library_uri: str  # a zip with pipeline_code/ and drift_core/, put on PYTHONPATH of processing jobs
    step_library_file: str  # the zip's file name, as the job sees it
    training_source_uri: str  # sourcedir.tar.gz with train.py
    inference_source_uri: str  # sourcedir.tar.gz with inference.py
    model_package_group: str
    target: str
    features: tuple[str, ...]
    feature_group_name: str
    mlflow_tracking_arn: str
    min_accuracy: float
    approval_status: str
    framework_version: str
    processing_instance_type: str
    processing_instance_count: int
    training_instance_type: str
    training_instance_count: int
    inference_instance_type: str
    holdout_fraction: float
    seed: int
    kms_key_arn: str


def build_definition(spec: PipelineSpec) -> str:
    """The pipeline definition JSON."""
    with warnings.catch_warnings(), _config_validated_once(_SDK_CONFIG):
        warnings.simplefilter("ignore")  # the SDK's v2 deprecation and "PipelineSession: no wait" notices
        definition = json.loads(_build(spec).definition())
    # Re-serialise with sorted keys so that the template diff of a change is minimal and stable.
    return json.dumps(definition, sort_keys=True, separators=(",", ":"))


def sklearn_image_uri(region: str, framework_version: str) -> str:
    """The SageMaker scikit-learn image for a region, from the SDK's own table (no hand-kept account map)."""
    from sagemaker import image_uris

    return str(image_uris.retrieve("sklearn", region, version=framework_version))


@contextlib.contextmanager
def _config_validated_once(config: dict[str, Any]) -> Iterator[None]:
    """Validate our SDK config once, not on each of the ~60 look-ups the SDK makes (5 s of JSON-schema work).

    The SDK re-validates the whole config on every value it reads; for this one constant dict, which is validated
    here first, the repeats are skipped.
    """
    import sagemaker.utils
    from sagemaker.config.config import validate_sagemaker_config

    validate_sagemaker_config(config)
    original = sagemaker.utils.validate_sagemaker_config

    def validate(candidate: Any = None) -> Any:
        return None if candidate == config else original(candidate)

    sagemaker.utils.validate_sagemaker_config = validate
    try:
        yield
    finally:
        sagemaker.utils.validate_sagemaker_config = original


def _build(spec: PipelineSpec):  # type: ignore[no-untyped-def]
    import boto3
    from sagemaker.inputs import TrainingInput
    from sagemaker.model import Model
    from sagemaker.model_metrics import MetricsSource, ModelMetrics
    from sagemaker.processing import ProcessingInput, ProcessingOutput
    from sagemaker.sklearn.estimator import SKLearn
    from sagemaker.sklearn.processing import SKLearnProcessor
    from sagemaker.workflow.condition_step import ConditionStep
    from sagemaker.workflow.conditions import ConditionGreaterThan
    from sagemaker.workflow.execution_variables import ExecutionVariables
    from sagemaker.workflow.fail_step import FailStep
    from sagemaker.workflow.functions import Join, JsonGet
    from sagemaker.workflow.model_step import ModelStep
    from sagemaker.workflow.parameters import ParameterFloat, ParameterString
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.pipeline_context import PipelineSession
    from sagemaker.workflow.properties import PropertyFile
    from sagemaker.workflow.steps import ProcessingStep, TrainingStep

    # No credentials are needed or used: the session only shapes requests, nothing is sent.
    boto = boto3.Session(region_name=spec.region, aws_access_key_id="offline", aws_secret_access_key="offline")
    session = PipelineSession(boto_session=boto, default_bucket="unused-offline", sagemaker_config=_SDK_CONFIG)

    input_data = ParameterString(name="InputDataUri", default_value=spec.raw_data_uri)
    min_accuracy = ParameterFloat(name="MinAccuracy", default_value=spec.min_accuracy)
    approval = ParameterString(name="ModelApprovalStatus", default_value=spec.approval_status)
    # The serving model's artifact; the evaluate step scores it on the same holdout set ("none": no champion).
    champion = ParameterString(name="ChampionModelDataUri", default_value="none")

    def output_uri(step: str) -> Join:
        return Join(on="/", values=[spec.artifact_uri, ExecutionVariables.PIPELINE_EXECUTION_ID, step])

    library_dir = "/opt/ml/processing/input/lib"
    library = ProcessingInput(source=spec.step_library_uri, destination=library_dir, input_name="steplibrary")
    processor = SKLearnProcessor(
        framework_version=spec.framework_version,
        role=spec.role_arn,
        instance_type=spec.processing_instance_type,
        instance_count=spec.processing_instance_count,
        sagemaker_session=session,
        env={"PYTHONPATH": f"{library_dir}/{spec.step_library_file}"},
        output_kms_key=spec.kms_key_arn,
        volume_kms_key=spec.kms_key_arn,
    )

    preprocess = ProcessingStep(
        name="Preprocess",
        step_args=processor.run(
            code=spec.preprocess_code_uri,
            inputs=[
                ProcessingInput(source=input_data, destination="/opt/ml/processing/input/data", input_name="raw"),
                library,
            ],
            outputs=[
                ProcessingOutput(output_name=n, source=f"/opt/ml/processing/{n}", destination=output_uri(n))
                for n in ("train", "test")
            ],
            arguments=[
                "--target",
                spec.target,
                "--features",
                ",".join(spec.features),
                "--holdout-fraction",
                str(spec.holdout_fraction),
                "--seed",
                str(spec.seed),
                "--feature-group-name",
                spec.feature_group_name,
            ],
        ),
    )
    train_uri = preprocess.properties.ProcessingOutputConfig.Outputs["train"].S3Output.S3Uri
    test_uri = preprocess.properties.ProcessingOutputConfig.Outputs["test"].S3Output.S3Uri

    estimator = SKLearn(
        entry_point="train.py",
        source_dir=spec.training_source_uri,
        framework_version=spec.framework_version,
        py_version="py3",
        role=spec.role_arn,
        instance_type=spec.training_instance_type,
        instance_count=spec.training_instance_count,
        # A plain string: SageMaker appends the job name, and a pipeline variable here would make the SDK look up
        # a default bucket over the network.
        output_path=f"{spec.artifact_uri}/models",
        code_location=spec.artifact_uri,
        output_kms_key=spec.kms_key_arn,
        volume_kms_key=spec.kms_key_arn,
        hyperparameters={"target": spec.target, "seed": spec.seed},
        environment={
            "MLFLOW_TRACKING_URI": spec.mlflow_tracking_arn,
            "MLFLOW_EXPERIMENT_NAME": spec.pipeline_name,
        },
        disable_profiler=True,
        debugger_hook_config=False,
        sagemaker_session=session,
    )
    train = TrainingStep(
        name="Train",
        step_args=estimator.fit({"train": TrainingInput(s3_data=train_uri, content_type="text/csv")}),
    )
    model_data = train.properties.ModelArtifacts.S3ModelArtifacts

    report = PropertyFile(name=EVALUATION_PROPERTY_FILE, output_name="evaluation", path="evaluation.json")
    evaluate = ProcessingStep(
        name="Evaluate",
        step_args=processor.run(
            code=spec.evaluate_code_uri,
            inputs=[
                ProcessingInput(source=model_data, destination="/opt/ml/processing/model", input_name="model"),
                ProcessingInput(source=test_uri, destination="/opt/ml/processing/test", input_name="test"),
                library,
            ],
            outputs=[
                ProcessingOutput(
                    output_name="evaluation",
                    source="/opt/ml/processing/evaluation",
                    destination=output_uri("evaluation"),
                )
            ],
            arguments=["--champion-model-uri", champion],
        ),
        property_files=[report],
    )

    baseline = ProcessingStep(
        name="Baseline",
        step_args=processor.run(
            code=spec.baseline_code_uri,
            inputs=[
                ProcessingInput(source=train_uri, destination="/opt/ml/processing/input/train", input_name="train"),
                library,
            ],
            outputs=[
                ProcessingOutput(
                    output_name="baseline",
                    source="/opt/ml/processing/baseline",
                    destination=output_uri("baseline"),
                )
            ],
            arguments=["--target", spec.target],
        ),
    )

    def s3_file(step: ProcessingStep, output: str, name: str) -> Join:
        uri = step.properties.ProcessingOutputConfig.Outputs[output].S3Output.S3Uri
        return Join(on="/", values=[uri, name])

    metrics = ModelMetrics(
        model_statistics=MetricsSource(
            s3_uri=s3_file(evaluate, "evaluation", "evaluation.json"), content_type="application/json"
        ),
        model_data_statistics=MetricsSource(
            s3_uri=s3_file(baseline, "baseline", "statistics.json"), content_type="application/json"
        ),
        model_data_constraints=MetricsSource(
            s3_uri=s3_file(baseline, "baseline", "constraints.json"), content_type="application/json"
        ),
    )
    image = sklearn_image_uri(spec.region, spec.framework_version)
    # The framework container reads the inference script from these variables; no model repacking is needed.
    model = Model(
        image_uri=image,
        model_data=model_data,
        role=spec.role_arn,
        env={"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": spec.inference_source_uri},
        sagemaker_session=session,
    )
    register = ModelStep(
        name="Register",
        step_args=model.register(
            content_types=["text/csv", "application/json"],
            response_types=["application/json", "text/csv"],
            inference_instances=[spec.inference_instance_type],
            transform_instances=[spec.inference_instance_type],
            model_package_group_name=spec.model_package_group,
            approval_status=approval,
            model_metrics=metrics,
            # Links the package to the run that produced it (the retraining loop finds its challenger by this).
            customer_metadata_properties={"pipeline_execution_arn": ExecutionVariables.PIPELINE_EXECUTION_ARN},
        ),
    )

    accuracy = JsonGet(step_name=evaluate.name, property_file=report, json_path=ACCURACY_JSON_PATH)
    fail = FailStep(
        name="AccuracyBelowMinimum",
        error_message=Join(on=" ", values=["Holdout accuracy", accuracy, "is not above the minimum", min_accuracy]),
    )
    gate = ConditionStep(
        name="AccuracyAboveMinimum",
        conditions=[ConditionGreaterThan(left=accuracy, right=min_accuracy)],
        if_steps=[register],
        else_steps=[fail],
        depends_on=[baseline],
    )
    return Pipeline(
        name=spec.pipeline_name,
        parameters=[input_data, min_accuracy, approval, champion],
        steps=[preprocess, train, evaluate, baseline, gate],
        sagemaker_session=session,
    )
