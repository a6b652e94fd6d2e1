"""The AWS rules every offline run enforces: the twin, the local pipeline's registry and the test suite.

One list, so a new rule (a check for `mlops.aws_rules.interception.enforcing`) is added here once and applies
everywhere the product talks to moto.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from mlops.aws_rules.interception import Check, enforcing
from mlops.aws_rules.service_model import check_service_model

OFFLINE_CHECKS: tuple[Check, ...] = (check_service_model,)


@contextlib.contextmanager
def enforcing_offline_rules() -> Iterator[None]:
    """Apply OFFLINE_CHECKS to every boto3 call in the process for the duration of the block."""
    with enforcing(*OFFLINE_CHECKS):
        yield
