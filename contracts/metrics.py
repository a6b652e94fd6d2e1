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

# The deploy function: 1 when the endpoint serves another EndpointConfig than the serving stack's.
LIVE_CONFIG_MISMATCH = "LiveConfigMismatch"
