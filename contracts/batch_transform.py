"""Batch transform: where its files are in the capture bucket (the serving stack's event rule and grants, the batch
transform function, the twin) and how the function names the models and jobs it creates (the stack's IAM policy
allows only these names)."""

ROOT = "batch/"
# A file under batch/input/<batch>/ starts a transform job; its results are written under batch/output/<batch>/.
INPUT_PREFIX = ROOT + "input/"
OUTPUT_PREFIX = ROOT + "output/"
JOB_NAME_INFIX = "-batch-"


def job_name(name_prefix: str, digest: str) -> str:
    """The name of the model and the transform job of one (batch, package) (`digest` "*": the IAM pattern)."""
    return f"{name_prefix}{JOB_NAME_INFIX}{digest}"
