"""Whether an event changes what the endpoint serves: pure logic, no AWS.

The serving stack resolves the package to serve from an SSM parameter (the desired state). Deploying means
writing the package ARN there and updating the stack. So a package is deployed only if the registry says it is
Approved in the project's own group, and not again if the stack already resolved it (what the stack resolved,
not the desired state: a desired state written for an update that CloudFormation then refused must not hide the
package from the retry). An Approved package whose metadata lacks complete lineage or a passed readiness verdict
is refused (the handler sets it back to Rejected with the reason): a manual approval cannot skip the readiness
gate. While the stack is being updated nothing is written to the desired state: the package waits (the handler
parks it and applies it when the stack settles; a blue/green update outlasts Lambda's asynchronous retries).
When an update rolls back (a blue/green deployment whose alarms fired), the desired state is reset to what the
stack serves, so a later `cdk deploy` does not try the failed package again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from contracts import events as ev
from contracts import serving as modes
from contracts.package_metadata import TRITON_MODEL_DATA_URI as TRITON_METADATA_KEY
from lambdas.shared.readiness_gate import refusal

APPROVED = ev.APPROVED  # the registry's ModelApprovalStatus, as the ModelApproved rule matches it
ROLLED_BACK = ev.UPDATE_ROLLBACK_COMPLETE
UPDATED = ev.UPDATE_COMPLETE
SETTLED = frozenset({UPDATED, ROLLED_BACK})  # the stack statuses after which the function looks again


class MalformedEvent(ValueError):
    """The event is not one this function can act on; the message names the field."""


@dataclass(frozen=True)
class Decision:
    action: Literal["deploy", "skip", "wait", "refuse", "reset"]
    package_arn: str
    reason: str


def event_kind(event: Any) -> Literal["approval", "stack_status"]:
    """An approval, or a stack status change (a look at the settled stack)."""
    if not isinstance(event, dict):
        raise MalformedEvent("event: expected a JSON object")
    kind = event.get(ev.DETAIL_TYPE)
    if kind == ev.MODEL_PACKAGE_STATE_CHANGE:
        return "approval"
    if kind == ev.STACK_STATUS_CHANGE:
        return "stack_status"
    raise MalformedEvent(f"event.detail-type: unsupported value {kind!r}")


def package_arn_from_event(event: dict[str, Any]) -> str:
    """The model package ARN of an EventBridge 'SageMaker Model Package State Change' event."""
    detail = event.get(ev.DETAIL)
    if not isinstance(detail, dict):
        raise MalformedEvent("event.detail: missing or not an object")
    arn = detail.get(ev.MODEL_PACKAGE_ARN)
    if not isinstance(arn, str) or ":model-package/" not in arn:
        raise MalformedEvent(f"event.detail.ModelPackageArn: not a model package ARN ({arn!r})")
    return arn


def stack_status_from_event(event: dict[str, Any]) -> str:
    detail = event.get(ev.DETAIL)
    status = detail.get(ev.STATUS_DETAILS, {}).get(ev.STATUS) if isinstance(detail, dict) else None
    if not isinstance(status, str):
        raise MalformedEvent("event.detail.status-details.status: missing")
    return status


def decide(package: dict[str, Any], expected_group: str, served_arn: str, stack_status: str) -> Decision:
    """Decide from the package as the registry describes it now (not as the event said) and what the stack
    resolved at its last update (`served_arn`)."""
    arn = package["ModelPackageArn"]
    group = package.get("ModelPackageGroupName")
    status = package.get("ModelApprovalStatus")
    if group != expected_group:
        return Decision("skip", arn, f"package belongs to group {group!r}, not {expected_group!r}")
    if status != APPROVED:
        return Decision("skip", arn, f"package status is {status!r}, not {APPROVED!r}")
    if served_arn == arn:
        return Decision("skip", arn, "the stack already serves this package")
    # A manual approval is checked like the retraining loop's: lineage complete and readiness passed.
    refused = refusal(arn, package.get("CustomerMetadataProperties"))
    if refused:
        return Decision("refuse", arn, refused)
    if stack_status.endswith("_IN_PROGRESS"):
        return Decision("wait", arn, f"serving stack is {stack_status}; deploy after it settles")
    return Decision("deploy", arn, f"replacing {served_arn!r}")


# serving_mode "triton": an approved package's Triton archive is copied under the endpoint's multi-model prefix.


class NotServable(ValueError):
    """The package cannot be served in this serving mode (not retryable); the message names the field."""


@dataclass(frozen=True)
class CopyPlan:
    """Copy `source` to `target` (bucket, key); `target_model` is the TargetModel clients send."""

    source_bucket: str
    source_key: str
    target_bucket: str
    target_key: str
    target_model: str


def triton_copy_plan(package: dict[str, Any], prefix_url: str) -> CopyPlan:
    """Where the package's Triton archive goes: `<prefix>/<group>-v<version>.tar.gz` (one archive per version)."""
    arn = package["ModelPackageArn"]
    uri = (package.get("CustomerMetadataProperties") or {}).get(TRITON_METADATA_KEY)
    if not isinstance(uri, str) or not _is_s3_object(uri) or not uri.endswith(".tar.gz"):
        raise NotServable(
            f"package {arn}: CustomerMetadataProperties.{TRITON_METADATA_KEY} is {uri!r}, not an s3://.../*.tar.gz "
            f"archive (register the model with serving_mode '{modes.TRITON}')"
        )
    group = package.get("ModelPackageGroupName") or arn.split(":model-package/", 1)[1].split("/", 1)[0]
    version = package.get("ModelPackageVersion") or arn.rsplit("/", 1)[1]
    if not str(version).isdigit():
        raise NotServable(f"package {arn}: ModelPackageVersion {version!r} is not a number")
    if not _is_s3_object(prefix_url.rstrip("/") + "/x"):
        raise NotServable(f"Triton model prefix {prefix_url!r} is not an s3:// location")
    source_bucket, source_key = uri[len("s3://") :].split("/", 1)
    target_bucket, _, prefix = prefix_url[len("s3://") :].partition("/")
    target_model = f"{group}-v{int(version)}.tar.gz"
    key = f"{prefix.strip('/')}/{target_model}" if prefix.strip("/") else target_model
    return CopyPlan(source_bucket, source_key, target_bucket, key, target_model)


def _is_s3_object(uri: str) -> bool:
    bucket, _, key = uri[len("s3://") :].partition("/") if uri.startswith("s3://") else ("", "", "")
    return bool(bucket) and bool(key)
