"""The twin's Step Functions retries wait a fraction of their interval: the same attempts in the same order, sooner.

moto's engine runs a Retrier for real and sleeps its whole interval (`time.sleep` in its retrier_decl module). The
definition is the synthesized one and ASL's IntervalSeconds is a whole number of seconds, at least 1
(https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html#error-handling-retrying-after-an-error),
so a denied SNS publish (3 retries, backoff 2) held a test for 1 + 2 + 4 s doing nothing. The retry count, the
backoff and what follows the last attempt are unchanged: only the sleep between attempts is scaled.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from types import SimpleNamespace

from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

_LOCK = threading.Lock()
_ACTIVE: list[float] = []
_REAL_TIME = retrier_decl.time


def _install() -> None:
    if not _ACTIVE:
        retrier_decl.time = _REAL_TIME  # type: ignore[attr-defined]
        return
    scale = min(_ACTIVE)
    retrier_decl.time = SimpleNamespace(sleep=lambda seconds: time.sleep(seconds * scale))  # type: ignore[attr-defined]


@contextlib.contextmanager
def scaled_retry_waits(scale: float) -> Iterator[None]:
    """Within the block (nestable, thread-safe), a Retrier sleeps `scale` times its interval (1.0: as in AWS)."""
    if not 0 < scale <= 1:
        raise ValueError(f"retry wait scale must be in (0, 1], got {scale}")
    with _LOCK:
        _ACTIVE.append(scale)
        _install()
    try:
        yield
    finally:
        with _LOCK:
            _ACTIVE.remove(scale)
            _install()
