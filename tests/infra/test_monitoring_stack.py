"""MonitoringStack: drift function with its layer and triggers, Model Monitor schedules, alarms, dashboard."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_events as events
from aws_cdk.assertions import Match, Template

from platform_config.platform import ConfigError, load_config
from stacks.constructs import drift_layer
from stacks.constructs.model_monitor import model_monitor_image
from tests.conftest import cdk_context, synth_app

CONFIG = load_config()
NAMESPACE = f"{CONFIG.project_name}/drift"
ENDPOINT = CONFIG.resource_name("endpoint")
SM = ("AWS::SageMaker::DataQualityJobDefinition", "AWS::SageMaker::ModelQualityJobDefinition")


def _of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


def _alarms_on(template: dict[str, Any], metric: str) -> dict[str, dict[str, Any]]:
    alarms = _of_type(template, "AWS::CloudWatch::Alarm").values()
    return {
        next((d["Value"] for d in a["Properties"].get("Dimensions", []) if d["Name"] == "Feature"), "endpoint"): a
        for a in alarms
        if a["Properties"].get("MetricName") == metric
    }


@pytest.fixture(scope="module")
def monitoring(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Model Monitor switched on (an account that still has it): the default is off (issue #15 item 6)."""
    context = cdk_context()
    context["platform"] = {**context["platform"], "model_monitor_enabled": True}
    context["aws:cdk:bundling-stacks"] = []  # no layer build: this synth checks the template only
    return synth_app(tmp_path_factory.mktemp("model-monitor"), context).template("-monitoring")


@pytest.fixture(scope="module")
def without_model_monitor(synthesized) -> dict[str, Any]:
    return synthesized.template("-monitoring")


def test_model_monitor_is_off_by_default() -> None:
    # "Amazon SageMaker Model Monitor is no longer open to new customers" (AWS documentation notice).
    assert load_config().model_monitor_enabled is False


def test_model_monitor_schedules_when_enabled_wait_for_an_endpoint(monitoring) -> None:
    schedules = _of_type(monitoring, "AWS::SageMaker::MonitoringSchedule")
    kinds = {s["Properties"]["MonitoringScheduleConfig"]["MonitoringType"] for s in schedules.values()}
    assert kinds == {"DataQuality", "ModelQuality"}
    for schedule in schedules.values():
        assert schedule["Condition"] == "HasApprovedModel"
        assert schedule["Properties"]["EndpointName"] == ENDPOINT
        assert schedule["Properties"]["MonitoringScheduleConfig"]["ScheduleConfig"] == {
            "ScheduleExpression": "cron(0 * ? * * *)"
        }
    for kind in SM:
        (definition,) = _of_type(monitoring, kind).values()
        assert definition["Condition"] == "HasApprovedModel"
    # The same SSM-backed condition as the serving stack's endpoint.
    assert monitoring["Parameters"]["ApprovedModelPackageArn"]["Default"] == CONFIG.approved_package_parameter
    assert monitoring["Conditions"]["HasApprovedModel"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "ApprovedModelPackageArn"}, "none"]}]
    }


def test_data_quality_uses_the_published_baseline_and_the_sdk_image(monitoring) -> None:
    (definition,) = _of_type(monitoring, SM[0]).values()
    props = definition["Properties"]
    assert props["DataQualityAppSpecification"]["ImageUri"] == model_monitor_image(CONFIG.region)
    assert props["DataQualityJobInput"]["EndpointInput"]["EndpointName"] == ENDPOINT
    baseline = json.dumps(props["DataQualityBaselineConfig"])
    assert "monitoring-baseline/statistics.json" in baseline and "monitoring-baseline/constraints.json" in baseline
    assert "KmsKeyId" in props["DataQualityJobOutputConfig"]
    assert "VolumeKmsKeyId" in props["JobResources"]["ClusterConfig"]


def test_model_quality_reads_ground_truth_from_s3(monitoring) -> None:
    (definition,) = _of_type(monitoring, SM[1]).values()
    props = definition["Properties"]
    assert props["ModelQualityAppSpecification"]["ProblemType"] == "MulticlassClassification"
    assert f"/{CONFIG.ground_truth_prefix}" in json.dumps(props["ModelQualityJobInput"]["GroundTruthS3Input"])
    assert props["ModelQualityJobInput"]["EndpointInput"]["InferenceAttribute"] == "predictions[0].label"


def test_model_monitor_can_be_switched_off(without_model_monitor) -> None:
    for kind in (*SM, "AWS::SageMaker::MonitoringSchedule"):
        assert _of_type(without_model_monitor, kind) == {}
    assert _alarms_on(without_model_monitor, "accuracy") == {}
    assert set(_alarms_on(without_model_monitor, "Accuracy")) == {"endpoint"}  # the drift function's own
    (function,) = _drift_functions(without_model_monitor).values()
    assert "MONITOR_BASELINE_URI" not in function["Properties"]["Environment"]["Variables"]
    # The drift function's alarms and the composites stay: the retraining loop relies on the model-degraded one.
    assert set(_alarms_on(without_model_monitor, "MeanShiftSigma")) == {"balance", "income"}
    composites = _of_type(without_model_monitor, "AWS::CloudWatch::CompositeAlarm").values()
    assert {c["Properties"]["AlarmName"] for c in composites} == {"mlops-model-degraded", "mlops-data-drift"}


def test_one_mean_shift_and_one_psi_alarm_per_feature_with_the_configured_thresholds(monitoring) -> None:
    sigma = _alarms_on(monitoring, "MeanShiftSigma")
    psi = _alarms_on(monitoring, "PSI")
    numeric = {f.name for f in CONFIG.features if f.type != "String"}
    assert set(sigma) == numeric  # the categorical feature (student) has no mean
    assert set(psi) == set(CONFIG.feature_names)
    for feature, alarm in [*sigma.items(), *psi.items()]:
        props = alarm["Properties"]
        assert props["Namespace"] == NAMESPACE and props["Statistic"] == "Maximum"
        assert props["ComparisonOperator"] == "GreaterThanThreshold"
        assert props["Period"] == CONFIG.drift_check_rate_minutes * 60
        assert {d["Name"]: d["Value"] for d in props["Dimensions"]} == {
            "EndpointName": ENDPOINT,
            "Feature": feature,
            "service": "drift_monitor",
        }
    assert {a["Properties"]["Threshold"] for a in sigma.values()} == {CONFIG.drift_sigma}
    assert {a["Properties"]["Threshold"] for a in psi.values()} == {CONFIG.psi_threshold}


def test_accuracy_below_a_min_alarms_from_the_drift_function_and_model_monitor(monitoring) -> None:
    for metric, namespace in (("Accuracy", NAMESPACE), ("accuracy", "aws/sagemaker/Endpoints/model-metrics")):
        (accuracy,) = _alarms_on(monitoring, metric).values()
        props = accuracy["Properties"]
        assert (props["Namespace"], props["Threshold"], props["ComparisonOperator"], props["Statistic"]) == (
            namespace,
            CONFIG.min_accuracy,
            "LessThanThreshold",
            "Minimum",
        )


def test_model_monitor_alarms_on_baseline_drift_per_feature(monitoring) -> None:
    drift = [
        a for a in _of_type(monitoring, "AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName", "").startswith("feature_baseline_drift_")
    ]  # fmt: skip
    assert {a["Properties"]["MetricName"] for a in drift} == {
        f"feature_baseline_drift_{n}" for n in CONFIG.feature_names
    }


def test_accuracy_alarms_start_retraining_and_feature_alarms_only_warn(monitoring) -> None:
    """Retraining learns from labels: only the alarms on accuracy against ground truth are in the composite that
    starts it; the feature alarms form the early-warning composite (docs/demo-story.md)."""
    composites = {
        a["Properties"]["AlarmName"]: a for a in _of_type(monitoring, "AWS::CloudWatch::CompositeAlarm").values()
    }
    degraded = json.dumps(composites["mlops-model-degraded"]["Properties"]["AlarmRule"])
    warning = json.dumps(composites["mlops-data-drift"]["Properties"]["AlarmRule"])
    alarms = _of_type(monitoring, "AWS::CloudWatch::Alarm")
    accuracy = [k for k, a in alarms.items() if a["Properties"].get("MetricName", "").lower() == "accuracy"]
    features = [
        k for k, a in alarms.items() if k not in accuracy and a["Properties"].get("MetricName") != "BaselineMissing"
    ]
    assert len(accuracy) == 2 and len(features) == 2 + 3 + 3  # mean shift (numeric), PSI, Model Monitor drift (all)
    assert all(k in degraded and k not in warning for k in accuracy)
    assert all(k in warning and k not in degraded for k in features)
    assert "BaselineMissing" not in degraded + warning  # a broken monitor is not a degraded model
    topics = _of_type(monitoring, "AWS::SNS::Topic")
    (topic_id,) = topics
    assert "KmsMasterKeyId" in topics[topic_id]["Properties"]
    for composite in composites.values():
        assert composite["Properties"]["AlarmActions"] == [{"Ref": topic_id}]


def test_cloudwatch_may_use_the_alarm_topic_key(monitoring) -> None:
    (key,) = _of_type(monitoring, "AWS::KMS::Key").values()
    assert key["Properties"]["EnableKeyRotation"] is True
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    assert any(s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"} for s in statements)


def test_the_dashboard_shows_drift_accuracy_latency_invocations_and_instances(monitoring) -> None:
    (dashboard,) = _of_type(monitoring, "AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for needle in ("MeanShiftSigma", "PSI", "KS", "accuracy", "ModelLatency", "Invocations", "InvocationsPerInstance"):
        assert needle in body, needle
    for feature in CONFIG.feature_names:
        assert feature in body


def _drift_functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        k: f
        for k, f in _of_type(template, "AWS::Lambda::Function").items()
        if f["Properties"].get("Environment", {}).get("Variables", {}).get("POWERTOOLS_SERVICE_NAME") == "drift_monitor"
    }


def test_the_drift_function_runs_with_the_drift_core_layer(monitoring) -> None:
    (function,) = _drift_functions(monitoring).values()
    props = function["Properties"]
    (layer_id,) = _of_type(monitoring, "AWS::Lambda::LayerVersion")
    assert {"Ref": layer_id} in props["Layers"]
    layer = monitoring["Resources"][layer_id]["Properties"]
    assert layer["CompatibleRuntimes"] == [props["Runtime"]] == ["python3.13"]
    assert props["ReservedConcurrentExecutions"] == 1 and props["TracingConfig"] == {"Mode": "Active"}
    env = props["Environment"]["Variables"]
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == NAMESPACE and env["ENDPOINT_NAME"] == ENDPOINT
    assert (float(env["DRIFT_SIGMA"]), float(env["PSI_THRESHOLD"])) == (CONFIG.drift_sigma, CONFIG.psi_threshold)
    # The minimum window `mlops drift check` asks for too (issue #17: one config value, not two).
    assert int(env["MIN_ROWS"]) == CONFIG.drift_min_rows
    assert env["APPROVED_PACKAGE_PARAMETER"] == CONFIG.approved_package_parameter
    assert "monitoring-baseline" in json.dumps(env["MONITOR_BASELINE_URI"])
    assert env["GROUND_TRUTH_PREFIX"] == CONFIG.ground_truth_prefix


def test_a_schedule_and_new_capture_objects_trigger_the_drift_function(monitoring, synthesized) -> None:
    template = Template.from_json(monitoring)
    rate = events.Schedule.rate(cdk.Duration.minutes(CONFIG.drift_check_rate_minutes)).expression_string
    template.has_resource_properties("AWS::Events::Rule", {"ScheduleExpression": rate})
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.s3"],
                "detail-type": ["Object Created"],
                "detail": {
                    "bucket": {"name": [Match.any_value()]},
                    "object": {"key": [{"prefix": f"capture/{ENDPOINT}/"}]},
                },
            }
        },
    )
    # S3 delivers the capture bucket's object events to EventBridge.
    buckets = _of_type(synthesized.template("-data"), "AWS::S3::Bucket")
    capture = next(b for k, b in buckets.items() if k.startswith("DataCapture"))
    assert capture["Properties"]["NotificationConfiguration"] == {
        "EventBridgeConfiguration": {"EventBridgeEnabled": True}
    }


@pytest.mark.parametrize(
    ("key", "value"),
    [("monitoring_instance_type", "m5.large"), ("ground_truth_prefix", "Ground/Truth"), ("drift_lookback_hours", 0)],
)
def test_invalid_monitoring_config_names_the_key(key: str, value: object) -> None:
    with pytest.raises(ConfigError, match=key):
        load_config({key: value})


def test_model_monitor_switch_parses_from_the_command_line() -> None:
    assert load_config(overrides={"model_monitor_enabled": "false"}).model_monitor_enabled is False


# ---- the layer's local bundling (pip itself is exercised by `cdk synth`; here a stand-in builds the tree) ----


@pytest.fixture()
def fake_pip(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[Path]:
    builds: list[Path] = []

    def build(target: Path, requirement: str) -> None:
        builds.append(target)
        (target / "python" / "numpy").mkdir(parents=True)
        (target / "python" / "numpy" / "__init__.py").write_text(f"# {requirement}\n")

    monkeypatch.setattr(drift_layer, "build_layer", build)
    return builds


def test_the_layer_is_built_once_per_input_hash_and_linked_into_each_synth(fake_pip, tmp_path: Path) -> None:
    cache = tmp_path / "build"
    first = drift_layer.cached_layer("numpy==2.4.6", cache)
    again = drift_layer.cached_layer("numpy==2.4.6", cache)
    other = drift_layer.cached_layer("numpy==2.3.0", cache)
    assert first == again != other and len(fake_pip) == 2
    assert not [p for p in cache.iterdir() if p.name.startswith("drift_layer-") and p not in (first, other)]
    out = tmp_path / "asset"
    out.mkdir()
    drift_layer.link_tree(first, out)
    assert (out / "python" / "numpy" / "__init__.py").read_text() == "# numpy==2.4.6\n"


def test_the_input_hash_follows_the_drift_core_sources(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    copy = tmp_path / "drift_core"
    shutil.copytree(drift_layer.DRIFT_CORE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(drift_layer, "DRIFT_CORE", copy)
    monkeypatch.setattr(drift_layer, "REPO", tmp_path)
    before = drift_layer.input_key("numpy==2.4.6")
    (copy / "report.py").write_text((copy / "report.py").read_text() + "\n# changed\n")
    assert drift_layer.input_key("numpy==2.4.6") != before


def test_the_layer_pins_the_tested_numpy_for_the_function_runtime() -> None:
    assert drift_layer.numpy_requirement().startswith("numpy==")
    assert drift_layer.PYTHON_VERSION == "3.13"


def test_pruning_keeps_code_and_drops_tests_headers_and_caches(tmp_path: Path) -> None:
    for path in ("numpy/__init__.py", "numpy/_core/tests/test_x.py", "numpy/_core/include/x.h", "numpy/a.pyc"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("")
    drift_layer.prune(tmp_path)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()) == [
        "numpy/__init__.py"
    ]
