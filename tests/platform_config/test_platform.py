"""The typed config: defaults in one place, context overrides, and errors that name the key."""

from __future__ import annotations

import pytest

from platform_config.platform import ConfigError, FeatureSpec, PlatformConfig, config_from_app_context, load_config


def test_defaults_are_the_product_defaults() -> None:
    config = load_config()
    assert config.min_accuracy == 0.85
    assert config.account == "111111111111"
    assert config.feature_names == ("student", "balance", "income")
    assert config.model_approval_status == "PendingManualApproval"


def test_context_mapping_then_single_key_overrides() -> None:
    config = load_config({"min_accuracy": 0.9, "region": "eu-west-1"}, {"min_accuracy": "0.95"})
    assert config.min_accuracy == 0.95  # -c wins over cdk.json
    assert config.region == "eu-west-1"


def test_features_override_as_json_string() -> None:
    config = load_config(overrides={"features": '[{"name": "age", "type": "Integral"}]'})
    assert config.features == (FeatureSpec("age", "Integral"),)


def test_app_context_reader_uses_both_sources() -> None:
    context = {"platform": {"drift_sigma": 2.5}, "endpoint_max_instances": "8"}
    config = config_from_app_context(context.get)
    assert (config.drift_sigma, config.endpoint_max_instances) == (2.5, 8)


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"min_accuracy": "1.5"}, "min_accuracy"),
        ({"min_accuracy": "high"}, "min_accuracy"),
        ({"region": "moon-1"}, "region"),
        ({"account": "123"}, "account"),
        ({"training_instance_type": "m5.large"}, "training_instance_type"),
        ({"endpoint_min_instances": "3", "endpoint_max_instances": "2"}, "endpoint_max_instances"),
        ({"processing_instance_count": "1.5"}, "processing_instance_count"),
        ({"model_approval_status": "Maybe"}, "model_approval_status"),
        ({"features": '[{"name": "default", "type": "String"}]'}, "features"),
        ({"features": '[{"name": "x", "type": "Float"}]'}, "features"),
        ({"no_such_key": "1"}, "no_such_key"),
        ({"preprocess_chunk_rows": "10"}, "preprocess_chunk_rows"),
        ({"feature_ingest_batch_size": "0"}, "feature_ingest_batch_size"),
        ({"retraining_retry_seconds": "0"}, "retraining_retry_seconds"),
        ({"retraining_retry_seconds": "301"}, "retraining_retry_seconds"),
        ({"training_engine": "xgboost", "training_instance_count": "3", "train_shard_count": "2"}, "train_shard_count"),
    ],
)
def test_invalid_values_fail_naming_the_key(overrides: dict[str, str], key: str) -> None:
    with pytest.raises(ConfigError, match=f"'{key}'"):
        load_config(overrides=overrides)


def test_config_is_immutable() -> None:
    with pytest.raises(AttributeError):
        PlatformConfig().min_accuracy = 0.1  # type: ignore[misc]
