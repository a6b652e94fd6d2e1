"""The framework images the pipeline's jobs and models run in, from the SDK's own region table (no hand-kept map)."""

from __future__ import annotations

from pipeline_definition.spec import PipelineSpec


def sklearn_image_uri(region: str, framework_version: str) -> str:
    """The SageMaker scikit-learn image for a region."""
    from sagemaker import image_uris

    return str(image_uris.retrieve("sklearn", region, version=framework_version))


def xgboost_image_uri(region: str, framework_version: str) -> str:
    """The SageMaker XGBoost framework image for a region."""
    from sagemaker import image_uris

    return str(image_uris.retrieve("xgboost", region, version=framework_version))


def model_image_uri(spec: PipelineSpec) -> str:
    """The image that evaluates and serves the trained model: the training engine's framework image."""
    if spec.training_engine == "xgboost":
        return xgboost_image_uri(spec.region, spec.xgboost_framework_version)
    return sklearn_image_uri(spec.region, spec.framework_version)
