"""botocore's service models parsed once per process, not once per session.

botocore caches what a `Loader` parses on that loader alone, and every boto3 session has its own loader. moto's
`mock_aws` starts each mock with a new default session (it patches `boto3.DEFAULT_SESSION` to None), and the twin
and the tests start many mocks and create clients in each: every `boto3.client(...)` parsed its service's JSON model
again (SageMaker's is 1.9 MB; parsing was 10 s of a 22 s run of two Lambda test modules). This shares the parsed
models between loaders with the same search paths and extras, which is the sharing botocore already does within a
session (one loader hands the same dicts to every client it builds), so no client sees a model another has changed.

Offline paths only (the twin, the tests): a Lambda container creates its clients once and needs none of this.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterator
from typing import Any

from botocore.loaders import Loader

_CACHED = ("load_service_model", "load_data_with_path", "list_available_services", "determine_latest_version")
_ORIGINALS: dict[str, Callable[..., Any]] = {name: getattr(Loader, name) for name in _CACHED}
_PARSED: dict[tuple[Any, ...], Any] = {}
_LOCK = threading.RLock()
_ACTIVE = 0


def _shared(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def once_per_process(self: Loader, *args: Any, **kwargs: Any) -> Any:
        key = (name, tuple(self.search_paths), tuple(self.extras_types), args, tuple(sorted(kwargs.items())))
        try:
            return _PARSED[key]
        except KeyError:
            pass
        with _LOCK:  # one parse per key even when threads (pipeline runs, Lambda invocations) ask at once
            if key not in _PARSED:
                _PARSED[key] = method(self, *args, **kwargs)
            return _PARSED[key]

    return once_per_process


@contextlib.contextmanager
def models_parsed_once() -> Iterator[None]:
    """Within the block (nestable, thread-safe), every botocore loader shares the models parsed in this process."""
    global _ACTIVE
    with _LOCK:
        _ACTIVE += 1
        for name, method in _ORIGINALS.items():
            setattr(Loader, name, _shared(name, method))
    try:
        yield
    finally:
        with _LOCK:
            _ACTIVE -= 1
            if _ACTIVE == 0:
                for name, method in _ORIGINALS.items():
                    setattr(Loader, name, method)
