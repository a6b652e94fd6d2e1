"""The SageMaker Pipeline definition, built with the SageMaker Python SDK (v2 line) at synth time.

preprocess -> train -> evaluate (holdout) -> baseline (with evaluate's calibration) -> governance ->
accuracy > MinAccuracy ? register : fail.
The governance step writes the model's lineage, model card and readiness verdict; Register copies them into the
package's metadata, where the approval paths read them.

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

from pipeline_code.serving_code import serving_environment

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
GOVERNANCE_PROPERTY_FILE = "GovernanceMetadata"
TRITON_METADATA_KEY = "triton_model_data_uri"  # the package's Triton archive (what the deploy function copies)

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
    governance_code_uri: str
    step_library_uri: str  # a zip with pipeline_code/ and drift_core/, put on PYTHONPATH of processing jobs
    step_library_file: str  # the zip's file name, as the job sees it
    training_source_uri: str  # sourcedir.tar.gz with train.py
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
    # Governance: what the synth knows of the code and config (recorded in the lineage), and the readiness policy
    code_commit: str = "unknown"
    code_dirty: str = "unknown"  # "true" | "false" | "unknown"
    config_sha256: str = "unknown"
    project_name: str = ""
    model_risk_rating: str = "unknown"
    readiness_majority_margin: float = 0.0
    readiness_contract_rows: int = 50
    # Training engine: "sklearn" (train.py, one instance) or "xgboost" (train_xgboost.py, data-parallel across
    # training_instance_count instances in the XGBoost framework container, the train channel ShardedByS3Key)
    training_engine: str = "sklearn"
    xgboost_framework_version: str = "3.0-5"
    xgboost_hyperparameters: tuple[tuple[str, Any], ...] = ()
    # Serving on Triton (serving_mode "triton"): package_triton.py's location; "" leaves the PackageTriton step out
    triton_code_uri: str = ""
    # Data larger than memory: rows per chunk in preprocess/baseline, Parquet shards of the train split, Feature
    # Store ingest batch size. With processing_instance_count > 1 each instance preprocesses its share of the files.
    preprocess_chunk_rows: int = 100_000
    train_shard_count: int = 1
    feature_ingest_batch_size: int = 500


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


def xgboost_image_uri(region: str, framework_version: str) -> str:
    """The SageMaker XGBoost framework image for a region, from the SDK's own table."""
    from sagemaker import image_uris

    return str(image_uris.retrieve("xgboost", region, version=framework_version))


def model_image_uri(spec: PipelineSpec) -> str:
    """The image that evaluates and serves the trained model: the training engine's framework image."""
    if spec.training_engine == "xgboost":
        return xgboost_image_uri(spec.region, spec.xgboost_framework_version)
    return sklearn_image_uri(spec.region, spec.framework_version)


def _estimator(spec: PipelineSpec, session: Any) -> Any:
    """The training job: train.py in the scikit-learn container, or train_xgboost.py in the XGBoost container
    (script mode, on training_instance_count instances joined by XGBoost's collective)."""
    from sagemaker.sklearn.estimator import SKLearn
    from sagemaker.xgboost.estimator import XGBoost

    xgboost = spec.training_engine == "xgboost"
    hyperparameters: dict[str, Any] = {"target": spec.target, "seed": spec.seed}
    if xgboost:
        hyperparameters.update(spec.xgboost_hyperparameters)
    return (XGBoost if xgboost else SKLearn)(
        entry_point="train_xgboost.py" if xgboost else "train.py",
        source_dir=spec.training_source_uri,
        framework_version=spec.xgboost_framework_version if xgboost else spec.framework_version,
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
        hyperparameters=hyperparameters,
        environment={
            "MLFLOW_TRACKING_URI": spec.mlflow_tracking_arn,
            "MLFLOW_EXPERIMENT_NAME": spec.pipeline_name,
        },
        disable_profiler=True,
        debugger_hook_config=False,
        sagemaker_session=session,
    )


def _model_processor(spec: PipelineSpec, processor: Any, session: Any) -> Any:
    """The processor of the steps that load the trained model: the XGBoost image for that engine (xgboost installed)."""
    if spec.training_engine != "xgboost":
        return processor
    from sagemaker.processing import ScriptProcessor

    return ScriptProcessor(
        image_uri=model_image_uri(spec),
        command=["python3"],
        role=spec.role_arn,
        instance_type=spec.processing_instance_type,
        instance_count=1,
        sagemaker_session=session,
        env=processor.env,
        output_kms_key=spec.kms_key_arn,
        volume_kms_key=spec.kms_key_arn,
    )


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

    from pipeline_code.lineage_fields import PACKAGE_METADATA_KEYS

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

    def sklearn_processor(instance_count: int) -> SKLearnProcessor:
        return SKLearnProcessor(
            framework_version=spec.framework_version,
            role=spec.role_arn,
            instance_type=spec.processing_instance_type,
            instance_count=instance_count,
            sagemaker_session=session,
            env={"PYTHONPATH": f"{library_dir}/{spec.step_library_file}"},
            output_kms_key=spec.kms_key_arn,
            volume_kms_key=spec.kms_key_arn,
        )

    # Preprocess shards its input over processing_instance_count instances; the later jobs each need the whole
    # split (or the one model) at once, so they run on one instance (more would repeat the same work).
    preprocess_processor = sklearn_processor(spec.processing_instance_count)
    processor = sklearn_processor(1)

    preprocess = ProcessingStep(
        name="Preprocess",
        step_args=preprocess_processor.run(
            code=spec.preprocess_code_uri,
            inputs=[
                ProcessingInput(
                    source=input_data,
                    destination="/opt/ml/processing/input/data",
                    input_name="raw",
                    # Several instances split the raw files between them (each writes its own part-<host> shards).
                    s3_data_distribution_type=(
                        "ShardedByS3Key" if spec.processing_instance_count > 1 else "FullyReplicated"
                    ),
                ),
                library,
            ],
            outputs=[
                ProcessingOutput(output_name=n, source=f"/opt/ml/processing/{n}", destination=output_uri(n))
                for n in ("train", "test", "report")
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
                "--chunk-rows",
                str(spec.preprocess_chunk_rows),
                "--train-shards",
                str(spec.train_shard_count),
                "--feature-batch-size",
                str(spec.feature_ingest_batch_size),
            ],
        ),
    )
    model_processor = _model_processor(spec, processor, session)
    train_uri = preprocess.properties.ProcessingOutputConfig.Outputs["train"].S3Output.S3Uri
    test_uri = preprocess.properties.ProcessingOutputConfig.Outputs["test"].S3Output.S3Uri

    estimator = _estimator(spec, session)
    # The XGBoost engine: each instance gets its own share of the train shards (ShardedByS3Key) and they train
    # one model together; the other steps are the same for both engines.
    sharded = {"distribution": "ShardedByS3Key"} if spec.training_instance_count > 1 else {}
    train = TrainingStep(
        name="Train",
        # Preprocess writes the training split as Parquet shards (script mode reads the files itself).
        step_args=estimator.fit(
            {"train": TrainingInput(s3_data=train_uri, content_type="application/x-parquet", **sharded)}
        ),
    )
    model_data = train.properties.ModelArtifacts.S3ModelArtifacts

    report = PropertyFile(name=EVALUATION_PROPERTY_FILE, output_name="evaluation", path="evaluation.json")
    evaluate = ProcessingStep(
        name="Evaluate",
        step_args=model_processor.run(
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
                # The evaluate step's calibration.json, stored with the baseline (performance estimation).
                ProcessingInput(
                    source=evaluate.properties.ProcessingOutputConfig.Outputs["evaluation"].S3Output.S3Uri,
                    destination="/opt/ml/processing/input/evaluation",
                    input_name="evaluation",
                ),
                library,
            ],
            outputs=[
                ProcessingOutput(
                    output_name="baseline",
                    source="/opt/ml/processing/baseline",
                    destination=output_uri("baseline"),
                )
            ],
            arguments=["--target", spec.target, "--chunk-rows", str(spec.preprocess_chunk_rows)],
        ),
    )

    def s3_file(step: ProcessingStep, output: str, name: str) -> Join:
        uri = step.properties.ProcessingOutputConfig.Outputs[output].S3Output.S3Uri
        return Join(on="/", values=[uri, name])

    def step_output(step: ProcessingStep, output: str) -> Any:
        return step.properties.ProcessingOutputConfig.Outputs[output].S3Output.S3Uri

    governance_args = [
        "--data-uri", input_data,
        "--code-commit", spec.code_commit,
        "--code-dirty", spec.code_dirty,
        "--config-sha256", spec.config_sha256,
        "--project-name", spec.project_name,
        "--baseline-uri", step_output(baseline, "baseline"),
        "--output-uri", output_uri("governance"),
        "--model-name", spec.model_package_group,
        "--risk-rating", spec.model_risk_rating,
        "--min-accuracy", min_accuracy.to_string(),
        "--majority-margin", str(spec.readiness_majority_margin),
        "--contract-rows", str(spec.readiness_contract_rows),
        "--seed", str(spec.seed),
    ]  # fmt: skip
    governance_report = PropertyFile(name=GOVERNANCE_PROPERTY_FILE, output_name="governance", path="metadata.json")
    governance = ProcessingStep(
        name="Governance",
        step_args=model_processor.run(
            code=spec.governance_code_uri,
            inputs=[
                ProcessingInput(source=model_data, destination="/opt/ml/processing/model", input_name="model"),
                ProcessingInput(source=test_uri, destination="/opt/ml/processing/test", input_name="test"),
                ProcessingInput(
                    source=step_output(evaluate, "evaluation"),
                    destination="/opt/ml/processing/evaluation",
                    input_name="evaluation",
                ),
                ProcessingInput(
                    source=step_output(baseline, "baseline"),
                    destination="/opt/ml/processing/baseline",
                    input_name="baseline",
                ),
                ProcessingInput(
                    source=step_output(preprocess, "report"),
                    destination="/opt/ml/processing/report",
                    input_name="report",
                ),
                library,
            ],
            outputs=[
                ProcessingOutput(
                    output_name="governance",
                    source="/opt/ml/processing/governance",
                    destination=output_uri("governance"),
                )
            ],
            arguments=governance_args,
        ),
        property_files=[governance_report],
    )

    # serving_mode "triton": the trained model as a Triton FIL multi-model archive; Register records where it is.
    triton = _package_triton_step(spec, processor, model_data, library, output_uri) if spec.triton_code_uri else None
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
    image = model_image_uri(spec)
    # The framework container imports inference.py from model.tar.gz's code/ (the training job packs it there):
    # the package's models run with network isolation, which rules out an s3:// submit directory (serving_code).
    model = Model(
        image_uri=image,
        model_data=model_data,
        role=spec.role_arn,
        env=serving_environment(),
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
            # Links the package to the run that produced it (the retraining loop finds its challenger by this), and
            # carries the governance step's lineage and readiness verdict (what the approval paths check).
            customer_metadata_properties={
                "pipeline_execution_arn": ExecutionVariables.PIPELINE_EXECUTION_ARN,
                **({TRITON_METADATA_KEY: s3_file(triton, "triton", "model.tar.gz")} if triton else {}),
                **{
                    key: JsonGet(step_name=governance.name, property_file=governance_report, json_path=key)
                    for key in PACKAGE_METADATA_KEYS
                },
            },
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
        depends_on=[baseline, governance, *([triton] if triton else [])],
    )
    return Pipeline(
        name=spec.pipeline_name,
        parameters=[input_data, min_accuracy, approval, champion],
        steps=[preprocess, train, evaluate, baseline, governance, *([triton] if triton else []), gate],
        sagemaker_session=session,
    )


def _package_triton_step(spec: PipelineSpec, processor: Any, model_data: Any, library: Any, output_uri: Any) -> Any:
    """PackageTriton: model.tar.gz -> a Triton FIL repository archive (one model directory), after Train.

    Pure standard-library work (pipeline_code.triton_repository) in the scikit-learn processing image. The Triton
    model's name is unique per execution, so archives of different versions never share a name on one endpoint.
    """
    from sagemaker.processing import ProcessingInput, ProcessingOutput
    from sagemaker.workflow.execution_variables import ExecutionVariables
    from sagemaker.workflow.functions import Join
    from sagemaker.workflow.steps import ProcessingStep

    from pipeline_code.triton_repository import instance_kind_for

    return ProcessingStep(
        name="PackageTriton",
        step_args=processor.run(
            code=spec.triton_code_uri,
            inputs=[
                ProcessingInput(source=model_data, destination="/opt/ml/processing/model", input_name="model"),
                library,
            ],
            outputs=[
                ProcessingOutput(
                    output_name="triton", source="/opt/ml/processing/triton", destination=output_uri("triton")
                )
            ],
            arguments=[
                "--model-name",
                Join(on="-", values=[spec.model_package_group, ExecutionVariables.PIPELINE_EXECUTION_ID]),
                "--instance-kind",
                instance_kind_for(spec.inference_instance_type),
            ],
        ),
    )
