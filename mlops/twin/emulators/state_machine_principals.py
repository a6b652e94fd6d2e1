"""The state machine's role as the principal of its service integrations in moto's Step Functions engine.

moto's engine runs an execution in its own threads and creates a boto3 client per task through `boto_client_for`,
with the state's credentials (by default the execution's role: the state machine's `roleArn`). Wrapping that factory
tags each client with that role, so the twin evaluates the task's call (lambda:InvokeFunction, sns:Publish, ...)
against the state machine role's policies.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

# Imported for their side effect: every engine module that binds the factory is loaded before it is replaced.
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils  # noqa: F401
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (  # noqa: F401
    state_task_service_factory,
)
from moto.stepfunctions.parser.asl.utils import boto_client

from mlops.aws_rules.principals import tag_client

_FACTORY = "boto_client_for"


@contextlib.contextmanager
def state_machine_principals() -> Iterator[None]:
    original = boto_client.boto_client_for

    def tagged(region: str, service: str, state_credentials: Any = None) -> Any:
        client = original(region, service, state_credentials)
        role = getattr(state_credentials, "role_arn", None)
        return tag_client(client, role) if role else client

    # Each engine module imported the factory by name: replace it where it is bound.
    modules = [m for m in list(sys.modules.values()) if getattr(m, _FACTORY, None) is original]
    for module in modules:
        setattr(module, _FACTORY, tagged)
    try:
        yield
    finally:
        for module in modules:
            setattr(module, _FACTORY, original)
