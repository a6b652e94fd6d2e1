"""`mlops cost`: items name their resource and sum to the total; missing templates exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops.rightsizing.catalogue import Catalogue
from mlops.rightsizing.cost import Usage, estimate, load_templates
from mlops.rightsizing.schedules import runs_per_month

HOURLY_SCHEDULE = {
    "Resources": {
        "Schedule": {
            "Type": "AWS::SageMaker::MonitoringSchedule",
            "Properties": {
                "MonitoringScheduleConfig": {
                    "ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"},
                    "MonitoringJobDefinitionName": {"Fn::GetAtt": ["DataQuality", "JobDefinitionName"]},
                }
            },
        },
        "DataQuality": {
            "Type": "AWS::SageMaker::DataQualityJobDefinition",
            "Properties": {"JobResources": {"ClusterConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1}}},
        },
        "Drift": {"Type": "AWS::Lambda::Function", "Properties": {"MemorySize": 512}},
        "DriftSchedule": {
            "Type": "AWS::Events::Rule",
            "Properties": {
                "ScheduleExpression": "rate(15 minutes)",
                "Targets": [{"Arn": {"Fn::GetAtt": ["Drift", "Arn"]}}],
            },
        },
        "Retrain": {
            "Type": "AWS::StepFunctions::StateMachine",
            "Properties": {
                "DefinitionString": {
                    "Fn::Join": [
                        "",
                        [
                            '{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"B"},"B":{"Type":"Task",',
                            '"Resource":"',
                            {"Ref": "X"},
                            '","End":true}}}',
                        ],
                    ]
                }
            },
        },
        "ServerlessConfig": {
            "Type": "AWS::SageMaker::EndpointConfig",
            "Properties": {
                "ProductionVariants": [
                    {"VariantName": "AllTraffic", "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 5}}
                ]
            },
        },
        "PsiAlarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {"Namespace": "mlops/drift", "MetricName": "PSI"}},
        "PsiAlarm2": {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {"Namespace": "mlops/drift", "MetricName": "PSI"},
        },
        "ErrorsAlarm": {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {"Namespace": "AWS/SageMaker", "MetricName": "Invocation5XXErrors"},
        },
        "Endpoint": {
            "Type": "AWS::SageMaker::Endpoint",
            "Properties": {"EndpointConfigName": {"Fn::GetAtt": ["ServerlessConfig", "EndpointConfigName"]}},
        },
    }
}


def _items_by(result, item: str) -> list:
    return [i for i in result.items if i.item == item]


def test_items_of_the_synthesized_app_sum_to_the_total_and_name_their_resource(
    synthesized, catalogue: Catalogue
) -> None:
    result = estimate(load_templates(synthesized.outdir), catalogue, "us-east-1")
    assert result.items
    assert result.total_usd == pytest.approx(sum(i.monthly_usd for i in result.items), abs=0.001)
    for item in result.items:
        stack, rest = item.resource.split("/", 1)
        logical_id, type_name = rest.split(" (")
        resource = synthesized.templates[stack]["Resources"][logical_id]
        assert resource["Type"] == type_name.rstrip(")")
        assert item.assumption and item.price_source
    names = {i.item for i in result.items}
    assert {"MLflow tracking server", "KMS key", "S3 storage", "endpoint AllTraffic instances"} <= names
    assert any(n.startswith("pipeline step ") for n in names)
    endpoint = _items_by(result, "endpoint AllTraffic instances")[0]
    # Defaults: ml.m5.large, auto scaling 1..4, at the maximum 10% of the month.
    assert endpoint.unit == "ml.m5.large instance-hours"
    assert endpoint.quantity == pytest.approx(730 * (1 + 3 * 0.1))


def test_schedules_job_definitions_state_machines_and_serverless(tmp_path: Path, catalogue: Catalogue) -> None:
    (tmp_path / "Mlops-monitoring.template.json").write_text(json.dumps(HOURLY_SCHEDULE))
    result = estimate(load_templates(tmp_path), catalogue, "us-east-1", Usage(monitor_job_minutes=6))
    monitor = _items_by(result, "monitoring job instances")[0]
    assert monitor.unit == "ml.m5.xlarge instance-hours" and monitor.quantity == pytest.approx(73.0)
    requests = _items_by(result, "Lambda requests")[0]
    assert requests.quantity == pytest.approx(runs_per_month("rate(15 minutes)")) and "scheduled" in requests.assumption
    transitions = _items_by(result, "Step Functions transitions")[0]
    assert transitions.quantity == pytest.approx(4 * 2 * 2)
    assert len(_items_by(result, "CloudWatch alarm")) == 3
    metric = _items_by(result, "CloudWatch custom metric")  # billed once, not once per alarm; AWS/ metrics are free
    assert len(metric) == 1 and metric[0].resource.startswith("Mlops-monitoring/PsiAlarm ")
    serverless = _items_by(result, "serverless endpoint compute")[0]
    assert serverless.quantity == pytest.approx(1_000_000 * 0.05 * 2)
    assert result.total_usd == pytest.approx(sum(i.monthly_usd for i in result.items), abs=0.001)


def test_cost_cli_prints_items_and_assumptions(cli, synthesized, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["cost", "--cdk-out", str(synthesized.outdir), "--pipeline-runs-per-month", "30", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["usage_assumptions"]["pipeline_runs_per_month"] == 30
    assert data["total_monthly_usd"] == pytest.approx(sum(i["monthly_usd"] for i in data["items"]), abs=0.001)
    assert cli(["cost", "--cdk-out", str(synthesized.outdir)]) == 0
    text = capsys.readouterr().out
    assert "total" in text and "assumptions:" in text and "not fetched live" in text.lower()


def test_missing_templates_exit_2_naming_the_folder(cli, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "cdk.out"
    assert cli(["cost", "--cdk-out", str(missing)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(missing) in err and "make synth" in err


def test_unknown_region_exits_2(cli, synthesized, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["cost", "--cdk-out", str(synthesized.outdir), "--region", "eu-north-9"]) == 2
    assert "region 'eu-north-9' is not priced" in capsys.readouterr().err
