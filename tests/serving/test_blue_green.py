"""Acceptance: blue/green updates under concurrent load with zero failed requests, and automatic rollback.

Loopback only, bounded: each load run has a request cap and a time limit and stops by itself.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlops.local.serving import (
    BlueGreenPolicy,
    DeploymentInProgressError,
    DeploymentStatus,
    EndpointServer,
    ErrorAlarm,
    RoutingType,
    TrafficRouting,
)
from mlops.local.serving.loadgen import LoadReport, run_load

CANARY = BlueGreenPolicy(
    TrafficRouting(RoutingType.CANARY, wait_interval_s=0.6, canary_percent=20.0),
    termination_wait_s=0.4,
    alarm=ErrorAlarm(error_rate_threshold=0.05, min_invocations=5, period_s=0.05),
)


@pytest.fixture
def server(model_v1: Path) -> Iterator[EndpointServer]:
    with EndpointServer.start(model_v1) as running:
        yield running


def _load_during(server: EndpointServer, bodies: list[bytes], action: threading.Thread) -> LoadReport:
    """Run load from 4 clients; start ``action`` once load is flowing; stop shortly after it ends."""
    stop = threading.Event()
    report: list[LoadReport] = []
    loader = threading.Thread(
        target=lambda: report.append(
            run_load(server.url, bodies, clients=4, duration_s=8.0, max_requests=4000, stop=stop)
        )
    )
    loader.start()
    threading.Event().wait(0.2)
    action.start()
    action.join(10.0)
    threading.Event().wait(0.2)
    stop.set()
    loader.join(15.0)
    return report[0]


def _body_versions(report: LoadReport) -> set[str]:
    return {p["model_version"] for s in report.samples for p in json.loads(s.body)["predictions"]}


def test_canary_update_under_load_has_zero_failures(
    server: EndpointServer, model_v2: Path, csv_rows: list[bytes]
) -> None:
    deployment_box = []
    action = threading.Thread(target=lambda: deployment_box.append(server.deploy(model_v2, CANARY).wait(10)))
    report = _load_during(server, csv_rows, action)
    result = deployment_box[0]

    assert result.status is DeploymentStatus.SUCCEEDED, result.events
    assert len(report.samples) > 50
    assert report.failures == []
    assert {s.model_version for s in report.samples} == {"v1", "v2"}
    assert _body_versions(report) == {"v1", "v2"}
    # The new model serves 100% at the end.
    after = run_load(server.url, csv_rows, clients=2, duration_s=2.0, max_requests=40)
    assert len(after.samples) == 40 and {s.model_version for s in after.samples} == {"v2"}
    stats = {s.model_version: s for s in server.stats()}
    assert stats["v2"].role == "blue" and stats["v2"].traffic_percent == 100.0
    assert stats["v1"].role == "retired" and stats["v1"].in_flight == 0
    assert stats["v1"].errors_5xx == stats["v2"].errors_5xx == 0


def test_broken_model_rolls_back_automatically_with_zero_failures(
    server: EndpointServer, model_broken: Path, csv_rows: list[bytes]
) -> None:
    deployment_box = []
    action = threading.Thread(target=lambda: deployment_box.append(server.deploy(model_broken, CANARY).wait(10)))
    report = _load_during(server, csv_rows, action)
    result = deployment_box[0]

    assert result.status is DeploymentStatus.ROLLED_BACK, result.events
    assert "error alarm" in result.reason
    assert report.failures == []
    # Green answered the rows it can score; each row it failed on was counted and re-served from blue.
    assert {s.model_version for s in report.samples} <= {"v1", "broken"}
    stats = {s.model_version: s for s in server.stats()}
    assert stats["broken"].role == "rolled-back" and stats["broken"].errors_5xx >= 1
    assert stats["v1"].role == "blue" and stats["v1"].traffic_percent == 100.0
    after = run_load(server.url, csv_rows, clients=2, duration_s=2.0, max_requests=20)
    assert {s.model_version for s in after.samples} == {"v1"} and after.failures == []


def test_linear_update_steps_and_single_deployment_at_a_time(server: EndpointServer, model_v2: Path) -> None:
    policy = BlueGreenPolicy(
        TrafficRouting(RoutingType.LINEAR, wait_interval_s=0.1, linear_step_percent=40.0),
        termination_wait_s=0.1,
    )
    deployment = server.deploy(model_v2, policy)
    with pytest.raises(DeploymentInProgressError):
        server.deploy(model_v2, policy)
    result = deployment.wait(10)
    assert result.status is DeploymentStatus.SUCCEEDED
    shifts = [event.split("traffic ")[1] for event in result.events if "% to green" in event]
    assert shifts == ["40% to green", "80% to green", "100% to green"]
    assert server.endpoint.model_version == "v2"


def test_green_that_cannot_load_never_takes_traffic(server: EndpointServer, tmp_path: Path) -> None:
    result = server.deploy(tmp_path / "missing", BlueGreenPolicy()).wait(10)
    assert result.status is DeploymentStatus.FAILED and "missing" in result.reason
    assert server.endpoint.model_version == "v1"
    assert [s.role for s in server.stats()] == ["blue"]
