"""The deploy decision, pure: only Approved packages of our group, once, never during a stack update."""

from __future__ import annotations

from importlib import import_module

import pytest

from tests.lambdas.packages import READY

decision = import_module("lambdas.deploy_model.deploy_decision")
ARN = "arn:aws:sagemaker:us-east-1:111111111111:model-package/mlops-models/3"


def package(status: str = "Approved", group: str = "mlops-models", metadata: dict | None = READY) -> dict:
    described = {"ModelPackageArn": ARN, "ModelPackageGroupName": group, "ModelApprovalStatus": status}
    return {**described, "CustomerMetadataProperties": metadata} if metadata is not None else described


@pytest.mark.parametrize(
    ("pkg", "desired", "stack", "action"),
    [
        (package(), "none", "CREATE_COMPLETE", "deploy"),
        (package(), "arn:older", "UPDATE_ROLLBACK_COMPLETE", "deploy"),
        (package("PendingManualApproval"), "none", "CREATE_COMPLETE", "skip"),
        (package("Rejected"), "none", "CREATE_COMPLETE", "skip"),
        (package(group="other"), "none", "CREATE_COMPLETE", "skip"),
        (package(), ARN, "UPDATE_COMPLETE", "skip"),
        (package(), "arn:older", "UPDATE_IN_PROGRESS", "wait"),
        # Approved but not ready (or no governance metadata at all): refused, even while the stack is busy.
        (package(metadata={**READY, "readiness_verdict": "not_ready"}), "none", "CREATE_COMPLETE", "refuse"),
        (package(metadata=None), "arn:older", "UPDATE_IN_PROGRESS", "refuse"),
        (package(metadata={**READY, "lineage_complete": "false"}), "none", "CREATE_COMPLETE", "refuse"),
        # Not approved: nothing to check.
        (package("PendingManualApproval", metadata=None), "none", "CREATE_COMPLETE", "skip"),
    ],
)
def test_decide(pkg: dict, desired: str, stack: str, action: str) -> None:
    assert decision.decide(pkg, "mlops-models", desired, stack).action == action


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ([], "event"),
        ({"detail-type": "Something Else"}, "event.detail-type"),
    ],
)
def test_unknown_events_name_the_field(event: object, field: str) -> None:
    with pytest.raises(decision.MalformedEvent, match=field):
        decision.event_kind(event)


def test_approval_event_needs_a_package_arn() -> None:
    with pytest.raises(decision.MalformedEvent, match="ModelPackageArn"):
        decision.package_arn_from_event({"detail": {"ModelPackageArn": "arn:aws:s3:::bucket"}})
