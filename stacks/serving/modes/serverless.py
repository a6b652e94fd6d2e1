"""serving_mode "serverless": the approved package on a serverless variant (no instances, no data capture)."""

from __future__ import annotations

from typing import Any

from aws_cdk import aws_sagemaker as sagemaker

from stacks.serving.modes.model_container import ModelContainerMode


class ServerlessMode(ModelContainerMode):
    def _variant(self) -> dict[str, Any]:
        config = self.props.config
        return {
            "serverless_config": sagemaker.CfnEndpointConfig.ServerlessConfigProperty(
                memory_size_in_mb=config.serverless_memory_mb, max_concurrency=config.serverless_max_concurrency
            )
        }

    def _endpoint_config_extras(self) -> dict[str, Any]:
        # Serverless endpoints have no instance volume to encrypt, and do not support data capture: the drift
        # monitor then has no input (docs/serving-modes.md).
        return {}
