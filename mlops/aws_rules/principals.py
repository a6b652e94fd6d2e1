"""Who is making a boto3 call in the twin: the role of the Lambda function, state machine or pipeline job running it.

Two ways to say it, because the twin's code runs in two shapes:
- `acting_as(role_arn)` sets a context variable for the code inside the block (a handler call, a pipeline run);
- `tag_client(client, role_arn)` marks one client, for code that runs in threads the twin does not start (moto's
  Step Functions engine creates its clients per task from the state's credentials, in its own threads).
A tagged client wins over the context variable; a call with neither (the test harness, the twin's own setup) or on
an `untracked` client (the twin's bookkeeping inside a principal's block) has no principal and is not evaluated.
"""

from __future__ import annotations

import contextlib
import contextvars
import weakref
from collections.abc import Iterator
from typing import Any

from botocore.client import BaseClient

_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("twin_principal", default=None)
_tagged: weakref.WeakKeyDictionary[BaseClient, str] = weakref.WeakKeyDictionary()


@contextlib.contextmanager
def acting_as(role_arn: str) -> Iterator[None]:
    """Calls made by this thread inside the block are `role_arn`'s (nested blocks override, then restore)."""
    token = _current.set(role_arn)
    try:
        yield
    finally:
        _current.reset(token)


def tag_client(client: Any, role_arn: str) -> Any:
    """Every call this client makes is `role_arn`'s, whatever thread makes it. Returns the client."""
    _tagged[client] = role_arn
    return client


def untracked(client: Any) -> Any:
    """This client's calls have no principal wherever they run (the twin's own bookkeeping). Returns the client."""
    _tagged[client] = ""
    return client


def principal_of(client: BaseClient) -> str | None:
    if client in _tagged:
        return _tagged[client] or None
    return _current.get()
