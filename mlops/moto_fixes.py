"""Where moto differs from AWS in a way the offline paths depend on, the AWS behaviour, as a scoped patch.

UpdateModelPackage: AWS keeps a package's CustomerMetadataProperties unless the request changes them; moto
replaces them with the request's (nothing, for a plain approval). The deploy function reads the lineage and
readiness metadata after the approval, so the twin and the local registry need AWS's behaviour.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from moto.sagemaker.models import SageMakerModelBackend

_LOCK = threading.Lock()
_ACTIVE = 0
_ORIGINAL = SageMakerModelBackend.update_model_package


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
    return _ORIGINAL(
        self,
        model_package_arn,
        model_approval_status,
        approval_description,
        merged,
        customer_metadata_properties_to_remove,
        additional_inference_specifications_to_add,
    )


@contextlib.contextmanager
def aws_model_package_updates() -> Iterator[None]:
    """Within the block (nestable, thread-safe), UpdateModelPackage keeps the package's metadata as AWS does."""
    global _ACTIVE
    with _LOCK:
        _ACTIVE += 1
        SageMakerModelBackend.update_model_package = _update_keeping_metadata  # type: ignore[method-assign]
    try:
        yield
    finally:
        with _LOCK:
            _ACTIVE -= 1
            if _ACTIVE == 0:
                SageMakerModelBackend.update_model_package = _ORIGINAL  # type: ignore[method-assign]
