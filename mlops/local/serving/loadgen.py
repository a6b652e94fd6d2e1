"""A bounded, loopback-only load generator for the local endpoint (tests and the benchmark).

Each client thread keeps one HTTP/1.1 connection and sends requests back to back until the time limit, the
request limit or ``stop`` is reached. A transport error or a non-200 answer is a failed request.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from mlops.local.serving.metrics import percentile

_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass(frozen=True)
class Sample:
    started: float  # time.monotonic() at send
    latency_s: float
    status: int  # 0 for a transport error
    model_version: str
    body: bytes


@dataclass
class LoadReport:
    samples: list[Sample] = field(default_factory=list)

    def window(self, start: float, end: float) -> LoadReport:
        """Requests sent within [start, end)."""
        return LoadReport([s for s in self.samples if start <= s.started < end])

    @property
    def failures(self) -> list[Sample]:
        return [s for s in self.samples if s.status != 200]

    def latency_ms(self, fraction: float) -> float:
        return percentile(sorted(s.latency_s for s in self.samples), fraction) * 1000.0

    def throughput(self) -> float:
        if not self.samples:
            return 0.0
        first = min(s.started for s in self.samples)
        last = max(s.started + s.latency_s for s in self.samples)
        return len(self.samples) / (last - first) if last > first else 0.0


def run_load(
    url: str,
    bodies: Sequence[bytes],
    content_type: str = "text/csv",
    accept: str = "application/json",
    clients: int = 4,
    duration_s: float = 2.0,
    max_requests: int = 5000,
    stop: threading.Event | None = None,
) -> LoadReport:
    """Send ``bodies`` round-robin from ``clients`` threads; return every request's outcome."""
    parts = urlsplit(url)
    if parts.hostname not in _LOOPBACK or parts.port is None:
        raise ValueError(f"load is only sent to a loopback address with a port, not {url}")
    stop = stop or threading.Event()
    deadline = time.monotonic() + duration_s
    budget = iter(range(max_requests))
    budget_lock = threading.Lock()
    results: list[list[Sample]] = [[] for _ in range(clients)]

    def take() -> bool:
        with budget_lock:
            return next(budget, None) is not None

    def client(index: int) -> None:
        connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
        headers = {"Content-Type": content_type, "Accept": accept}
        n = index
        try:
            while not stop.is_set() and time.monotonic() < deadline and take():
                body = bodies[n % len(bodies)]
                n += clients
                results[index].append(_send(connection, body, headers))
        finally:
            connection.close()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(duration_s + 60.0)
    return LoadReport([sample for per_client in results for sample in per_client])


def _send(connection: http.client.HTTPConnection, body: bytes, headers: dict[str, str]) -> Sample:
    started = time.monotonic()
    try:
        connection.request("POST", "/invocations", body=body, headers=headers)
        response = connection.getresponse()
        payload = response.read()
        version = response.getheader("X-Mlops-Model-Version", "")
        return Sample(started, time.monotonic() - started, response.status, version, payload)
    except (OSError, http.client.HTTPException) as exc:
        # Reconnect on the next request; the failure itself is what the caller counts.
        connection.close()
        return Sample(started, time.monotonic() - started, 0, "", repr(exc).encode("utf-8"))
