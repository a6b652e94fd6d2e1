"""Where moto differs from AWS in a way the offline paths depend on, the AWS behaviour, as a scoped patch.

UpdateModelPackage: AWS keeps a package's CustomerMetadataProperties unless the request changes them; moto
replaces them with the request's (nothing, for a plain approval). The deploy function reads the lineage and
readiness metadata after the approval, so the twin and the local registry need AWS's behaviour.

DynamoDB writes: a conditional write checks its condition and writes as one step
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.ConditionExpressions.html, "the
condition expression must evaluate to true in order for the operation to succeed"; concurrent writers are
serialized per item). moto checks and then writes without a lock, so two threads can both pass the same
`attribute_not_exists` check: two alarms at once both took the retraining lock in the twin (about once in a few
full test runs under load). Reads stay concurrent, so a caller that read, decided and then wrote unconditionally
would still let both through.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterator
from typing import Any

from moto.dynamodb.models import DynamoDBBackend
from moto.sagemaker.models import SageMakerModelBackend

_LOCK = threading.Lock()
_ACTIVE: dict[str, int] = {}
_UPDATE_MODEL_PACKAGE = SageMakerModelBackend.update_model_package
_DYNAMODB_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items")
_DYNAMODB_ORIGINALS = {name: getattr(DynamoDBBackend, name) for name in _DYNAMODB_WRITES}
_DYNAMODB_WRITE_LOCK = threading.RLock()


def _update_keeping_metadata(
    self: Any,
    model_package_arn: str,
    model_approval_status: str | None,
    approval_description: str | None,
    customer_metadata_properties: dict[str, str] | None,
    customer_metadata_properties_to_remove: list[str],
    additional_inference_specifications_to_add: list[Any] | None,
) -> str:
    name = self.model_package_name_mapping.get(model_package_arn, model_package_arn)
    package = self.model_packages.get(name)
    kept = dict(getattr(package, "customer_metadata_properties", None) or {})
    merged = {**kept, **(customer_metadata_properties or {})} or None
    return _UPDATE_MODEL_PACKAGE(
        self,
        model_package_arn,
        model_approval_status,
        approval_description,
        merged,
        customer_metadata_properties_to_remove,
        additional_inference_specifications_to_add,
    )


def _serialized(write: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(write)
    def one_at_a_time(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _DYNAMODB_WRITE_LOCK:
            return write(self, *args, **kwargs)

    return one_at_a_time


_PATCHES: dict[str, tuple[type, dict[str, Any], dict[str, Any]]] = {
    "model_package_updates": (
        SageMakerModelBackend,
        {"update_model_package": _update_keeping_metadata},
        {"update_model_package": _UPDATE_MODEL_PACKAGE},
    ),
    "dynamodb_writes": (
        DynamoDBBackend,
        {name: _serialized(original) for name, original in _DYNAMODB_ORIGINALS.items()},
        _DYNAMODB_ORIGINALS,
    ),
}


@contextlib.contextmanager
def _patched(name: str) -> Iterator[None]:
    """Installs the named patch for the block; nestable and thread-safe (the last block out restores moto)."""
    owner, patched, originals = _PATCHES[name]
    with _LOCK:
        _ACTIVE[name] = _ACTIVE.get(name, 0) + 1
        for attribute, value in patched.items():
            setattr(owner, attribute, value)
    try:
        yield
    finally:
        with _LOCK:
            _ACTIVE[name] -= 1
            if _ACTIVE[name] == 0:
                for attribute, value in originals.items():
                    setattr(owner, attribute, value)


def aws_model_package_updates() -> contextlib.AbstractContextManager[None]:
    """Within the block, UpdateModelPackage keeps the package's metadata as AWS does."""
    return _patched("model_package_updates")


def atomic_dynamodb_writes() -> contextlib.AbstractContextManager[None]:
    """Within the block, every DynamoDB write (with its condition check) runs as one step, as in DynamoDB."""
    return _patched("dynamodb_writes")
