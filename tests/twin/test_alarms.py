"""The twin's CloudWatch alarms: AWS's documented evaluation rules on hand-written alarms, then the synthesized ones.

Metric data goes through moto's CloudWatch (put_metric_data, EMF records via put_emf), as in the twin.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from moto import mock_aws

from mlops.twin.cloud import TwinCloud
from mlops.twin.emulators.alarm_definitions import CompositeAlarm, MetricAlarm, UnsupportedAlarm, parse_alarm_rule
from mlops.twin.emulators.alarm_evaluation import Datapoint, evaluate_datapoints
from mlops.twin.emulators.alarms import TwinAlarms
from mlops.twin.emulators.emf import capture_emf, emf_documents, put_emf
from mlops.twin.emulators.metric_data import MotoMetricStore, Sample, statistic
from mlops.twin.templates import Assembly
from tests.conftest import Synthesized

ACCOUNT, REGION = "123456789012", "us-east-1"
T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
DIMENSIONS = [{"Name": "EndpointName", "Value": "ep"}]


def arn(name: str) -> str:
    return f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}"


def metric_alarm(name: str = "high", **overrides: Any) -> MetricAlarm:
    props: dict[str, Any] = {
        "Namespace": "test",
        "MetricName": "Latency",
        "Dimensions": DIMENSIONS,
        "Statistic": "Maximum",
        "Period": 60,
        "EvaluationPeriods": 1,
        "ComparisonOperator": "GreaterThanThreshold",
        "Threshold": 10,
        "TreatMissingData": "missing",
        **overrides,
    }
    return MetricAlarm.from_properties({k: v for k, v in props.items() if v is not None}, name=name, arn=arn(name))


@pytest.fixture()
def cloudwatch() -> Iterator[Any]:
    saved = os.environ.get("MOTO_ACCOUNT_ID")
    os.environ["MOTO_ACCOUNT_ID"] = ACCOUNT
    try:
        with mock_aws():
            yield boto3.client("cloudwatch", region_name=REGION)
    finally:
        if saved is None:
            os.environ.pop("MOTO_ACCOUNT_ID", None)
        else:
            os.environ["MOTO_ACCOUNT_ID"] = saved


def put(cloudwatch: Any, minute: float, *values: float, name: str = "Latency", **extra: Any) -> None:
    datum = {"MetricName": name, "Dimensions": DIMENSIONS, "Timestamp": T0 + timedelta(minutes=minute), **extra}
    datum["Values" if len(values) > 1 else "Value"] = list(values) if len(values) > 1 else values[0]
    cloudwatch.put_metric_data(Namespace="test", MetricData=[datum])


def twin_alarms(*alarms: MetricAlarm, composites: tuple[CompositeAlarm, ...] = ()) -> TwinAlarms:
    return TwinAlarms(alarms, composites, MotoMetricStore(ACCOUNT, REGION))


def states(twin: TwinAlarms, now: datetime) -> dict[str, str]:
    twin.evaluate(now)
    return {a.name: twin.state(a.name).value for a in [*twin.metric_alarms, *twin.composite_alarms]}


# -- missing data and M of N: the two tables of AWS's "How alarm state is evaluated when data is missing" -------

# Evaluation range 5, EvaluationPeriods 3; 0 = not breaching, X = breaching, - = missing; most recent last.
# Expected states for TreatMissingData missing, ignore, breaching, notBreaching ("keep": state unchanged).
DOCUMENTED = [
    (3, "0 - X - X", "OK OK OK OK"),
    (3, "0 - - - -", "OK OK OK OK"),
    (3, "- - - - -", "INSUFFICIENT_DATA keep ALARM OK"),
    (3, "0 X X - X", "ALARM ALARM ALARM ALARM"),
    (3, "- - X - -", "ALARM keep ALARM OK"),
    (2, "0 - X - X", "ALARM ALARM ALARM ALARM"),
    (2, "0 0 X 0 X", "ALARM ALARM ALARM ALARM"),
    (2, "0 - X - -", "OK OK ALARM OK"),
    (2, "- - - - 0", "OK OK ALARM OK"),
    (2, "- - - X -", "ALARM keep ALARM OK"),
]


@pytest.mark.parametrize(("m", "data", "expected"), DOCUMENTED)
def test_the_documented_missing_data_tables(m: int, data: str, expected: str) -> None:
    points = [
        Datapoint(T0 + timedelta(minutes=i), {"0": 1.0, "X": 50.0, "-": None}[c], 1) for i, c in enumerate(data.split())
    ]
    got = []
    for treat in ("missing", "ignore", "breaching", "notBreaching"):
        alarm = metric_alarm(EvaluationPeriods=3, DatapointsToAlarm=m, TreatMissingData=treat)
        outcome = evaluate_datapoints(alarm, points, "INSUFFICIENT_DATA")
        got.append("keep" if outcome is None else outcome[0])
    assert got == expected.split()


def test_m_of_n_on_stored_data(cloudwatch: Any) -> None:
    twin = twin_alarms(metric_alarm(EvaluationPeriods=3, DatapointsToAlarm=2))
    for minute, value in enumerate([1, 50, 1, 50, 1]):
        put(cloudwatch, minute + 0.5, value)
    assert twin.evaluate(T0 + timedelta(minutes=4))[0].new.value == "ALARM"  # 50 1 50 -> 2 of 3
    assert twin.evaluate(T0 + timedelta(minutes=5))[0].new.value == "OK"  # 1 50 1 -> 1 of 3
    assert "1 out of the last 3 datapoints" not in twin.state("high").reason  # OK reports the non-breaching ones
    assert "2 out of the last 3 datapoints" in twin.state("high").reason


def test_a_period_counts_once_it_has_ended(cloudwatch: Any) -> None:
    twin = twin_alarms(metric_alarm())
    put(cloudwatch, 0.5, 50)
    assert twin.evaluate(T0 + timedelta(seconds=59)) == []  # its period [10:00, 10:01) is still open
    (transition,) = twin.evaluate(T0 + timedelta(minutes=1))
    assert (transition.old.value, transition.new.value) == ("INSUFFICIENT_DATA", "ALARM")
    assert "1 out of the last 1 datapoint [50.0" in transition.reason and "greater than the threshold (10.0)" in (
        transition.reason
    )


def test_each_comparison_operator(cloudwatch: Any) -> None:
    put(cloudwatch, 0.5, 10)
    operators = {
        "GreaterThanThreshold": "OK",
        "GreaterThanOrEqualToThreshold": "ALARM",
        "LessThanThreshold": "OK",
        "LessThanOrEqualToThreshold": "ALARM",
    }
    twin = twin_alarms(*(metric_alarm(op, ComparisonOperator=op) for op in operators))
    assert states(twin, T0 + timedelta(minutes=1)) == operators


@pytest.mark.parametrize(
    ("treat", "after_range"),
    [("notBreaching", "OK"), ("breaching", "ALARM"), ("ignore", "ALARM"), ("missing", "INSUFFICIENT_DATA")],
)
def test_data_that_stops_is_reevaluated_until_it_leaves_the_range(
    cloudwatch: Any, treat: str, after_range: str
) -> None:
    twin = twin_alarms(metric_alarm(TreatMissingData=treat))
    put(cloudwatch, 0.5, 50)
    assert states(twin, T0 + timedelta(minutes=1))["high"] == "ALARM"
    # The evaluation range is 3 periods for EvaluationPeriods 1: the last real datapoint still decides...
    assert states(twin, T0 + timedelta(minutes=3))["high"] == "ALARM"
    # ...until it is out of range; then TreatMissingData decides.
    assert states(twin, T0 + timedelta(minutes=4))["high"] == after_range


def test_statistics_over_raw_values_and_statistic_sets(cloudwatch: Any) -> None:
    put(cloudwatch, 0.1, 1, 2, 3, 4)
    cloudwatch.put_metric_data(
        Namespace="test",
        MetricData=[{"MetricName": "Latency", "Dimensions": DIMENSIONS, "Timestamp": T0 + timedelta(seconds=30),
                     "StatisticValues": {"SampleCount": 2, "Sum": 30, "Minimum": 10, "Maximum": 20}}],
    )  # fmt: skip
    store = MotoMetricStore(ACCOUNT, REGION)
    samples = store.samples("test", "Latency", {"EndpointName": "ep"}, None, T0, T0 + timedelta(minutes=1))
    expected = {"SampleCount": 6, "Sum": 40, "Average": 40 / 6, "Minimum": 1, "Maximum": 20}
    assert {name: statistic(name, samples) for name in expected} == pytest.approx(expected)
    assert statistic("p50", samples) is None  # a statistic set with distinct min and max has no raw values


def test_percentiles_use_the_nearest_rank() -> None:
    samples = [Sample(T0, 1, float(v), float(v), float(v), (float(v),)) for v in range(1, 101)]
    assert [statistic(p, samples) for p in ("p0", "p50", "p90", "p99", "p99.5", "p100")] == [1, 50, 90, 99, 100, 100]
    uniform_set = Sample(T0, 3, 15.0, 5.0, 5.0, (5.0, 5.0, 5.0))  # expandable: min == max
    assert statistic("p50", [uniform_set]) == 5.0


def test_a_percentile_alarm(cloudwatch: Any) -> None:
    alarm = metric_alarm("p90", Statistic=None, ExtendedStatistic="p90")
    put(cloudwatch, 0.2, *range(1, 11))  # p90 of 1..10 = 9
    assert states(twin_alarms(alarm), T0 + timedelta(minutes=1)) == {"p90": "OK"}
    put(cloudwatch, 1.2, *range(5, 15))  # p90 = 13
    assert states(twin_alarms(alarm), T0 + timedelta(minutes=2)) == {"p90": "ALARM"}


def test_low_sample_percentiles_can_keep_the_state(cloudwatch: Any) -> None:
    evaluate = metric_alarm("evaluate", Statistic=None, ExtendedStatistic="p99")
    ignore = metric_alarm("ignore", Statistic=None, ExtendedStatistic="p99", EvaluateLowSampleCountPercentile="ignore")
    put(cloudwatch, 0.5, 50, 60)  # 2 samples: p99 needs 1000 to be significant
    assert states(twin_alarms(evaluate, ignore), T0 + timedelta(minutes=1)) == {
        "evaluate": "ALARM",
        "ignore": "INSUFFICIENT_DATA",
    }


def test_a_metric_is_its_namespace_name_and_exact_dimensions(cloudwatch: Any) -> None:
    extra = [*DIMENSIONS, {"Name": "Variant", "Value": "a"}]
    cloudwatch.put_metric_data(Namespace="test", MetricData=[{"MetricName": "Latency", "Dimensions": extra,
                                                              "Timestamp": T0, "Value": 50}])  # fmt: skip
    cloudwatch.put_metric_data(Namespace="other", MetricData=[{"MetricName": "Latency", "Dimensions": DIMENSIONS,
                                                               "Timestamp": T0, "Value": 50}])  # fmt: skip
    put(cloudwatch, 0.5, 1, Unit="Milliseconds")
    twin = twin_alarms(metric_alarm("any"), metric_alarm("seconds", Unit="Seconds"))
    assert states(twin, T0 + timedelta(minutes=1)) == {"any": "OK", "seconds": "INSUFFICIENT_DATA"}


def test_unsupported_definitions_are_rejected_clearly() -> None:
    with pytest.raises(UnsupportedAlarm, match="metric math"):
        MetricAlarm.from_properties({"Metrics": [{"Id": "e1", "Expression": "m1 * 2"}]}, name="m", arn=arn("m"))
    with pytest.raises(UnsupportedAlarm, match="tm90"):
        metric_alarm(Statistic=None, ExtendedStatistic="tm90")
    with pytest.raises(UnsupportedAlarm, match="DatapointsToAlarm"):
        metric_alarm(EvaluationPeriods=2, DatapointsToAlarm=3)


# -- composite alarms --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ('ALARM("a")', True),
        ("ALARM(a)", True),
        (f'ALARM("{arn("a")}")', True),
        ('OK("b")', True),
        ('INSUFFICIENT_DATA("c")', True),
        ('ALARM("b") OR INSUFFICIENT_DATA("c")', True),
        ('ALARM("a") AND ALARM("b")', False),
        ('NOT ALARM("b")', True),
        ("TRUE AND NOT FALSE", True),
        ('ALARM("b") OR ALARM("a") AND OK("a")', False),  # AND binds tighter than OR
        ('(ALARM("b") OR ALARM("a")) AND NOT (OK("a") OR ALARM("b"))', True),
        ("FALSE", False),
    ],
)
def test_alarm_rule_expressions(rule: str, expected: bool) -> None:
    current = {"a": "ALARM", arn("a"): "ALARM", "b": "OK", "c": "INSUFFICIENT_DATA"}
    assert parse_alarm_rule(rule).value(lambda name: current[name]) is expected  # type: ignore[arg-type,return-value]


@pytest.mark.parametrize("rule", ['ALARM("a"', "ALARM a", 'ALARM("a") XOR OK("b")', "NOT", 'ALARM("a") OK("b")', ""])
def test_malformed_alarm_rules_are_rejected(rule: str) -> None:
    with pytest.raises(UnsupportedAlarm, match="AlarmRule"):
        parse_alarm_rule(rule)


def test_composites_follow_their_alarms_and_other_composites(cloudwatch: Any) -> None:
    high, low = metric_alarm("high"), metric_alarm("low", ComparisonOperator="LessThanThreshold", Threshold=0)
    either = CompositeAlarm("either", arn("either"), f'ALARM("{high.arn}") OR ALARM(low)')
    page = CompositeAlarm("page", arn("page"), 'ALARM("either") AND NOT INSUFFICIENT_DATA("low")')
    twin = twin_alarms(high, low, composites=(page, either))  # page depends on either: evaluated after it
    assert states(twin, T0) == {"high": "INSUFFICIENT_DATA", "low": "INSUFFICIENT_DATA", "page": "OK", "either": "OK"}
    put(cloudwatch, 0.5, 50)
    transitions = twin.evaluate(T0 + timedelta(minutes=1))
    assert [(t.alarm_name, t.new.value) for t in transitions] == [
        ("high", "ALARM"),
        ("low", "OK"),
        ("either", "ALARM"),
        ("page", "ALARM"),
    ]
    assert high.arn in transitions[2].reason and json.loads(transitions[2].new.reason_data or "")["triggeringAlarms"]


def test_composite_references_must_exist_and_not_loop() -> None:
    with pytest.raises(UnsupportedAlarm, match="no alarm"):
        twin_alarms(composites=(CompositeAlarm("c", arn("c"), 'ALARM("nowhere")'),))
    loop = (CompositeAlarm("a", arn("a"), 'ALARM("b")'), CompositeAlarm("b", arn("b"), 'OK("a")'))
    with pytest.raises(UnsupportedAlarm, match="itself"):
        twin_alarms(composites=loop)


# -- transitions and their EventBridge events -------------------------------------------------------------------


def test_only_state_changes_are_transitions_and_each_has_the_aws_event_shape(cloudwatch: Any) -> None:
    twin = twin_alarms(metric_alarm(AlarmDescription="latency", TreatMissingData="notBreaching"))
    assert [t.new.value for t in twin.evaluate(T0)] == ["OK"]
    assert twin.evaluate(T0 + timedelta(minutes=1)) == []
    put(cloudwatch, 1.5, 50)
    (transition,) = twin.evaluate(T0 + timedelta(minutes=2))
    event = transition.event()
    assert {k: event[k] for k in ("version", "source", "detail-type", "account", "region", "resources", "time")} == {
        "version": "0",
        "source": "aws.cloudwatch",
        "detail-type": "CloudWatch Alarm State Change",
        "account": ACCOUNT,
        "region": REGION,
        "resources": [arn("high")],
        "time": "2026-11-27T10:02:00Z",
    }
    detail = event["detail"]
    assert detail["alarmName"] == "high"
    assert detail["state"]["value"] == "ALARM" and detail["state"]["timestamp"] == "2026-11-27T10:02:00.000+0000"
    assert detail["previousState"]["value"] == "OK" and "NonBreaching" in detail["previousState"]["reason"]
    assert json.loads(detail["state"]["reasonData"])["recentDatapoints"] == [50.0]
    (metric,) = detail["configuration"]["metrics"]
    assert metric["metricStat"] == {
        "metric": {"namespace": "test", "name": "Latency", "dimensions": {"EndpointName": "ep"}},
        "period": 60,
        "stat": "Maximum",
    }


# -- EMF ---------------------------------------------------------------------------------------------------------


def test_powertools_emf_records_become_metric_data_at_the_twins_time(
    cloudwatch: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "svc")
    with capture_emf() as documents:
        print("a log line that is not EMF")
        with single_metric(name="Latency", unit=MetricUnit.Milliseconds, value=42.0, namespace="test",
                           default_dimensions={"EndpointName": "ep"}):  # fmt: skip
            pass
    assert len(documents) == 1
    assert put_emf(cloudwatch, documents, T0) == 1
    store = MotoMetricStore(ACCOUNT, REGION)
    dimensions = {"EndpointName": "ep", "service": "svc"}  # Powertools adds `service`
    (sample,) = store.samples("test", "Latency", dimensions, "Milliseconds", T0, T0 + timedelta(seconds=1))
    assert sample.values == (42.0,) and sample.timestamp == T0


def test_emf_arrays_dimension_sets_and_errors(cloudwatch: Any) -> None:
    record = {
        "_aws": {"Timestamp": int(T0.timestamp() * 1000), "CloudWatchMetrics": [
            {"Namespace": "test", "Dimensions": [["EndpointName"], []], "Metrics": [{"Name": "Latency"}]}]},
        "EndpointName": "ep",
        "Latency": [5, 7],
    }  # fmt: skip
    (document,) = emf_documents("START\n" + json.dumps(record) + "\nEND")
    assert put_emf(cloudwatch, [json.dumps(document)]) == 2  # its own Timestamp: T0
    store = MotoMetricStore(ACCOUNT, REGION)
    end = T0 + timedelta(minutes=1)
    assert statistic("Sum", store.samples("test", "Latency", {"EndpointName": "ep"}, None, T0, end)) == 12
    assert statistic("SampleCount", store.samples("test", "Latency", {}, None, T0, end)) == 2
    with pytest.raises(ValueError, match="dimension 'EndpointName'"):
        put_emf(cloudwatch, [{**record, "EndpointName": None}])


# -- the synthesized alarms --------------------------------------------------------------------------------------


@pytest.fixture()
def cloud(twin_assembly: Synthesized) -> Iterator[TwinCloud]:
    twin = TwinCloud(Assembly.load(twin_assembly.outdir))
    with twin.running():
        yield twin


def drift_monitor_emf(
    cloud: TwinCloud, report: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> list[dict[str, Any]]:
    """The EMF records the deployed drift monitor's own `emit` prints for `report`, in its environment."""
    (function,) = [f for f in cloud.dispatcher.functions.values() if f.logical_id.startswith("DriftMonitorFunction")]
    module = function.load()
    for key, value in function.environment.items():
        monkeypatch.setenv(key, value)
    settings = module.Settings.from_env()
    with capture_emf() as documents:
        module.emit(settings, module.run_metrics(report, objects=1, records=report["rows"], malformed=0))
    return documents


def test_a_drifted_feature_warns_and_lost_accuracy_sets_the_model_degraded_composite(
    cloud: TwinCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    alarms = TwinAlarms.from_cloud(cloud)
    monitoring, _ = cloud.assembly.stack("-monitoring")
    composite = alarms.alarm("mlops-model-degraded")
    assert isinstance(composite, CompositeAlarm) and composite.stack == monitoring
    start = {t.alarm.logical_id: t.new.value for t in alarms.evaluate(T0)}
    assert set(start.values()) == {"OK"}  # notBreaching everywhere: no data is healthy

    report = {
        "rows": 500,
        "drifted_features": ["balance"],
        "features": {
            "balance": {"mean_shift_sigma": 5.2, "psi": 0.41, "ks": 0.3},
            "income": {"mean_shift_sigma": 0.3, "psi": 0.02, "ks": 0.05},
            "student": {"mean_shift_sigma": 0.1, "psi": 0.01, "ks": None},
        },
    }
    documents = drift_monitor_emf(cloud, report, monkeypatch)
    assert put_emf(cloud.client("cloudwatch"), documents, T0 + timedelta(minutes=20)) == len(documents) > 5

    assert alarms.evaluate(T0 + timedelta(minutes=59)) == []  # the hour's period has not ended yet
    transitions = alarms.evaluate(T0 + timedelta(hours=1))
    changed = {t.alarm.logical_id.rstrip("0123456789ABCDEF"): t.new.value for t in transitions}
    # The early warning only: retraining waits for ground truth (docs/demo-story.md).
    assert changed == {"BalanceMeanShiftAlarm": "ALARM", "BalancePsiAlarm": "ALARM", "DataDrift": "ALARM"}
    assert alarms.state("mlops-model-degraded").value == "OK"

    # Ground truth joined with the predictions: accuracy below A_min sets the composite that starts retraining.
    (function,) = [f for f in cloud.dispatcher.functions.values() if f.logical_id.startswith("DriftMonitorFunction")]
    module = function.load()
    with capture_emf() as quality:
        module.emit(module.Settings.from_env(), module.quality_metrics({"accuracy": 0.7}, matched=300, unmatched=0))
    put_emf(cloud.client("cloudwatch"), quality, T0 + timedelta(minutes=80))
    transitions = alarms.evaluate(T0 + timedelta(hours=2))
    changed = {t.alarm.logical_id.rstrip("0123456789ABCDEF"): t.new.value for t in transitions}
    assert changed == {"AccuracyAlarm": "ALARM", "ModelDegraded": "ALARM"}
    assert alarms.state("mlops-model-degraded").value == "ALARM"
    event = next(t for t in transitions if t.alarm_name == "mlops-model-degraded").event()
    assert event["resources"] == [composite.arn] and event["detail"]["state"]["value"] == "ALARM"
    assert event["detail"]["configuration"]["alarmRule"] == composite.rule
    # Registered in the resolver: the retraining rule's import of the composite's ARN now resolves to it.
    retraining, template = cloud.assembly.stack("-retraining")
    rules = template["Resources"].values()
    (rule,) = [r for r in rules if r["Type"] == "AWS::Events::Rule" and "EventPattern" in r["Properties"]]
    assert cloud.resolver.resolve(retraining, rule["Properties"]["EventPattern"]["resources"]) == [composite.arn]
