"""Run the real Lambda handlers when moto invokes a function (moto itself runs no Lambda code).

The seam (ARCHITECTURE.md): with moto's `lambda: use_docker=False`, every invoke reaches
`LambdaSimpleBackend.invoke`; the dispatcher replaces it and calls the handler the synthesized function names
(`Handler`, e.g. `lambdas.deploy_model.handler.lambda_handler`), with the function's environment (resolved). The
handler's module must be in the function's code asset, as Lambda would require; it is imported by its package name,
so the twin, the tests and the handlers share one module (and one client cache, lambdas/shared/clients.py), and
the asset's copy must be the same code (tests/lambdas/test_packaging.py imports each asset on its own).

A handler's exception becomes a Lambda function error with its `errorType`, so Step Functions' Retry and Catch
see what AWS would show them.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import threading
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from moto.awslambda_simple.models import LambdaSimpleBackend

from lambdas.shared import clients
from mlops.aws_rules.principals import acting_as

_LOAD_ONCE = threading.Lock()


@dataclass
class DeployedFunction:
    """One synthesized function as the twin deployed it."""

    name: str
    logical_id: str
    stack: str
    code_dir: Path
    handler: str
    environment: dict[str, str]
    module: ModuleType | None = None
    role_arn: str = ""  # the function's execution role: its calls are evaluated against that role's policies

    def load(self) -> ModuleType:
        with _LOAD_ONCE:
            if self.module is None:
                self.module = import_handler(self.handler, self.code_dir)
            return self.module

    def call(self, event: Any) -> Any:
        module = self.load()
        function = getattr(module, self.handler.rsplit(".", 1)[1])
        with _environment(self.environment), acting_as(self.role_arn) if self.role_arn else contextlib.nullcontext():
            return function(event, _Context(self.name))


class LambdaDispatcher:
    def __init__(self) -> None:
        self.functions: dict[str, DeployedFunction] = {}
        self.calls: list[tuple[str, Any, Any]] = []  # (logical id, event, result or error)

    def add(self, function: DeployedFunction) -> None:
        self.functions[function.name] = function

    @contextlib.contextmanager
    def installed(self) -> Iterator[LambdaDispatcher]:
        original = LambdaSimpleBackend.invoke
        dispatcher = self
        saved_environ = dict(os.environ)
        clients.reset()  # the handlers' clients are created under this run's moto mock, as in new containers

        def invoke(self: Any, function_name: str, qualifier: Any, body: Any, headers: Any, response: Any) -> bytes:
            return dispatcher.invoke(function_name, body, response)

        LambdaSimpleBackend.invoke = invoke  # type: ignore[method-assign]
        try:
            yield self
        finally:
            LambdaSimpleBackend.invoke = original  # type: ignore[method-assign]
            clients.reset()
            os.environ.clear()
            os.environ.update(saved_environ)

    def add_environment_keys(self) -> None:
        """Create every function's variables up front; calls then only change values, never the key set.

        Other threads of the twin (pipeline runs) read os.environ while handlers run; adding or deleting keys
        during their iteration would break them, changing values does not.
        """
        for function in self.functions.values():
            for key, value in function.environment.items():
                os.environ.setdefault(key, value)

    def invoke(self, function_name: str, body: Any, response_headers: dict[str, str]) -> bytes:
        name = function_name.split(":")[-1] if function_name.startswith("arn:") else function_name
        function = self.functions[name]
        event = json.loads(body) if body else {}
        try:
            result = function.call(event)
        except Exception as exc:  # the error goes back to the caller as a Lambda function error, as in AWS
            response_headers["x-amz-function-error"] = "Unhandled"
            self.calls.append((function.logical_id, event, exc))
            error = {"errorType": type(exc).__name__, "errorMessage": str(exc),
                     "stackTrace": traceback.format_tb(exc.__traceback__)}  # fmt: skip
            return json.dumps(error).encode()
        self.calls.append((function.logical_id, event, result))
        return json.dumps(result).encode()


def import_handler(handler: str, code_dir: Path) -> ModuleType:
    """The module a `Handler` string names (`package.module.function`), which must be in the asset."""
    module_name = handler.rsplit(".", 1)[0]
    in_asset = code_dir / f"{module_name.replace('.', '/')}.py"
    if not in_asset.is_file():  # Lambda fails the same way: Runtime.ImportModuleError
        raise ModuleNotFoundError(f"{handler}: no {in_asset.relative_to(code_dir)} in the asset {code_dir}")
    module = importlib.import_module(module_name)
    if Path(str(module.__file__)).read_bytes() != in_asset.read_bytes():
        raise ImportError(f"{handler}: the asset {code_dir} holds other code than {module.__file__} (synth again)")
    return module


@contextlib.contextmanager
def _environment(variables: dict[str, str]) -> Iterator[None]:
    """The function's variables for the duration of one call (keys exist already: see add_environment_keys)."""
    saved = {k: os.environ.get(k) for k in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is not None:
                os.environ[key] = value


class _Context:
    memory_limit_in_mb = 256
    aws_request_id = "twin"

    def __init__(self, name: str) -> None:
        self.function_name = name
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:111111111111:function:{name}"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000
