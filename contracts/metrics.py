"""CloudWatch metrics the functions publish and the stacks alarm on: namespaces, names, dimensions."""


def drift_namespace(project: str) -> str:
    """The drift monitor's metrics (EMF, through Powertools)."""
    return f"{project}/drift"


def deploy_namespace(project: str) -> str:
    """The deploy function's live-config check."""
    return f"{project}/deploy"


# Dimensions: every drift metric carries ENDPOINT_NAME and Powertools' SERVICE (the function's folder); per-feature
# metrics carry FEATURE too. The deploy function's metric carries ENDPOINT_NAME.
ENDPOINT_NAME = "EndpointName"
FEATURE = "Feature"
SERVICE = "service"

# The drift monitor's metrics (lambdas/drift_monitor/drift_metrics.py computes them).
MEAN_SHIFT_SIGMA = "MeanShiftSigma"
PSI = "PSI"
KS = "KS"
LABEL_SHIFT = "LabelShiftLinf"
ROWS = "RowsAnalyzed"
OBJECTS = "CaptureObjectsProcessed"
MALFORMED = "MalformedRecords"
DRIFTED = "DriftedFeatures"
BASELINE_MISSING = "BaselineMissing"
ACCURACY = "Accuracy"
GROUND_TRUTH_MATCHED = "GroundTruthMatched"
GROUND_TRUTH_UNMATCHED = "GroundTruthUnmatched"
ESTIMATED_ACCURACY = "EstimatedAccuracy"  # CBPE: from the calibrated probabilities, no labels needed
ESTIMATED_ACCURACY_STDERR = "EstimatedAccuracyStdErr"
MULTIVARIATE_ERROR = "MultivariateReconstructionError"  # PCA reconstruction error of the window's rows
MULTIVARIATE_RATIO = "MultivariateDriftRatio"  # ... against the training rows' (1.0 = no change)

# SageMaker Model Monitor's namespaces (the monitoring stack alarms on them) and its model-quality metric for a
# binary classifier (https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-model-quality-metrics.html).
MODEL_MONITOR_DATA_NAMESPACE = "aws/sagemaker/Endpoints/data-metrics"
MODEL_MONITOR_MODEL_NAMESPACE = "aws/sagemaker/Endpoints/model-metrics"
MODEL_MONITOR_ACCURACY = "accuracy"

# The deploy function: 1 when the endpoint serves another EndpointConfig than the serving stack's.
LIVE_CONFIG_MISMATCH = "LiveConfigMismatch"
