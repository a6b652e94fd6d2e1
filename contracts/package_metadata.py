"""Model package CustomerMetadataProperties: the keys the build pipeline writes (the governance step's output,
the Register step, PackageTriton) and the approval paths, the deploy and drift functions and the twin read. The
values are in contracts/metadata_codec.py's encoding.

Shipped with the step code (the step library zip and the training source carry contracts/, stacks/constructs/
step_code.py) as well as in every Lambda asset, so the SageMaker jobs import these very constants.
"""

# What the approval paths' readiness gate reads (lambdas/shared/readiness_gate.py).
LINEAGE_COMPLETE = "lineage_complete"  # TRUE or "false"
LINEAGE_MISSING = "lineage_missing"  # the missing lineage fields (a list)
READINESS_VERDICT = "readiness_verdict"  # READY or NOT_READY
READINESS_FAILED = "readiness_failed"  # the failed readiness checks (a list)
TRUE = "true"
READY = "ready"
NOT_READY = "not_ready"
# Where the model card JSON is (the approval paths publish it as an Approved SageMaker model card).
MODEL_CARD_URI = "model_card_uri"
# The package's Triton archive (PackageTriton's output): what the deploy and drift functions use in triton mode.
TRITON_MODEL_DATA_URI = "triton_model_data_uri"
# The pipeline run that registered the package (the retraining loop finds its run's package by it).
PIPELINE_EXECUTION_ARN = "pipeline_execution_arn"

# Every key the governance step writes for the Register step (and the local pipeline registers).
PACKAGE_METADATA_KEYS = (
    LINEAGE_COMPLETE, LINEAGE_MISSING, "lineage_sha256", "lineage_uri", READINESS_VERDICT, READINESS_FAILED,
    "git_commit", "git_dirty", "config_sha256", "data_location", "data_s3_version_id", "data_sha256", "data_rows",
    "mlflow_run_id", "training_engine", "training_workers", "hyperparameters", "holdout_accuracy",
    "majority_class_accuracy", "baseline_location", MODEL_CARD_URI,
)  # fmt: skip
