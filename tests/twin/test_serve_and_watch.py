"""Serve and watch in the twin: approval -> deploy function -> local endpoint -> captured traffic -> drift function.

Everything here is the synthesized platform's own code: the pipeline's scripts train and register the model, the
deploy function (its synthesized handler) turns the approval into the desired package, the local endpoint serves
it with SageMaker-format data capture, and the drift function reads the captured files from (moto's) S3 against the
baseline the pipeline registered, publishing its metrics as EMF.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mlops.local.sample_data import load_dataset
from mlops.local.serving import BlueGreenPolicy, CaptureConfig, TrafficRouting
from mlops.local.serving.loadgen import run_load
from mlops.local.serving.policy import RoutingType
from mlops.twin.cloud import TwinCloud
from mlops.twin.emulators.endpoint_sync import EndpointSync
from mlops.twin.emulators.pipeline_runner import TwinPipelineRunner
from mlops.twin.templates import Assembly
from platform_config.platform import load_config
from tests.twin.test_retraining_loop import upload_raw

CONFIG = load_config()


def _function(cloud: TwinCloud, prefix: str) -> Any:
    (function,) = [f for f in cloud.dispatcher.functions.values() if f.logical_id.startswith(prefix)]
    return function


def _bodies(frame: pd.DataFrame) -> list[bytes]:
    features = frame[["student", "balance", "income"]]
    return [",".join(map(str, row)).encode() for row in features.itertuples(index=False)]


def _emf(output: str) -> dict[tuple[str, str], float]:
    """(metric, feature) -> value from the EMF lines a function printed."""
    values = {}
    for line in output.splitlines():
        with contextlib.suppress(json.JSONDecodeError):
            record = json.loads(line)
            for directive in record.get("_aws", {}).get("CloudWatchMetrics", []):
                for metric in directive["Metrics"]:
                    value = record[metric["Name"]]
                    # EMF allows a list of values for one metric; one drift run writes one value per feature.
                    values[(metric["Name"], str(record.get("Feature", "")))] = float(
                        value[-1] if isinstance(value, list) else value
                    )
    return values


@pytest.mark.slow
def test_income_drift_in_served_traffic_shows_in_the_drift_metrics(twin_assembly, tmp_path: Path) -> None:
    twin = TwinCloud(Assembly.load(twin_assembly.outdir))
    data = load_dataset("ISLR", "Default")
    with twin.running():
        twin.pipeline_runner = TwinPipelineRunner(twin, CONFIG, tmp_path / "runs")
        upload_raw(twin, data, tmp_path)
        sagemaker = twin.client("sagemaker")
        sagemaker.start_pipeline_execution(PipelineName=CONFIG.resource_name("build"))
        for thread in twin.pipeline_threads:
            thread.join(120)
        (run,) = twin.pipeline_runner.runs
        sagemaker.update_model_package(ModelPackageArn=run["package"], ModelApprovalStatus="Approved")
        approval = {
            "detail-type": "SageMaker Model Package State Change",
            "detail": {"ModelPackageArn": run["package"]},
        }
        assert _function(twin, "DeployModel").call(approval)["action"] == "deploy"

        capture = CaptureConfig(root=tmp_path / "capture", endpoint_name=CONFIG.resource_name("endpoint"))
        policy = BlueGreenPolicy(TrafficRouting(RoutingType.ALL_AT_ONCE, wait_interval_s=0.5), termination_wait_s=0.5)
        endpoint = EndpointSync(twin, CONFIG.approved_package_parameter, capture, policy)
        try:
            assert endpoint.sync().action == "started"
            shifted = data.sample(600, random_state=1).assign(income=lambda f: f["income"] * 1.4)
            report = run_load(endpoint.server.url, _bodies(shifted), clients=4, duration_s=30, max_requests=600)
            assert not report.failures and len(report.samples) == 600
        finally:
            endpoint.stop()  # stopping flushes the capture buffer
        bucket = _capture_bucket(twin)
        s3 = twin.client("s3")
        for path in sorted((tmp_path / "capture").rglob("*.jsonl")):
            s3.upload_file(str(path), bucket, "capture/" + path.relative_to(tmp_path / "capture").as_posix())

        output = io.StringIO()
        with contextlib.redirect_stdout(output):
            result = _function(twin, "DriftMonitor").call({"source": "aws.events", "detail-type": "Scheduled Event"})
    assert result["status"] == "analyzed", result
    metrics = _emf(output.getvalue())
    assert metrics[("PSI", "income")] > CONFIG.psi_threshold
    assert metrics[("PSI", "balance")] < CONFIG.psi_threshold
    assert metrics[("MeanShiftSigma", "income")] > metrics[("MeanShiftSigma", "balance")]


def _capture_bucket(twin: TwinCloud) -> str:
    stack, template = twin.assembly.stack("-data")
    (logical,) = [
        k for k, v in template["Resources"].items() if v["Type"] == "AWS::S3::Bucket" and k.startswith("DataCapture")
    ]
    return twin.resolver.physical[(stack, logical)]
