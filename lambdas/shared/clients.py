"""AWS SDK clients for every handler: created once per container, injectable in tests, reset between tests.

Lambda reuses a container for many invocations, so clients are created outside the handler's work and kept
("Best practices for working with AWS Lambda functions": initialize SDK clients outside the function handler,
https://docs.aws.amazon.com/lambda/latest/dg/best-practices.html). Creation takes a lock: boto3's default session
is not thread-safe, and the offline twin runs handlers from several threads.

Handlers take a `Clients` (attribute per service: `aws.s3`, `aws.sagemaker`); tests pass their own clients to it
or `inject` them; `reset` forgets every cached client and container cache (an autouse test fixture and the twin
call it, since a client belongs to the moto mock it was created under).
"""

from __future__ import annotations

import threading
from typing import Any

import boto3

_cache: dict[str, Any] = {}
_container_caches: list[dict[Any, Any]] = []
_lock = threading.Lock()


def client(service: str) -> Any:
    """The container's client for `service` (region and credentials from the function's environment)."""
    with _lock:
        if service not in _cache:
            _cache[service] = boto3.client(service)  # type: ignore[call-overload]
        return _cache[service]


def resource(service: str) -> Any:
    """The container's boto3 resource for `service` (e.g. dynamodb, for Table)."""
    key = f"resource:{service}"
    with _lock:
        if key not in _cache:
            _cache[key] = boto3.resource(service)  # type: ignore[call-overload]
        return _cache[key]


def inject(**clients: Any) -> None:
    """Use these clients (service name -> client) instead of creating them, until `reset`."""
    with _lock:
        _cache.update(clients)


def container_cache() -> dict[Any, Any]:
    """A dict a handler keeps for the container's life (e.g. a package's baseline); `reset` empties it too."""
    cache: dict[Any, Any] = {}
    with _lock:
        _container_caches.append(cache)
    return cache


def reset() -> None:
    """Forget the cached clients and empty every container cache (a new container, as far as handlers can tell)."""
    with _lock:
        _cache.clear()
        for cache in _container_caches:
            cache.clear()


class Clients:
    """The clients one invocation uses, by service name: those given here first, else the container's."""

    def __init__(self, **given: Any) -> None:
        self._given = {service: value for service, value in given.items() if value is not None}

    def __getattr__(self, service: str) -> Any:
        if service.startswith("_"):
            raise AttributeError(service)
        given = self.__dict__.get("_given", {})
        return given[service] if service in given else client(service)
