"""serving_mode "async": the approved package on instances, answering into S3 with SNS notifications."""

from __future__ import annotations

from typing import Any

from aws_cdk import aws_sagemaker as sagemaker

from stacks.serving.modes.model_container import ModelContainerMode
from stacks.serving.names import ASYNC_PREFIX


class AsyncMode(ModelContainerMode):
    def _endpoint_config_extras(self) -> dict[str, Any]:
        props = self.props
        extras = super()._endpoint_config_extras()
        props.capture_bucket.grant_read_write(props.model_role, f"{ASYNC_PREFIX}/*")
        props.notifications.grant_publish(props.model_role)
        extras["async_inference_config"] = sagemaker.CfnEndpointConfig.AsyncInferenceConfigProperty(
            output_config=sagemaker.CfnEndpointConfig.AsyncInferenceOutputConfigProperty(
                s3_output_path=props.capture_bucket.s3_url_for_object(f"{ASYNC_PREFIX}/output"),
                s3_failure_path=props.capture_bucket.s3_url_for_object(f"{ASYNC_PREFIX}/failure"),
                kms_key_id=props.key.key_arn,
                notification_config=sagemaker.CfnEndpointConfig.AsyncInferenceNotificationConfigProperty(
                    success_topic=props.notifications.topic_arn, error_topic=props.notifications.topic_arn
                ),
            ),
            client_config=sagemaker.CfnEndpointConfig.AsyncInferenceClientConfigProperty(
                max_concurrent_invocations_per_instance=props.config.async_max_concurrent_invocations
            ),
        )
        return extras
