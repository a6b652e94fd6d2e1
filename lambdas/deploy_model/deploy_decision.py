"""Whether an event changes what the endpoint serves: pure logic, no AWS.

The serving stack resolves the package to serve from an SSM parameter (the desired state). Deploying means
writing the package ARN there and updating the stack. So a package is deployed only if the registry says it is
Approved in the project's own group, and not again if it already is the desired state (the same approval twice
deploys once). While the stack is being updated nothing is written: the event is retried later. When an update
rolls back (a blue/green deployment whose alarms fired), the desired state is reset to what the stack serves, so
a later `cdk deploy` does not try the failed package again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

APPROVED = "Approved"
NO_MODEL = "none"
ROLLED_BACK = "UPDATE_ROLLBACK_COMPLETE"


class MalformedEvent(ValueError):
    """The event is not one this function can act on; the message names the field."""


@dataclass(frozen=True)
class Decision:
    action: Literal["deploy", "skip", "retry"]
    package_arn: str
    reason: str


def event_kind(event: Any) -> Literal["approval", "stack_status"]:
    if not isinstance(event, dict):
        raise MalformedEvent("event: expected a JSON object")
    kind = event.get("detail-type")
    if kind == "SageMaker Model Package State Change":
        return "approval"
    if kind == "CloudFormation Stack Status Change":
        return "stack_status"
    raise MalformedEvent(f"event.detail-type: unsupported value {kind!r}")


def package_arn_from_event(event: dict[str, Any]) -> str:
    """The model package ARN of an EventBridge 'SageMaker Model Package State Change' event."""
    detail = event.get("detail")
    if not isinstance(detail, dict):
        raise MalformedEvent("event.detail: missing or not an object")
    arn = detail.get("ModelPackageArn")
    if not isinstance(arn, str) or ":model-package/" not in arn:
        raise MalformedEvent(f"event.detail.ModelPackageArn: not a model package ARN ({arn!r})")
    return arn


def stack_status_from_event(event: dict[str, Any]) -> str:
    detail = event.get("detail")
    status = detail.get("status-details", {}).get("status") if isinstance(detail, dict) else None
    if not isinstance(status, str):
        raise MalformedEvent("event.detail.status-details.status: missing")
    return status


def decide(package: dict[str, Any], expected_group: str, desired_arn: str, stack_status: str) -> Decision:
    """Decide from the package as the registry describes it now (not as the event said) and the desired state."""
    arn = package["ModelPackageArn"]
    group = package.get("ModelPackageGroupName")
    status = package.get("ModelApprovalStatus")
    if group != expected_group:
        return Decision("skip", arn, f"package belongs to group {group!r}, not {expected_group!r}")
    if status != APPROVED:
        return Decision("skip", arn, f"package status is {status!r}, not {APPROVED!r}")
    if desired_arn == arn:
        return Decision("skip", arn, "package is already the deployed (or deploying) one")
    if stack_status.endswith("_IN_PROGRESS"):
        return Decision("retry", arn, f"serving stack is {stack_status}; deploy after it settles")
    return Decision("deploy", arn, f"replacing {desired_arn!r}")
