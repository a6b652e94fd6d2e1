"""Data capture of an endpoint's requests and responses into the capture bucket (the drift monitor's input)."""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker

from platform_config.platform import PlatformConfig
from stacks.serving.names import CAPTURE_PREFIX


def data_capture(
    config: PlatformConfig,
    key: kms.IKey,
    capture_bucket: s3.IBucket,
    role: iam.IRole,
    csv_content_types: tuple[str, ...] = ("text/csv",),
) -> sagemaker.CfnEndpointConfig.DataCaptureConfigProperty:
    """KMS-encrypted capture of requests and responses into the capture bucket, written as the model's role."""
    capture_bucket.grant_read_write(role, f"{CAPTURE_PREFIX}/*")
    return sagemaker.CfnEndpointConfig.DataCaptureConfigProperty(
        enable_capture=config.data_capture_percent > 0,
        initial_sampling_percentage=max(config.data_capture_percent, 1),
        destination_s3_uri=capture_bucket.s3_url_for_object(CAPTURE_PREFIX),
        kms_key_id=key.key_arn,
        capture_options=[
            sagemaker.CfnEndpointConfig.CaptureOptionProperty(capture_mode="Input"),
            sagemaker.CfnEndpointConfig.CaptureOptionProperty(capture_mode="Output"),
        ],
        capture_content_type_header=sagemaker.CfnEndpointConfig.CaptureContentTypeHeaderProperty(
            csv_content_types=list(csv_content_types) or None, json_content_types=["application/json"]
        ),
    )
