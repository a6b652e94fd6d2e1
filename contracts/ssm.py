"""SSM parameter names: created by the stacks, read and written by the Lambda functions (which get the names in
their environment), the smoke test and the twin."""


def approved_package_parameter(project: str) -> str:
    """The model package the endpoint serves (the deploy path's desired state)."""
    return f"/{project}/serving/approved-model-package-arn"


def pending_package_parameter(project: str) -> str:
    """Where the deploy function parks an approval that arrives while the serving stack is updating."""
    return f"/{project}/serving/pending-model-package-arn"


def triton_live_model_parameter(project: str) -> str:
    """The Triton endpoint's live TargetModel (the deploy function writes it)."""
    return f"/{project}/serving/triton-target-model"
