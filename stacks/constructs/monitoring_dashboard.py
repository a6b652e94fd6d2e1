"""The monitoring dashboard: drift per feature, accuracy, latency, invocations and instance count of the endpoint."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

WIDTH = 8


def endpoint_metric(endpoint: str, variant: str, name: str, statistic: str, period: cdk.Duration) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace="AWS/SageMaker",
        metric_name=name,
        dimensions_map={"EndpointName": endpoint, "VariantName": variant},
        statistic=statistic,
        period=period,
    )


def monitoring_dashboard(
    scope: Construct,
    construct_id: str,
    *,
    name: str,
    endpoint: str,
    variant: str,
    mean_shift: Sequence[cloudwatch.IMetric],
    psi: Sequence[cloudwatch.IMetric],
    ks: Sequence[cloudwatch.IMetric],
    accuracy: Sequence[cloudwatch.IMetric],
    data_volume: Sequence[cloudwatch.IMetric],
    sigma: float,
    psi_threshold: float,
    min_accuracy: float,
    alarms: Sequence[cloudwatch.IAlarm],
) -> cloudwatch.Dashboard:
    minute = cdk.Duration.minutes(1)
    invocations = endpoint_metric(endpoint, variant, "Invocations", "Sum", minute)
    per_instance = endpoint_metric(endpoint, variant, "InvocationsPerInstance", "Sum", minute)
    # SageMaker publishes no instance-count metric for a variant; InvocationsPerInstance is Invocations divided
    # by the instance count, so the ratio recovers it (for minutes with traffic).
    instances = cloudwatch.MathExpression(
        expression="IF(per_instance > 0, invocations / per_instance)",
        using_metrics={"invocations": invocations, "per_instance": per_instance},
        label="Instances (Invocations / InvocationsPerInstance)",
        period=minute,
    )

    def graph(title: str, metrics: Sequence[cloudwatch.IMetric], limit: float | None = None) -> cloudwatch.GraphWidget:
        annotations = [cloudwatch.HorizontalAnnotation(value=limit, label="alarm threshold")] if limit else None
        return cloudwatch.GraphWidget(title=title, left=list(metrics), width=WIDTH, left_annotations=annotations)

    return cloudwatch.Dashboard(
        scope,
        construct_id,
        dashboard_name=name,
        widgets=[
            [
                graph("Mean shift (baseline sigmas) per feature", mean_shift, sigma),
                graph("PSI per feature", psi, psi_threshold),
                graph("KS per feature", ks),
            ],
            [
                graph("Accuracy against ground truth", accuracy, min_accuracy),
                graph(
                    "Model latency (microseconds)",
                    [
                        endpoint_metric(endpoint, variant, "ModelLatency", "p50", minute),
                        endpoint_metric(endpoint, variant, "ModelLatency", "p99", minute),
                    ],
                ),
                cloudwatch.GraphWidget(
                    title="Invocations and instances", left=[invocations], right=[instances], width=WIDTH
                ),
            ],
            [
                graph("Captured data analysed by the drift monitor", data_volume),
                cloudwatch.AlarmStatusWidget(title="Alarms", alarms=list(alarms), width=2 * WIDTH),
            ],
        ],
    )
