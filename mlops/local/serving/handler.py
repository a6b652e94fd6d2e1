"""One loaded model behind SageMaker's serving functions, loaded from ``pipeline_code/inference.py`` by path.

Importing the file by path (not as a package module) runs exactly the code the SageMaker container runs, which
imports nothing from this repository.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

INFERENCE_PATH = Path(__file__).resolve().parents[3] / "pipeline_code" / "inference.py"
_MODULE_NAME = "mlops_serving_inference"


class ClientError(Exception):
    """A malformed request: answered 4xx, never counted as a model error."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class ModelLoadError(Exception):
    """``model_fn`` failed or the model directory does not hold a model."""


@dataclass(frozen=True)
class Response:
    body: bytes
    content_type: str


def load_inference_module(path: Path = INFERENCE_PATH) -> ModuleType:
    """Load (once per path) the serving functions file as a module.

    Its folder leads sys.path while it is imported, as the container puts the submit directory on the path, so
    modules packed next to it are found (a module this process imported already is reused, though).
    """
    name = f"{_MODULE_NAME}_{abs(hash(str(path.resolve())))}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ModelLoadError(f"cannot import serving functions from {path}")
    module = importlib.util.module_from_spec(spec)
    # Registered before exec so dataclasses in the file can resolve their own module.
    sys.modules[name] = module
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    finally:
        sys.path.remove(str(path.parent))
    return module


class ModelHandler:
    """A model loaded with ``model_fn``; ``invoke`` runs input_fn -> predict_fn -> output_fn."""

    def __init__(self, model_dir: Path, inference_path: Path = INFERENCE_PATH) -> None:
        self.model_dir = Path(model_dir)
        self._fns = load_inference_module(inference_path)
        try:
            self._model = self._fns.model_fn(str(self.model_dir))
        except Exception as exc:
            raise ModelLoadError(f"cannot load model from {self.model_dir}: {exc}") from exc
        self.meta: dict[str, Any] = dict(getattr(self._model, "meta", {}))
        self.model_version = str(self.meta.get("model_version", self.model_dir.name))

    def invoke(self, body: bytes, content_type: str, accept: str) -> Response:
        """Raise ClientError for a bad request; any other exception is a model error (5xx)."""
        try:
            data = self._fns.input_fn(body, content_type)
            prediction = self._fns.predict_fn(data, self._model)
            result = self._fns.output_fn(prediction, accept)
        except Exception as exc:
            status = getattr(exc, "status_code", None)
            # Duck-typed like the inference toolkit: only 4xx-tagged errors are the client's fault.
            if isinstance(status, int) and 400 <= status < 500:
                raise ClientError(status, str(exc)) from exc
            raise
        payload, mime = result if isinstance(result, tuple) else (result, accept)
        data_bytes = payload.encode("utf-8") if isinstance(payload, str) else bytes(payload)
        return Response(body=data_bytes, content_type=mime)

    def warm_up(self, rounds: int = 3) -> None:
        """Run real invocations before traffic, like the first requests SageMaker's health check precedes.

        The row has every feature missing: the contract's imputers fill it, and it needs no knowledge of the
        training data's categories.
        """
        row = [None] * len(self.meta.get("features", []))
        body = json.dumps({"instances": [row]}).encode("utf-8")
        for _ in range(rounds):
            try:
                response = self.invoke(body, "application/json", "application/json")
            except Exception as exc:
                raise ModelLoadError(f"warm-up of the model in {self.model_dir} failed: {exc}") from exc
            if not response.body:
                raise ModelLoadError(f"warm-up of the model in {self.model_dir} returned an empty response")
