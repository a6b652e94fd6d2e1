"""The framework images the pipeline's jobs and models run in, from the SDK's own region table (no hand-kept map),
kept in the SDK build cache (pipeline_definition/sdk_cache.py): a synth or a local pipeline run whose URIs are
cached does not import the SDK."""

from __future__ import annotations

from pipeline_definition.sdk_cache import cached
from pipeline_definition.spec import PipelineSpec


def sklearn_image_uri(region: str, framework_version: str) -> str:
    """The SageMaker scikit-learn image for a region."""
    return cached("sklearn-image", [region, framework_version], lambda: _retrieve("sklearn", region, framework_version))


def xgboost_image_uri(region: str, framework_version: str) -> str:
    """The SageMaker XGBoost framework image for a region."""
    return cached("xgboost-image", [region, framework_version], lambda: _retrieve("xgboost", region, framework_version))


def _retrieve(framework: str, region: str, framework_version: str) -> str:
    from sagemaker import image_uris

    return str(image_uris.retrieve(framework, region, version=framework_version))


def model_image_uri(spec: PipelineSpec) -> str:
    """The image that evaluates and serves the trained model: the training engine's framework image."""
    if spec.training_engine == "xgboost":
        return xgboost_image_uri(spec.region, spec.xgboost_framework_version)
    return sklearn_image_uri(spec.region, spec.framework_version)
