"""Small units of the serving package: routing steps, percentiles, capture encodings, load limits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops.local.serving import CaptureConfig, DataCapture, RoutingType, TrafficRouting
from mlops.local.serving.loadgen import run_load
from mlops.local.serving.metrics import VariantMetrics, percentile


@pytest.mark.parametrize(
    ("routing", "steps"),
    [
        (TrafficRouting(RoutingType.ALL_AT_ONCE), [100.0]),
        (TrafficRouting(RoutingType.CANARY, canary_percent=10.0), [10.0, 100.0]),
        (TrafficRouting(RoutingType.CANARY, canary_percent=100.0), [100.0]),
        (TrafficRouting(RoutingType.LINEAR, linear_step_percent=30.0), [30.0, 60.0, 90.0, 100.0]),
    ],
)
def test_routing_steps(routing: TrafficRouting, steps: list[float]) -> None:
    assert routing.steps() == steps


@pytest.mark.parametrize("size", [0.0, -5.0, 150.0])
def test_routing_rejects_sizes_outside_percent(size: float) -> None:
    with pytest.raises(ValueError, match="within"):
        TrafficRouting(RoutingType.LINEAR, linear_step_percent=size).steps()


def test_percentile_nearest_rank_and_counters() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50.0 and percentile(values, 0.99) == 99.0 and percentile([], 0.5) == 0.0
    metrics = VariantMetrics()
    for status in (200, 200, 400, 500):
        metrics.begin()
        metrics.end(0.01, status)
    stats = metrics.snapshot("AllTraffic-1", "v1", "blue", 100.0)
    assert (stats.invocations, stats.errors_4xx, stats.errors_5xx, stats.in_flight) == (4, 1, 1, 0)
    assert stats.error_rate == 0.25 and stats.latency_p50_ms == pytest.approx(10.0)


def test_capture_encodes_binary_as_base64(tmp_path: Path) -> None:
    capture = DataCapture(CaptureConfig(root=tmp_path, flush_interval_s=60))
    capture.offer(b"\x00\x01", "application/x-npy", b"{}", "application/json")
    capture.close()
    (path,) = tmp_path.rglob("*.jsonl")
    record = json.loads(path.read_text())
    assert record["captureData"]["endpointInput"]["encoding"] == "BASE64"
    assert record["captureData"]["endpointInput"]["data"] == "AAE="


def test_capture_rejects_bad_percent(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"0\.\.100"):
        DataCapture(CaptureConfig(root=tmp_path, sampling_percent=120.0))


def test_load_generator_only_targets_loopback() -> None:
    with pytest.raises(ValueError, match="loopback"):
        run_load("http://192.0.2.1:8080", [b"x"], duration_s=0.1, max_requests=1)
