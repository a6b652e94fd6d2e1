"""One seam where every boto3 call made in this process meets the rules AWS applies server-side.

moto and the twin accept requests that AWS refuses (a metadata value outside the API's pattern, a call the caller's
role does not allow). Each rule is a `Check`: it sees the call as the client is about to send it and raises a
`ClientError` shaped like AWS's own answer when AWS would refuse it. The checks run before botocore serialises the
request, so before moto (whose stubber sits at botocore's `before-send`) ever sees it.

The patch of `BaseClient._make_api_call` is installed once and stays; with no check registered it only forwards.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.client import BaseClient
from botocore.exceptions import ClientError
from botocore.model import OperationModel


@dataclass(frozen=True)
class ApiCall:
    """One request as the caller made it: service (botocore's name, e.g. "sagemaker"), operation, parameters."""

    service: str
    operation: OperationModel
    params: dict[str, Any]
    region: str | None
    client: BaseClient = field(repr=False, compare=False)

    @property
    def operation_name(self) -> str:
        return str(self.operation.name)


Check = Callable[[ApiCall], None]

_checks: list[Check] = []
_lock = threading.Lock()
_original: Callable[..., Any] | None = None


def _checked_make_api_call(client: BaseClient, operation_name: str, api_params: dict[str, Any]) -> Any:
    # Each check once, in order, even when nested `enforcing` blocks (the test suite's and the twin's) both add it.
    checks = list(dict.fromkeys(_checks))
    if checks:
        call = ApiCall(
            service=client.meta.service_model.service_name,
            operation=client.meta.service_model.operation_model(operation_name),
            params=api_params,
            region=client.meta.region_name,
            client=client,
        )
        for check in checks:
            check(call)
    assert _original is not None
    return _original(client, operation_name, api_params)


def install() -> None:
    """Patch botocore once for the life of the process (idempotent)."""
    global _original
    with _lock:
        if _original is None:
            _original = BaseClient._make_api_call
            BaseClient._make_api_call = _checked_make_api_call  # type: ignore[method-assign]


@contextlib.contextmanager
def enforcing(*checks: Check) -> Iterator[None]:
    """Apply `checks` to every boto3 call in this process (every thread) for the duration of the block."""
    install()
    with _lock:
        _checks.extend(checks)
    try:
        yield
    finally:
        with _lock:
            for check in checks:
                _checks.remove(check)


def aws_error(call: ApiCall, code: str, message: str, status: int = 400) -> ClientError:
    """The error AWS returns, as boto3 raises it: the client's modeled exception for `code` where the service
    model declares one (so `except client.exceptions.ValidationException` catches it), else `ClientError`."""
    response = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}
    error_class = call.client.exceptions.from_code(code)
    return error_class(response, call.operation_name)  # type: ignore[no-any-return]
