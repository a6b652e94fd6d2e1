"""The retraining state machine's payloads: what the ASL (stacks/retraining_stack.py) sends each task and reads
from its result, and what the handlers (lambdas/retrain_*) read and return."""


def path(*keys: str) -> str:
    """A JSONPath into the state (`path(PIPELINE, STATUS)` -> `$.pipeline.status`)."""
    return "$." + ".".join(keys)


# Where each task's result goes in the state (its ResultPath).
GUARD = "guard"
PIPELINE = "pipeline"
COMPARISON = "comparison"
APPROVAL = "approval"
DEPLOYMENT = "deployment"
ERROR = "error"

# retrain_guard: {"action": ACQUIRE | RELEASE, "execution": name} -> {"proceed": bool, "reason": str}
ACTION = "action"
ACQUIRE = "acquire"
RELEASE = "release"
EXECUTION = "execution"
PROCEED = "proceed"
REASON = "reason"

# retrain_start_pipeline passes the champion's model data to the build pipeline as this pipeline parameter
# (pipeline_definition/steps.py declares it; the evaluate step scores champion and challenger on one holdout set).
CHAMPION_MODEL_PARAMETER = "ChampionModelDataUri"

# retrain_start_pipeline: {"execution"} -> {"pipeline_execution_arn"};
# retrain_check_pipeline: {"pipeline_execution_arn"} -> {"status", "pipeline_execution_arn", "model_package_arn",
# "failure_reason"}, status being SageMaker's PipelineExecutionStatus.
PIPELINE_EXECUTION_ARN = "pipeline_execution_arn"
STATUS = "status"
MODEL_PACKAGE_ARN = "model_package_arn"
FAILURE_REASON = "failure_reason"
EXECUTING = "Executing"
SUCCEEDED = "Succeeded"

# retrain_compare: {"model_package_arn"} -> {"better": bool, "reason": str, ...};
# retrain_set_approval: {"model_package_arn", "approve": bool, "reason"}.
BETTER = "better"
APPROVE = "approve"
