"""The pipeline's steps, one function each, in the order the pipeline runs them.

preprocess -> train -> evaluate (holdout) -> baseline (+ evaluate's calibration) -> governance [-> package for
Triton] -> accuracy > MinAccuracy ? register : fail. The governance step writes the model's lineage, model card and
readiness verdict; Register copies them into the package's metadata, where the approval paths read them. The step
scripts themselves are in pipeline_code/ (the SageMaker container contract); here is only how the pipeline calls
them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sagemaker.estimator import Framework
from sagemaker.inputs import TrainingInput
from sagemaker.model import Model
from sagemaker.model_metrics import MetricsSource, ModelMetrics
from sagemaker.processing import ProcessingInput, ProcessingOutput, Processor, ScriptProcessor
from sagemaker.sklearn.estimator import SKLearn
from sagemaker.sklearn.processing import SKLearnProcessor
from sagemaker.workflow.condition_step import ConditionStep
from sagemaker.workflow.conditions import ConditionGreaterThan
from sagemaker.workflow.entities import PipelineVariable
from sagemaker.workflow.execution_variables import ExecutionVariables
from sagemaker.workflow.fail_step import FailStep
from sagemaker.workflow.functions import Join, JsonGet
from sagemaker.workflow.model_step import ModelStep
from sagemaker.workflow.parameters import ParameterFloat, ParameterString
from sagemaker.workflow.pipeline_context import PipelineSession
from sagemaker.workflow.properties import PropertyFile
from sagemaker.workflow.steps import ProcessingStep, TrainingStep
from sagemaker.xgboost.estimator import XGBoost

from contracts.package_metadata import PACKAGE_METADATA_KEYS, PIPELINE_EXECUTION_ARN, TRITON_MODEL_DATA_URI
from contracts.sentinels import NONE
from contracts.state_machine import CHAMPION_MODEL_PARAMETER
from pipeline_code.serving_code import serving_environment
from pipeline_code.triton_repository import instance_kind_for
from pipeline_definition.images import model_image_uri
from pipeline_definition.spec import PipelineSpec

ACCURACY_JSON_PATH = "summary.accuracy"
EVALUATION_PROPERTY_FILE = "EvaluationReport"
GOVERNANCE_PROPERTY_FILE = "GovernanceMetadata"
TRITON_METADATA_KEY = TRITON_MODEL_DATA_URI  # the package's Triton archive (what the deploy function copies)
LIBRARY_DIR = "/opt/ml/processing/input/lib"


@dataclass(frozen=True)
class Parameters:
    """The pipeline's parameters: what an execution may override."""

    input_data: ParameterString
    min_accuracy: ParameterFloat
    approval: ParameterString
    champion: ParameterString  # the serving model's artifact; evaluate scores it on the same holdout ("none": none)

    @classmethod
    def of(cls, spec: PipelineSpec) -> Parameters:
        return cls(
            input_data=ParameterString(name="InputDataUri", default_value=spec.raw_data_uri),
            min_accuracy=ParameterFloat(name="MinAccuracy", default_value=spec.min_accuracy),
            approval=ParameterString(name="ModelApprovalStatus", default_value=spec.approval_status),
            champion=ParameterString(name=CHAMPION_MODEL_PARAMETER, default_value=NONE),
        )

    def all(self) -> list[Any]:
        return [self.input_data, self.min_accuracy, self.approval, self.champion]


@dataclass(frozen=True)
class StepContext:
    """What every step shares: the spec, the offline session, the parameters, the step library input and the
    processors. Preprocess shards its input over processing_instance_count instances; the later jobs each need the
    whole split (or the one model) at once, so they run on one instance (more would repeat the same work)."""

    spec: PipelineSpec
    session: PipelineSession
    parameters: Parameters
    library: ProcessingInput
    preprocess_processor: SKLearnProcessor
    processor: SKLearnProcessor
    model_processor: Processor  # the steps that load the trained model

    @classmethod
    def of(cls, spec: PipelineSpec, session: PipelineSession) -> StepContext:
        library = ProcessingInput(source=spec.step_library_uri, destination=LIBRARY_DIR, input_name="steplibrary")
        preprocess_processor = _sklearn_processor(spec, session, spec.processing_instance_count)
        processor = _sklearn_processor(spec, session, 1)
        return cls(
            spec=spec,
            session=session,
            parameters=Parameters.of(spec),
            library=library,
            preprocess_processor=preprocess_processor,
            processor=processor,
            model_processor=_model_processor(spec, processor, session),
        )

    def output_uri(self, step: str) -> Join:
        return Join(on="/", values=[self.spec.artifact_uri, ExecutionVariables.PIPELINE_EXECUTION_ID, step])


def preprocess_step(ctx: StepContext) -> ProcessingStep:
    spec = ctx.spec
    raw = ProcessingInput(
        source=ctx.parameters.input_data,
        destination="/opt/ml/processing/input/data",
        input_name="raw",
        # Several instances split the raw files between them (each writes its own part-<host> shards).
        s3_data_distribution_type="ShardedByS3Key" if spec.processing_instance_count > 1 else "FullyReplicated",
    )
    arguments = [
        "--target", spec.target,
        "--features", ",".join(spec.features),
        "--holdout-fraction", str(spec.holdout_fraction),
        "--seed", str(spec.seed),
        "--feature-group-name", spec.feature_group_name,
        "--chunk-rows", str(spec.preprocess_chunk_rows),
        "--train-shards", str(spec.train_shard_count),
        "--feature-batch-size", str(spec.feature_ingest_batch_size),
    ]  # fmt: skip
    return ProcessingStep(
        name="Preprocess",
        step_args=ctx.preprocess_processor.run(
            code=spec.preprocess_code_uri,
            inputs=[raw, ctx.library],
            outputs=[
                ProcessingOutput(output_name=n, source=f"/opt/ml/processing/{n}", destination=ctx.output_uri(n))
                for n in ("train", "test", "report")
            ],
            arguments=arguments,
        ),
    )


def train_step(ctx: StepContext, preprocess: ProcessingStep) -> TrainingStep:
    """The XGBoost engine: each instance gets its own share of the train shards (ShardedByS3Key) and they train
    one model together; the other steps are the same for both engines."""
    distribution = "ShardedByS3Key" if ctx.spec.training_instance_count > 1 else None  # None: the SDK's default
    # Preprocess writes the training split as Parquet shards (script mode reads the files itself).
    channel = TrainingInput(
        s3_data=_output(preprocess, "train"), content_type="application/x-parquet", distribution=distribution
    )
    return TrainingStep(name="Train", step_args=_estimator(ctx.spec, ctx.session).fit({"train": channel}))


def evaluate_step(ctx: StepContext, preprocess: ProcessingStep, train: TrainingStep) -> ProcessingStep:
    """Scores the new model, and the champion (a pipeline parameter), on the holdout set."""
    return ProcessingStep(
        name="Evaluate",
        step_args=ctx.model_processor.run(
            code=ctx.spec.evaluate_code_uri,
            inputs=[_model_input(train), _test_input(preprocess), ctx.library],
            outputs=[_processing_output(ctx, "evaluation")],
            arguments=["--champion-model-uri", ctx.parameters.champion],
        ),
        property_files=[PropertyFile(name=EVALUATION_PROPERTY_FILE, output_name="evaluation", path="evaluation.json")],
    )


def baseline_step(ctx: StepContext, preprocess: ProcessingStep, evaluate: ProcessingStep) -> ProcessingStep:
    """The drift baseline (statistics and constraints) of the training split, with the PCA for multivariate drift,
    and the evaluate step's calibration.json stored beside it (performance estimation from unlabelled traffic)."""
    train_split = ProcessingInput(
        source=_output(preprocess, "train"), destination="/opt/ml/processing/input/train", input_name="train"
    )
    calibration = ProcessingInput(
        source=_output(evaluate, "evaluation"),
        destination="/opt/ml/processing/input/evaluation",
        input_name="evaluation",
    )
    return ProcessingStep(
        name="Baseline",
        step_args=ctx.processor.run(
            code=ctx.spec.baseline_code_uri,
            inputs=[train_split, calibration, ctx.library],
            outputs=[_processing_output(ctx, "baseline")],
            arguments=["--target", ctx.spec.target, "--chunk-rows", str(ctx.spec.preprocess_chunk_rows)],
        ),
    )


def governance_step(
    ctx: StepContext,
    preprocess: ProcessingStep,
    train: TrainingStep,
    evaluate: ProcessingStep,
    baseline: ProcessingStep,
) -> ProcessingStep:
    """The model's lineage, model card and readiness verdict (metadata.json, read by Register)."""
    spec = ctx.spec
    arguments = [
        "--data-uri", ctx.parameters.input_data,
        "--code-commit", spec.code_commit,
        "--code-dirty", spec.code_dirty,
        "--config-sha256", spec.config_sha256,
        "--project-name", spec.project_name,
        "--baseline-uri", _output(baseline, "baseline"),
        "--output-uri", ctx.output_uri("governance"),
        "--model-name", spec.model_package_group,
        "--risk-rating", spec.model_risk_rating,
        "--min-accuracy", ctx.parameters.min_accuracy.to_string(),
        "--majority-margin", str(spec.readiness_majority_margin),
        "--contract-rows", str(spec.readiness_contract_rows),
        "--seed", str(spec.seed),
    ]  # fmt: skip
    # The outputs of the earlier steps, each under /opt/ml/processing/<output name>.
    earlier = [
        ProcessingInput(source=_output(step, name), destination=f"/opt/ml/processing/{name}", input_name=name)
        for step, name in ((evaluate, "evaluation"), (baseline, "baseline"), (preprocess, "report"))
    ]
    return ProcessingStep(
        name="Governance",
        step_args=ctx.model_processor.run(
            code=spec.governance_code_uri,
            inputs=[
                _model_input(train),
                _test_input(preprocess),
                *earlier,
                ctx.library,
            ],
            outputs=[_processing_output(ctx, "governance")],
            arguments=arguments,
        ),
        property_files=[PropertyFile(name=GOVERNANCE_PROPERTY_FILE, output_name="governance", path="metadata.json")],
    )


def package_triton_step(ctx: StepContext, train: TrainingStep) -> ProcessingStep:
    """PackageTriton (serving_mode "triton"): model.tar.gz -> a Triton FIL repository archive (one model directory).

    Pure standard-library work (pipeline_code.triton_repository) in the scikit-learn processing image. The Triton
    model's name is unique per execution, so archives of different versions never share a name on one endpoint.
    """
    spec = ctx.spec
    return ProcessingStep(
        name="PackageTriton",
        step_args=ctx.processor.run(
            code=spec.triton_code_uri,
            inputs=[_model_input(train), ctx.library],
            outputs=[_processing_output(ctx, "triton")],
            arguments=[
                "--model-name",
                Join(on="-", values=[spec.model_package_group, ExecutionVariables.PIPELINE_EXECUTION_ID]),
                "--instance-kind",
                instance_kind_for(spec.inference_instance_type),
            ],
        ),
    )


def register_step(
    ctx: StepContext,
    train: TrainingStep,
    evaluate: ProcessingStep,
    baseline: ProcessingStep,
    governance: ProcessingStep,
    triton: ProcessingStep | None,
) -> ModelStep:
    """Registers the model package with its metrics, its run, its Triton archive and the governance metadata."""
    spec = ctx.spec
    metrics = ModelMetrics(
        model_statistics=_json_source(evaluate, "evaluation", "evaluation.json"),
        model_data_statistics=_json_source(baseline, "baseline", "statistics.json"),
        model_data_constraints=_json_source(baseline, "baseline", "constraints.json"),
    )
    # The framework container imports inference.py from model.tar.gz's code/ (the training job packs it there):
    # the package's models run with network isolation, which rules out an s3:// submit directory (serving_code).
    env: dict[str, str | PipelineVariable] = dict(serving_environment())
    model = Model(
        image_uri=model_image_uri(spec),
        model_data=train.properties.ModelArtifacts.S3ModelArtifacts,
        role=spec.role_arn,
        env=env,
        sagemaker_session=ctx.session,
    )
    return ModelStep(
        name="Register",
        step_args=model.register(
            content_types=["text/csv", "application/json"],
            response_types=["application/json", "text/csv"],
            inference_instances=[spec.inference_instance_type],
            transform_instances=[spec.inference_instance_type],
            model_package_group_name=spec.model_package_group,
            approval_status=ctx.parameters.approval,
            model_metrics=metrics,
            # Links the package to the run that produced it (the retraining loop finds its challenger by this), and
            # carries the governance step's lineage and readiness verdict (what the approval paths check).
            customer_metadata_properties={
                PIPELINE_EXECUTION_ARN: ExecutionVariables.PIPELINE_EXECUTION_ARN,
                **({TRITON_METADATA_KEY: _s3_file(triton, "triton", "model.tar.gz")} if triton else {}),
                **{
                    key: JsonGet(step_name=governance.name, property_file=GOVERNANCE_PROPERTY_FILE, json_path=key)
                    for key in PACKAGE_METADATA_KEYS
                },
            },
        ),
    )


def accuracy_gate(
    ctx: StepContext, evaluate: ProcessingStep, register: ModelStep, depends_on: list[ProcessingStep]
) -> ConditionStep:
    """Holdout accuracy above MinAccuracy registers the model; otherwise the execution fails, saying why."""
    accuracy = JsonGet(step_name=evaluate.name, property_file=EVALUATION_PROPERTY_FILE, json_path=ACCURACY_JSON_PATH)
    min_accuracy = ctx.parameters.min_accuracy
    fail = FailStep(
        name="AccuracyBelowMinimum",
        error_message=Join(on=" ", values=["Holdout accuracy", accuracy, "is not above the minimum", min_accuracy]),
    )
    return ConditionStep(
        name="AccuracyAboveMinimum",
        # JsonGet is a valid operand (the SDK's own examples gate on it); its annotation leaves it out.
        conditions=[ConditionGreaterThan(left=accuracy, right=min_accuracy)],  # type: ignore[arg-type]
        if_steps=[register],
        else_steps=[fail],
        depends_on=[*depends_on],  # a list of the SDK's step types: ProcessingStep is one
    )


def _sklearn_processor(spec: PipelineSpec, session: PipelineSession, instance_count: int) -> SKLearnProcessor:
    return SKLearnProcessor(
        framework_version=spec.framework_version,
        role=spec.role_arn,
        instance_type=spec.processing_instance_type,
        instance_count=instance_count,
        sagemaker_session=session,
        env={"PYTHONPATH": f"{LIBRARY_DIR}/{spec.step_library_file}"},
        output_kms_key=spec.kms_key_arn,
        volume_kms_key=spec.kms_key_arn,
    )


def _model_processor(spec: PipelineSpec, processor: SKLearnProcessor, session: PipelineSession) -> Processor:
    """The processor of the steps that load the trained model: the XGBoost image for that engine (xgboost installed)."""
    if spec.training_engine != "xgboost":
        return processor
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


def _estimator(spec: PipelineSpec, session: PipelineSession) -> Framework:
    """The training job: train.py in the scikit-learn container, or train_xgboost.py in the XGBoost container
    (script mode, on training_instance_count instances joined by XGBoost's collective)."""
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


def _output(step: ProcessingStep, output: str) -> Any:
    """A processing step's output location (a property resolved at run time)."""
    return step.properties.ProcessingOutputConfig.Outputs[output].S3Output.S3Uri


def _s3_file(step: ProcessingStep, output: str, name: str) -> Join:
    return Join(on="/", values=[_output(step, output), name])


def _json_source(step: ProcessingStep, output: str, name: str) -> MetricsSource:
    return MetricsSource(s3_uri=_s3_file(step, output, name), content_type="application/json")


def _processing_output(ctx: StepContext, name: str) -> ProcessingOutput:
    return ProcessingOutput(output_name=name, source=f"/opt/ml/processing/{name}", destination=ctx.output_uri(name))


def _model_input(train: TrainingStep) -> ProcessingInput:
    model_data = train.properties.ModelArtifacts.S3ModelArtifacts
    return ProcessingInput(source=model_data, destination="/opt/ml/processing/model", input_name="model")


def _test_input(preprocess: ProcessingStep) -> ProcessingInput:
    return ProcessingInput(source=_output(preprocess, "test"), destination="/opt/ml/processing/test", input_name="test")
