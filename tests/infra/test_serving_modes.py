"""The serving stack in every serving mode: snapshots of each mode's templates.

The snapshots were taken before the serving stack became one construct per mode (issue #18 item 3), so they show
that the refactor changed no template: no logical id (a changed one makes CloudFormation replace the production
endpoint), no property, no grant. The monitoring stack is snapshotted where the mode or Model Monitor changes it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from tests.conftest import cdk_context, synth_app
from tests.infra.test_snapshots import normalise

# name -> platform config overrides: every serving mode, and the settings that change what a mode builds.
CONFIGS: dict[str, dict[str, Any]] = {
    "realtime": {},
    "realtime-canary": {"endpoint_min_instances": 2},  # two instances: canary traffic shifting
    "realtime-xgboost": {"training_engine": "xgboost"},  # the XGBoost image's pull grant
    "realtime-no-batch": {"batch_transform": False},
    "realtime-model-monitor": {"model_monitor_enabled": True},
    "serverless": {"serving_mode": "serverless"},
    "async": {"serving_mode": "async"},
    "multi_model": {"serving_mode": "multi_model"},
    "triton": {"serving_mode": "triton", "training_engine": "xgboost"},
    "triton-model-monitor": {"serving_mode": "triton", "training_engine": "xgboost", "model_monitor_enabled": True},
}
# Model Monitor changes the monitoring stack only; the monitoring stack changes with the Triton mode only.
MONITOR_ONLY = ("realtime-model-monitor", "triton-model-monitor")
MONITORED = ("realtime", "triton", *MONITOR_ONLY)
SNAPSHOTS = [(name, "serving") for name in CONFIGS if name not in MONITOR_ONLY] + [
    (name, "monitoring") for name in MONITORED
]


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, dict[str, Any]]]:
    """Stack suffix -> template, per config name (one process: a synth after the first takes about 2 s)."""
    synthesized = {}
    for name, overrides in CONFIGS.items():
        context = cdk_context()
        context["platform"] = {**context["platform"], **overrides}
        out: Path = tmp_path_factory.mktemp(name)
        app = synth_app(out, context)
        synthesized[name] = {suffix: app.template(f"-{suffix}") for suffix in ("serving", "monitoring")}
    return synthesized


@pytest.fixture()
def snapshot_json(snapshot):  # type: ignore[no-untyped-def]
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize(("name", "stack"), SNAPSHOTS, ids=[f"{n}-{s}" for n, s in SNAPSHOTS])
def test_mode_template_snapshot(templates, snapshot_json, name: str, stack: str) -> None:
    assert normalise(templates[name][stack]) == snapshot_json
