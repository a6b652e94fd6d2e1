"""Bounded load test of the real inference code behind the local endpoint, on 127.0.0.1 only.

Three phases, each limited in time and request count:

1. Parallel efficiency: the model's ``input_fn -> predict_fn -> output_fn`` path run in one process, then in one
   process per core at once (forked, no HTTP); efficiency = CPU time per request alone / CPU time per request
   with all cores busy. With one core it cannot be measured and the stated default is used.
2. One request at a time through HTTP: the unloaded latency percentiles (p50, p99) a single request sees.
3. ``clients`` concurrent keep-alive clients: throughput, loaded latency, and the process CPU time per request.
   CPU time per request is the per-core cost the capacity model uses; it includes the load generator's own
   work (client and server share this process), so it over-states the cost: the capacity estimate errs low.
"""

from __future__ import annotations

import multiprocessing
import os
import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops.errors import UserError
from mlops.rightsizing.capacity import Profile
from mlops.user_input import model_load_error

DEFAULT_EFFICIENCY = 0.8  # used only when efficiency cannot be measured (one core) and none is given


@dataclass(frozen=True)
class LoadLimits:
    clients: int = 4
    duration_s: float = 3.0
    max_requests: int = 5000
    efficiency_seconds: float = 1.0


def sample_model(out_dir: Path, rows: int = 2000) -> tuple[Path, list[bytes]]:
    """The reference model (the sample logistic-regression pipeline on ISLR Default) and real CSV payloads."""
    from mlops.local.serving.sample_model import FEATURES, load_default_data, write_model_dir

    data = load_default_data(rows=rows)
    model_dir = write_model_dir(out_dir, "rightsize-sample", data)
    return model_dir, payloads_from_frame(data[FEATURES])


def payloads_for(model_dir: Path) -> tuple[list[bytes], str]:
    """Request bodies for a model directory: real ISLR Default rows when the model takes those features."""
    import json

    from mlops.local.serving.sample_model import FEATURES, load_default_data

    try:
        features = json.loads((model_dir / "model_meta.json").read_text(encoding="utf-8"))["features"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UserError(f"{model_dir / 'model_meta.json'}: cannot read the feature list: {exc}") from None
    if list(features) == FEATURES:
        return payloads_from_frame(load_default_data(rows=500)[FEATURES]), "1 CSV row per request (ISLR Default)"
    # Unknown features: rows of missing values, which the contract's imputers fill (as the warm-up does).
    return [("," * (len(features) - 1)).encode("utf-8")], "1 CSV row of missing values per request"


def payloads_from_frame(frame: Any, limit: int = 500) -> list[bytes]:
    """One CSV row per request, as a real-time client sends it."""
    rows = frame.head(limit).itertuples(index=False)
    return [",".join("" if v != v else str(v) for v in row).encode("utf-8") for row in rows]  # v != v: NaN


def measure(
    model_dir: Path,
    bodies: Sequence[bytes],
    limits: LoadLimits = LoadLimits(),
    parallel_efficiency: float | None = None,
    gpu_speedup: float = 1.0,
    payload: str = "1 CSV row per request (ISLR Default)",
) -> Profile:
    from mlops.local.serving import EndpointServer, ModelLoadError
    from mlops.local.serving.handler import ModelHandler
    from mlops.local.serving.loadgen import run_load

    if not bodies:
        raise UserError("no request payloads to send")
    try:
        handler = ModelHandler(model_dir)
    except ModelLoadError as exc:
        raise model_load_error(exc) from None
    details: dict[str, Any] = {"host": _host(), "model_dir": str(model_dir), "model_version": handler.model_version}
    if parallel_efficiency is None:
        parallel_efficiency, how = _parallel_efficiency(handler, bodies, limits.efficiency_seconds)
    else:
        how = "given (--parallel-efficiency)"
    details["parallel_efficiency_source"] = how
    details["gpu_speedup_source"] = (
        "given (--gpu-speedup)" if gpu_speedup != 1.0 else "none measured: scikit-learn predicts on the CPU only"
    )

    with EndpointServer.start(model_dir) as server:
        run_load(server.url, bodies, clients=1, duration_s=0.3, max_requests=200)  # warm caches and connections
        single_cpu, single_wall = time.process_time(), time.monotonic()
        single = run_load(server.url, bodies, clients=1, duration_s=limits.duration_s, max_requests=limits.max_requests)
        single_cpu, single_wall = time.process_time() - single_cpu, time.monotonic() - single_wall
        _check(single, "one-at-a-time")
        model_ms = server.stats()[-1].latency_mean_ms
        cpu_before, wall_before = time.process_time(), time.monotonic()
        loaded = run_load(
            server.url, bodies, clients=limits.clients, duration_s=limits.duration_s, max_requests=limits.max_requests
        )
        cpu_s, wall_s = time.process_time() - cpu_before, time.monotonic() - wall_before
        _check(loaded, "concurrent")
    service_ms = cpu_s * 1000.0 / len(loaded.samples)
    details.update(
        requests=len(single.samples) + len(loaded.samples),
        failed=0,
        payload=payload,
        single_requests=len(single.samples),
        single_mean_ms=round(sum(s.latency_s for s in single.samples) * 1000.0 / len(single.samples), 3),
        single_p95_ms=round(single.latency_ms(0.95), 3),
        # Share of a core the process got while one request was in flight at a time: near 1 on an idle machine;
        # lower means other processes delayed ours and the latencies above are inflated.
        single_cpu_busy=round(single_cpu / single_wall, 2),
        model_mean_ms=round(model_ms, 3),
        loaded_clients=limits.clients,
        loaded_requests=len(loaded.samples),
        loaded_throughput_rps=round(loaded.throughput(), 1),
        loaded_p50_ms=round(loaded.latency_ms(0.50), 3),
        loaded_p99_ms=round(loaded.latency_ms(0.99), 3),
        loaded_cpu_busy=round(cpu_s / wall_s, 2),
        service_ms_source="process CPU time per request in the concurrent phase (includes the load generator)",
    )
    return Profile(
        service_ms=round(service_ms, 4),
        base_p50_ms=round(single.latency_ms(0.50), 3),
        base_p99_ms=round(single.latency_ms(0.99), 3),
        parallel_efficiency=round(parallel_efficiency, 3),
        gpu_speedup=gpu_speedup,
        request_bytes=round(sum(len(b) for b in bodies) / len(bodies), 1),
        response_bytes=round(sum(len(s.body) for s in loaded.samples) / len(loaded.samples), 1),
        model_mb=round((model_dir / "model.joblib").stat().st_size / 1e6, 3),
        details=details,
    )


def _check(report: Any, phase: str) -> None:
    if not report.samples:
        raise UserError(f"the {phase} load test sent no request within its time limit")
    if report.failures:
        first = report.failures[0]
        raise UserError(
            f"the model failed {len(report.failures)} of {len(report.samples)} requests in the {phase} phase "
            f"(first: HTTP {first.status} {first.body[:200].decode('utf-8', 'replace')})"
        )


def _host() -> str:
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


# ---- parallel efficiency -----------------------------------------------------------------------------------

_HANDLER: Any = None  # set before forking, so children share the loaded model copy-on-write
_BODIES: Sequence[bytes] = ()


def _cpu_per_request(seconds: float) -> float:
    """CPU seconds per invocation over ``seconds`` of back-to-back invocations in this process."""
    n, cpu_start, deadline = 0, time.process_time(), time.perf_counter() + seconds
    while time.perf_counter() < deadline or n == 0:
        _HANDLER.invoke(_BODIES[n % len(_BODIES)], "text/csv", "application/json")
        n += 1
    return (time.process_time() - cpu_start) / n


def _parallel_efficiency(handler: Any, bodies: Sequence[bytes], seconds: float) -> tuple[float, str]:
    """CPU time per request alone vs with one process per core busy at once.

    CPU time, not wall time: on a shared machine other tenants' processes take cores away, which says nothing
    about the model; what does say something is each request needing more CPU when all cores work at once
    (shared caches, memory bandwidth, turbo limits), and that is what a fuller instance would see.
    """
    global _HANDLER, _BODIES
    cores = min(os.cpu_count() or 1, 4)
    if cores < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return DEFAULT_EFFICIENCY, f"assumed {DEFAULT_EFFICIENCY} (cannot be measured on one core)"
    _HANDLER, _BODIES = handler, bodies
    try:
        _cpu_per_request(0.2)  # warm-up
        alone = _cpu_per_request(seconds)
        with multiprocessing.get_context("fork").Pool(cores) as pool:
            together = pool.map(_cpu_per_request, [seconds] * cores)
    finally:
        _HANDLER, _BODIES = None, ()
    busy = sum(together) / len(together)
    efficiency = min(1.0, max(0.05, alone / busy))
    return efficiency, (
        f"measured: CPU per request {alone * 1000:.2f} ms alone, {busy * 1000:.2f} ms with {cores} processes at once"
    )
