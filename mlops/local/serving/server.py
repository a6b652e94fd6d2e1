"""HTTP server implementing the SageMaker inference container contract on 127.0.0.1.

``GET /ping`` answers 200 while a model is loaded; ``POST /invocations`` honours Content-Type (or SageMaker's
``ContentType``) and Accept, as the scikit-learn container does. Keep-alive (HTTP/1.1) so clients reuse
connections, as SageMaker's front end does with its containers.
"""

from __future__ import annotations

import json
import os
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType

from mlops.local.serving.capture import CaptureConfig
from mlops.local.serving.deployment import Deployment
from mlops.local.serving.endpoint import Endpoint
from mlops.local.serving.handler import INFERENCE_PATH
from mlops.local.serving.metrics import VariantStats
from mlops.local.serving.policy import BlueGreenPolicy

HOST = "127.0.0.1"
# SageMaker's InvokeEndpoint payload limit.
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
DEFAULT_ACCEPT = os.environ.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", "application/json")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without TCP_NODELAY, Nagle's algorithm and delayed ACKs hold
    # each response back by ~40 ms on loopback.
    disable_nagle_algorithm = True
    server: _Server

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] != "/ping":
            self._send_error(HTTPStatus.NOT_FOUND, f"no route GET {self.path}")
            return
        self._send(HTTPStatus.OK, b"", "text/plain")

    def do_POST(self) -> None:
        if self.path.split("?", 1)[0] != "/invocations":
            self._discard_body()
            self._send_error(HTTPStatus.NOT_FOUND, f"no route POST {self.path}")
            return
        length_header = self.headers.get("Content-Length")
        if length_header is None:
            self.close_connection = True
            self._send_error(HTTPStatus.LENGTH_REQUIRED, "Content-Length is required")
            return
        length = int(length_header) if length_header.isdigit() else -1
        if not 0 <= length <= MAX_PAYLOAD_BYTES:
            self.close_connection = True
            self._send_error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"payload must be 0..{MAX_PAYLOAD_BYTES} bytes")
            return
        body = self.rfile.read(length)
        content_type = self.headers.get("ContentType") or self.headers.get("Content-Type") or "application/json"
        accept = self.headers.get("Accept") or DEFAULT_ACCEPT
        if accept.strip() == "*/*":
            accept = DEFAULT_ACCEPT
        try:
            result = self.server.endpoint.invoke(body, content_type, accept)
        except Exception as exc:
            # The endpoint already turns model failures into 5XX results; this guards the server itself so
            # that a client always gets an HTTP answer rather than a dropped connection.
            self._send_error(HTTPStatus.INTERNAL_SERVER_ERROR, f"{type(exc).__name__}: {exc}")
            return
        extra = {
            "X-Amzn-Invoked-Production-Variant": self.server.endpoint.variant_name,
            "X-Mlops-Fleet": result.fleet,
            "X-Mlops-Model-Version": result.model_version,
        }
        self._send(result.status, result.body, result.content_type, extra)

    def _discard_body(self) -> None:
        length = self.headers.get("Content-Length", "0")
        if length.isdigit() and int(length) <= MAX_PAYLOAD_BYTES:
            self.rfile.read(int(length))
        else:
            self.close_connection = True

    def _send_error(self, status: HTTPStatus, message: str) -> None:
        body = json.dumps({"error": status.phrase, "message": message}).encode("utf-8")
        self._send(status, body, "application/json")

    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        # Per-request access logs on stderr would dominate the CLI and benchmark output; counters cover it.
        return


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Many concurrent clients connect at once in the load tests; the default backlog of 5 drops SYNs.
    request_queue_size = 128

    def __init__(self, endpoint: Endpoint, port: int) -> None:
        self.endpoint = endpoint
        super().__init__((HOST, port), _Handler)


class EndpointServer:
    """A running local endpoint; use :meth:`start`, then :meth:`stop` (or a ``with`` block)."""

    def __init__(self, endpoint: Endpoint, port: int = 0) -> None:
        self.endpoint = endpoint
        self._httpd = _Server(endpoint, port)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1}, name="endpoint-http", daemon=True
        )
        self._stopped = threading.Event()

    @classmethod
    def start(
        cls,
        model_dir: Path,
        port: int = 0,
        capture: CaptureConfig | None = None,
        endpoint_name: str = "local-endpoint",
        inference_path: Path = INFERENCE_PATH,
    ) -> EndpointServer:
        """Load and warm ``model_dir``, then listen on 127.0.0.1:``port`` (0 picks a free port)."""
        endpoint = Endpoint(Path(model_dir), name=endpoint_name, capture=capture, inference_path=inference_path)
        try:
            server = cls(endpoint, port)
        except BaseException:
            endpoint.close()
            raise
        server._thread.start()
        return server

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def deploy(self, model_dir: Path, policy: BlueGreenPolicy | None = None) -> Deployment:
        return self.endpoint.deploy(Path(model_dir), policy)

    def stats(self) -> list[VariantStats]:
        return self.endpoint.stats()

    def wait(self, timeout_s: float | None = None) -> bool:
        """Block until :meth:`stop` is called (from another thread or a signal handler)."""
        return self._stopped.wait(timeout_s)

    def stop(self) -> None:
        if self._stopped.is_set():
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        self.endpoint.close()
        self._stopped.set()

    def __enter__(self) -> EndpointServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
