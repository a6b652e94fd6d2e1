"""The platform's one typed configuration.

Defaults live here and only here. `cdk.json` overrides them under the context key `platform` (a mapping), and
`cdk synth -c key=value` overrides single keys on top of that. Every value is validated when the app starts;
an invalid or unknown key fails synth with a message that names the key.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal, get_args, get_origin, get_type_hints

from contracts import serving as modes
from contracts import ssm as ssm_names

CONTEXT_KEY = "platform"
DUMMY_ACCOUNT = "111111111111"

FeatureType = Literal["Integral", "Fractional", "String"]


class ConfigError(ValueError):
    """An invalid configuration value; the message names the key."""


@dataclass(frozen=True)
class FeatureSpec:
    """One column of the Feature Group (SageMaker feature types)."""

    name: str
    type: FeatureType


def _default_features() -> tuple[FeatureSpec, ...]:
    # The ISLR Default credit data set: the product's reference data.
    return (
        FeatureSpec("student", "String"),
        FeatureSpec("balance", "Fractional"),
        FeatureSpec("income", "Fractional"),
    )


@dataclass(frozen=True)
class PlatformConfig:
    """Every tunable of the platform, with its default."""

    project_name: str = "mlops"
    account: str = DUMMY_ACCOUNT
    region: str = "us-east-1"

    # Model quality gate and drift rule
    min_accuracy: float = 0.85
    drift_sigma: float = 3.0
    psi_threshold: float = 0.2
    target_column: str = "default"
    positive_class: str = "Yes"
    features: tuple[FeatureSpec, ...] = field(default_factory=_default_features)
    holdout_fraction: float = 0.2
    random_seed: int = 42

    # Build: SageMaker Pipeline jobs
    sklearn_framework_version: str = "1.2-1"
    processing_instance_type: str = "ml.m5.large"
    processing_instance_count: int = 1
    # Data larger than memory: preprocess and baseline read this many rows at a time; the train split is written to
    # train_shard_count Parquet files (at least one per training instance); Feature Store ingest goes in batches.
    preprocess_chunk_rows: int = 100_000
    train_shard_count: int = 1
    feature_ingest_batch_size: int = 500
    training_instance_type: str = "ml.m5.large"
    training_instance_count: int = 1
    # Training engine: "sklearn" (one instance, train.py) or "xgboost" (data-parallel across training_instance_count
    # instances, train_xgboost.py in the SageMaker XGBoost framework container; the train channel ShardedByS3Key).
    training_engine: Literal["sklearn", "xgboost"] = "sklearn"
    xgboost_framework_version: str = "3.0-5"  # the container's xgboost is 3.0.5, the local pin (constraints.txt)
    xgboost_num_round: int = 50
    xgboost_max_depth: int = 3
    xgboost_eta: float = 0.1
    xgboost_min_child_weight: float = 1.0
    xgboost_subsample: float = 1.0
    model_approval_status: Literal["PendingManualApproval", "Approved"] = "PendingManualApproval"
    mlflow_server_size: Literal["Small", "Medium", "Large"] = "Small"

    # Serve
    # "triton": a SageMaker Triton multi-model endpoint (FIL backend) for XGBoost models (training_engine xgboost)
    serving_mode: modes.ServingModeName = modes.REALTIME
    endpoint_instance_type: str = "ml.m5.large"
    endpoint_min_instances: int = 1
    endpoint_max_instances: int = 4
    invocations_per_instance_target: int = 200
    scale_in_cooldown_seconds: int = 600
    scale_out_cooldown_seconds: int = 60
    data_capture_percent: int = 100
    canary_percent: int = 10
    canary_bake_seconds: int = 300
    termination_wait_seconds: int = 300
    rollback_5xx_errors: int = 1
    rollback_model_latency_ms: int = 1000
    serverless_memory_mb: int = 2048
    serverless_max_concurrency: int = 10
    async_max_concurrent_invocations: int = 4
    triton_image_version: str = "25.09"  # sagemaker-tritonserver image (URI from sagemaker.image_uris)
    powertools_layer_version: int = 27
    batch_transform: bool = True
    batch_instance_type: str = "ml.m5.large"
    batch_instance_count: int = 1

    # Heal: the retraining loop
    retraining_cooldown_hours: float = 6.0
    retraining_max_per_day: int = 2
    retraining_min_improvement: float = 0.0
    retraining_poll_seconds: int = 60
    retraining_retry_seconds: int = 2  # first wait of a task's retries (then x2 per attempt)
    retraining_timeout_hours: float = 6.0
    retraining_recheck_minutes: int = 60  # while the model-degraded alarm stays in ALARM, start the loop this often

    # Data retention and schedules
    capture_retention_days: int = 90
    access_log_retention_days: int = 365
    drift_check_rate_minutes: int = 60

    # Watch: monitoring
    # SageMaker Model Monitor "is no longer open to new customers" (AWS documentation notice): off by default, on for
    # accounts that have it. The drift function is the detector the retraining loop relies on either way.
    model_monitor_enabled: bool = False
    monitoring_instance_type: str = "ml.m5.large"
    ground_truth_prefix: str = "ground-truth"  # capture bucket prefix of ground-truth labels (model quality)
    drift_lookback_hours: int = 24  # capture files older than this are not analysed
    drift_min_rows: int = 100  # an event-triggered drift run with fewer new rows waits for the next run
    # MultivariateDriftAlarm: the window's PCA reconstruction error above this many times the training rows'
    multivariate_drift_ratio: float = 1.2

    # Governance: the readiness policy (prototype -> staging) and the model card
    readiness_majority_margin: float = 0.0  # accuracy must beat the majority-class accuracy by more than this
    readiness_contract_rows: int = 50  # holdout rows sent through the inference contract test
    model_risk_rating: Literal["low", "medium", "high", "unknown"] = "medium"

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features)

    @property
    def approved_package_parameter(self) -> str:
        """SSM parameter holding the model package the endpoint serves (the deploy path's desired state)."""
        return ssm_names.approved_package_parameter(self.project_name)

    @property
    def xgboost_hyperparameters(self) -> dict[str, Any]:
        """The XGBoost engine's hyperparameters, named as train_xgboost.py takes them."""
        return {
            "num_round": self.xgboost_num_round,
            "max_depth": self.xgboost_max_depth,
            "eta": self.xgboost_eta,
            "min_child_weight": self.xgboost_min_child_weight,
            "subsample": self.xgboost_subsample,
        }

    def resource_name(self, suffix: str) -> str:
        """A physical name for resources that need one (pipeline, model package group, feature group)."""
        return f"{self.project_name}-{suffix}"


_INSTANCE_TYPE = re.compile(r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")
_ACCOUNT = re.compile(r"^\d{12}$")
_NAME = re.compile(r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$")
_FEATURE_NAME = re.compile(r"^[a-zA-Z0-9]([-_]*[a-zA-Z0-9]){0,63}$")


def load_config(context: Mapping[str, Any] | None = None, overrides: Mapping[str, Any] | None = None) -> PlatformConfig:
    """Build the config from defaults, then the `platform` context mapping, then single-key overrides.

    `overrides` holds values as `-c key=value` delivers them (strings); they are parsed by the field's type.
    """
    values: dict[str, Any] = {}
    for source_name, source in (("cdk.json context 'platform'", context or {}), ("-c", overrides or {})):
        if not isinstance(source, Mapping):
            raise ConfigError(f"{source_name}: expected a mapping of config keys, got {type(source).__name__}")
        for key, raw in source.items():
            values[key] = _parse(key, raw)
    config = PlatformConfig(**values)
    _validate(config)
    return config


def config_from_app_context(try_get_context: Any) -> PlatformConfig:
    """Read the config from a CDK node's context (`node.try_get_context`)."""
    known = {f.name for f in fields(PlatformConfig)}
    overrides = {key: try_get_context(key) for key in known if try_get_context(key) is not None}
    return load_config(try_get_context(CONTEXT_KEY), overrides)


def _parse(key: str, raw: Any) -> Any:
    hints = get_type_hints(PlatformConfig)
    if key not in hints:
        raise ConfigError(f"unknown config key '{key}' (known keys: {', '.join(sorted(hints))})")
    hint = hints[key]
    try:
        if key == "features":
            return _parse_features(json.loads(raw) if isinstance(raw, str) else raw)
        if get_origin(hint) is Literal:
            if raw not in get_args(hint):
                raise ValueError(f"must be one of {', '.join(map(str, get_args(hint)))}")
            return raw
        if hint is bool:
            return _parse_bool(raw)
        if hint in (int, float):
            if isinstance(raw, bool):
                raise ValueError("must be a number")
            value = hint(raw)
            if hint is int and isinstance(raw, float) and raw != value:
                raise ValueError("must be a whole number")
            return value
        if hint is str:
            if not isinstance(raw, str):
                raise ValueError("must be a string")
            return raw
    except (TypeError, ValueError, json.JSONDecodeError) as exc:
        raise ConfigError(f"config key '{key}': invalid value {raw!r}: {exc}") from None
    raise ConfigError(f"config key '{key}': unsupported type {hint}")


def _parse_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if str(raw).lower() in ("true", "1", "yes"):
        return True
    if str(raw).lower() in ("false", "0", "no"):
        return False
    raise ValueError("must be true or false")


def _parse_features(raw: Any) -> tuple[FeatureSpec, ...]:
    if not isinstance(raw, list) or not raw:
        raise ValueError("must be a non-empty list of {name, type}")
    specs = []
    for i, item in enumerate(raw):
        if not isinstance(item, Mapping) or set(item) != {"name", "type"}:
            raise ValueError(f"item {i} must have exactly the keys 'name' and 'type'")
        if item["type"] not in get_args(FeatureType):
            raise ValueError(f"item {i} ('{item['name']}'): type must be one of {', '.join(get_args(FeatureType))}")
        specs.append(FeatureSpec(str(item["name"]), item["type"]))
    return tuple(specs)


def _validate(c: PlatformConfig) -> None:
    def check(ok: bool, key: str, why: str) -> None:
        if not ok:
            raise ConfigError(f"config key '{key}': {why} (got {getattr(c, key)!r})")

    check(bool(_NAME.match(c.project_name)), "project_name", "3-32 lowercase letters, digits or '-'")
    check(bool(_ACCOUNT.match(c.account)), "account", "must be a 12-digit AWS account id")
    check(bool(_REGION.match(c.region)), "region", "must be an AWS region such as us-east-1")
    check(0.0 < c.min_accuracy < 1.0, "min_accuracy", "must be between 0 and 1")
    check(c.drift_sigma > 0, "drift_sigma", "must be positive")
    check(c.psi_threshold > 0, "psi_threshold", "must be positive")
    check(0.05 <= c.holdout_fraction <= 0.5, "holdout_fraction", "must be between 0.05 and 0.5")
    check(bool(_FEATURE_NAME.match(c.target_column)), "target_column", "must be a valid feature name")
    names = [f.name for f in c.features]
    check(len(names) == len(set(names)), "features", "feature names must be unique")
    check(c.target_column not in names, "features", "must not contain the target column")
    for name in names:
        check(bool(_FEATURE_NAME.match(name)), "features", f"'{name}' is not a valid feature name")
    for key in ("processing_instance_type", "training_instance_type", "endpoint_instance_type", "batch_instance_type"):
        check(
            bool(_INSTANCE_TYPE.match(getattr(c, key))),
            key,
            "must be a SageMaker instance type like ml.m5.large",
        )
    counts = ("processing_instance_count", "training_instance_count", "endpoint_min_instances", "batch_instance_count")
    for key in counts:
        check(1 <= getattr(c, key) <= 100, key, "must be between 1 and 100")
    check(c.endpoint_max_instances >= c.endpoint_min_instances, "endpoint_max_instances", "must be >= min")
    check(0 <= c.data_capture_percent <= 100, "data_capture_percent", "must be between 0 and 100")
    check(1 <= c.canary_percent <= 50, "canary_percent", "must be between 1 and 50")
    check(60 <= c.canary_bake_seconds <= 3600, "canary_bake_seconds", "must be between 60 and 3600")
    check(0 <= c.termination_wait_seconds <= 3600, "termination_wait_seconds", "must be between 0 and 3600")
    check(c.invocations_per_instance_target >= 1, "invocations_per_instance_target", "must be at least 1")
    check(c.rollback_5xx_errors >= 1, "rollback_5xx_errors", "must be at least 1")
    check(c.rollback_model_latency_ms >= 1, "rollback_model_latency_ms", "must be at least 1")
    check(c.serverless_memory_mb in (1024, 2048, 3072, 4096, 5120, 6144), "serverless_memory_mb", "1024..6144 by 1024")
    check(1 <= c.serverless_max_concurrency <= 200, "serverless_max_concurrency", "must be between 1 and 200")
    check(c.async_max_concurrent_invocations >= 1, "async_max_concurrent_invocations", "must be at least 1")
    check(c.powertools_layer_version >= 1, "powertools_layer_version", "must be a published layer version")
    check(0 <= c.retraining_cooldown_hours <= 168, "retraining_cooldown_hours", "must be between 0 and 168")
    check(1 <= c.retraining_max_per_day <= 24, "retraining_max_per_day", "must be between 1 and 24")
    check(0 <= c.retraining_min_improvement < 1, "retraining_min_improvement", "must be in [0, 1)")
    check(1 <= c.retraining_poll_seconds <= 3600, "retraining_poll_seconds", "must be between 1 and 3600")
    check(1 <= c.retraining_retry_seconds <= 300, "retraining_retry_seconds", "must be between 1 and 300")
    check(0.1 <= c.retraining_timeout_hours <= 48, "retraining_timeout_hours", "must be between 0.1 and 48")
    check(5 <= c.retraining_recheck_minutes <= 1440, "retraining_recheck_minutes", "must be between 5 and 1440")
    check(c.capture_retention_days >= 1, "capture_retention_days", "must be at least 1")
    check(c.access_log_retention_days >= 1, "access_log_retention_days", "must be at least 1")
    check(1 <= c.drift_check_rate_minutes <= 1440, "drift_check_rate_minutes", "must be between 1 and 1440")
    # Watch: monitoring
    check(bool(_INSTANCE_TYPE.match(c.monitoring_instance_type)), "monitoring_instance_type", "like ml.m5.large")
    check(bool(re.match(r"^[a-z][a-z-]{0,62}$", c.ground_truth_prefix)), "ground_truth_prefix", "lowercase, '-'")
    check(1 <= c.drift_lookback_hours <= 168, "drift_lookback_hours", "must be between 1 and 168")
    check(c.drift_min_rows >= 1, "drift_min_rows", "must be at least 1")
    check(c.multivariate_drift_ratio > 1.0, "multivariate_drift_ratio", "must be above 1 (1 = no change)")
    # Data larger than memory
    check(1_000 <= c.preprocess_chunk_rows <= 10_000_000, "preprocess_chunk_rows", "must be between 1000 and 10000000")
    check(1 <= c.train_shard_count <= 10_000, "train_shard_count", "must be between 1 and 10000")
    check(
        c.train_shard_count >= c.training_instance_count,
        "train_shard_count",
        f"must be >= training_instance_count ({c.training_instance_count}): every training instance needs a shard",
    )
    check(1 <= c.feature_ingest_batch_size <= 10_000, "feature_ingest_batch_size", "must be between 1 and 10000")
    # Governance
    check(0 <= c.readiness_majority_margin < 1, "readiness_majority_margin", "must be in [0, 1)")
    check(1 <= c.readiness_contract_rows <= 10000, "readiness_contract_rows", "must be between 1 and 10000")
    # Training engine
    check(bool(re.match(r"^\d+\.\d+-\d+$", c.xgboost_framework_version)), "xgboost_framework_version", "like 3.0-5")
    check(1 <= c.xgboost_num_round <= 10000, "xgboost_num_round", "must be between 1 and 10000")
    check(1 <= c.xgboost_max_depth <= 20, "xgboost_max_depth", "must be between 1 and 20")
    check(0 < c.xgboost_eta <= 1, "xgboost_eta", "must be in (0, 1]")
    check(c.xgboost_min_child_weight >= 0, "xgboost_min_child_weight", "must be at least 0")
    check(0 < c.xgboost_subsample <= 1, "xgboost_subsample", "must be in (0, 1]")
    check(
        c.training_engine == "xgboost" or c.training_instance_count == 1,
        "training_instance_count",
        "more than 1 needs training_engine 'xgboost' (the sklearn engine trains on one instance)",
    )
    # Serving on Triton: the FIL backend serves tree models, so only the XGBoost engine's models qualify.
    check(
        c.serving_mode != modes.TRITON or c.training_engine == "xgboost",
        "serving_mode",
        "'triton' serves XGBoost models: it needs training_engine 'xgboost'",
    )
    # The XGBoost engine's packages are served in script mode (inference.py), and the SageMaker XGBoost container
    # refuses a multi-model endpoint in script mode ("Multi model not supported in script mode.",
    # aws/sagemaker-xgboost-container src/sagemaker_xgboost_container/serving_mms.py); only its built-in
    # algorithm mode supports multi-model endpoints (https://docs.aws.amazon.com/sagemaker/latest/dg/multi-model-support.html).
    check(
        c.serving_mode != modes.MULTI_MODEL or c.training_engine != "xgboost",
        "serving_mode",
        "'multi_model' cannot serve training_engine 'xgboost': the SageMaker XGBoost container refuses multi-model "
        "endpoints in script mode; use 'triton' (XGBoost on a Triton multi-model endpoint) or another mode",
    )
    check(bool(re.match(r"^\d{2}\.\d{2}$", c.triton_image_version)), "triton_image_version", "like 25.09")
    check(
        bool(re.match(r"^\d+\.\d+-\d+$", c.sklearn_framework_version)),
        "sklearn_framework_version",
        "like 1.2-1",
    )


def as_dict(config: PlatformConfig) -> dict[str, Any]:
    """The effective config as plain JSON-able data (for lineage and the README)."""
    return dataclasses.asdict(config)


def config_sha256(config: PlatformConfig) -> str:
    """sha256 of the effective config as canonical JSON (sorted keys): equal configs, equal digests."""
    text = json.dumps(as_dict(config), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()
