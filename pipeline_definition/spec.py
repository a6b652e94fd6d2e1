"""What the pipeline definition depends on, as plain strings and numbers.

The builder takes only these values, so it runs offline and is deterministic: the same spec gives the same JSON
byte for byte. The CDK stack passes CloudFormation `${...}` placeholders for values known only at deploy time and
wraps the result in `Fn::Sub`. Every code location is an S3 URI of a CDK asset and every output location is
explicit, so nothing is uploaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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
