"""MLflow logging for the step scripts, used only when MLFLOW_TRACKING_URI is set.

In AWS the URI is the ARN of the SageMaker managed MLflow tracking server (the `sagemaker-mlflow` plugin, listed in
the training requirements, resolves it); offline it is a local sqlite store.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

DEFAULT_EXPERIMENT = "mlops-platform"


def log_training_run(environ: Mapping[str, str], params: Mapping[str, Any], metrics: Mapping[str, float]) -> str | None:
    """Log one run; returns its id, or None when tracking is not configured."""
    uri = environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        return None
    import mlflow

    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment(environ.get("MLFLOW_EXPERIMENT_NAME", DEFAULT_EXPERIMENT))
    with mlflow.start_run(run_name=environ.get("MLFLOW_RUN_NAME")) as run:
        mlflow.log_params({k: str(v) for k, v in params.items()})
        mlflow.log_metrics({k: v for k, v in metrics.items() if v == v})  # NaN (no CV possible) is not logged
        return str(run.info.run_id)


def log_evaluation(environ: Mapping[str, str], run_id: str | None, metrics: Mapping[str, float]) -> bool:
    """Add holdout metrics to the training run; False when tracking is off or mlflow is not installed."""
    uri = environ.get("MLFLOW_TRACKING_URI")
    if not uri or not run_id:
        return False
    try:
        import mlflow
    except ImportError:  # the processing container has no mlflow unless installed; evaluation.json still holds it
        return False
    mlflow.set_tracking_uri(uri)
    client = mlflow.MlflowClient()
    for key, value in metrics.items():
        if value == value:
            client.log_metric(run_id, key, float(value))
    return True
