"""DataStack: encryption, versioning, TLS-only, no public access, access logs, retention, the Feature Group."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Match, Template

from pipeline_code import feature_ingest
from platform_config.platform import load_config
from stacks import data_stack

DATA_BUCKETS = ("RawData", "Artifacts", "DataCapture", "FeatureStore")


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def _bucket(template: dict[str, Any], prefix: str) -> dict[str, Any]:
    (bucket,) = [v for k, v in _resources(template, "AWS::S3::Bucket").items() if k.startswith(prefix)]
    return bucket


def test_key_rotates_and_is_retained(synthesized) -> None:
    template = Template.from_json(synthesized.template("-data"))
    template.has_resource("AWS::KMS::Key", {"Properties": {"EnableKeyRotation": True}, "DeletionPolicy": "Retain"})


def test_data_buckets_are_kms_encrypted_versioned_private_logged_and_retained(synthesized) -> None:
    template = synthesized.template("-data")
    (key_id,) = _resources(template, "AWS::KMS::Key")
    for name in DATA_BUCKETS:
        bucket = _bucket(template, name)
        props = bucket["Properties"]
        rule = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
        assert rule == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": {"Fn::GetAtt": [key_id, "Arn"]}}, name
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}, name
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }, name
        assert props["LoggingConfiguration"]["LogFilePrefix"] == f"{name}/", name
        assert bucket["DeletionPolicy"] == "Retain" and bucket["UpdateReplacePolicy"] == "Retain", name


def test_every_bucket_denies_plain_http(synthesized) -> None:
    template = synthesized.template("-data")
    buckets = _resources(template, "AWS::S3::Bucket")
    policies = _resources(template, "AWS::S3::BucketPolicy").values()
    secured = set()
    for policy in policies:
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Effect"] == "Deny" and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}:
                secured.add(policy["Properties"]["Bucket"]["Ref"])
    assert secured == set(buckets)


def test_capture_data_expires_after_the_configured_retention(synthesized) -> None:
    rules = _bucket(synthesized.template("-data"), "DataCapture")["Properties"]["LifecycleConfiguration"]["Rules"]
    assert rules[0]["ExpirationInDays"] == load_config().capture_retention_days
    assert rules[0]["Transitions"][0]["StorageClass"] == "STANDARD_IA"


def test_feature_group_schema_comes_from_config(synthesized) -> None:
    template = Template.from_json(synthesized.template("-data"))
    config = load_config()
    expected = [
        {"FeatureName": "record_id", "FeatureType": "String"},
        {"FeatureName": "event_time", "FeatureType": "String"},
        *({"FeatureName": f.name, "FeatureType": f.type} for f in config.features),
        {"FeatureName": config.target_column, "FeatureType": "String"},
    ]
    template.has_resource_properties(
        "AWS::SageMaker::FeatureGroup",
        {
            "FeatureDefinitions": expected,
            "RecordIdentifierFeatureName": "record_id",
            "EventTimeFeatureName": "event_time",
            "OnlineStoreConfig": {
                "EnableOnlineStore": True,
                "SecurityConfig": {"KmsKeyId": Match.any_value()},
            },
            "OfflineStoreConfig": Match.object_like(
                {"S3StorageConfig": Match.object_like({"KmsKeyId": Match.any_value()})}
            ),
        },
    )


def test_record_columns_match_what_preprocess_writes() -> None:
    assert (data_stack.RECORD_ID, data_stack.EVENT_TIME) == (
        feature_ingest.RECORD_ID,
        feature_ingest.EVENT_TIME,
    )
