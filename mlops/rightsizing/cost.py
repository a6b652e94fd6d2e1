"""``mlops cost``: a monthly estimate of the deployed architecture from the synthesized templates.

Resources are counted by type in ``cdk.out/*.template.json`` and priced with the catalogue plus usage
assumptions (``Usage``, each overridable by a flag and printed). Every item names the resource it comes from;
items are rounded to cents and the total is the sum of the rounded items, so the printed items add up.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mlops.errors import UserError
from mlops.rightsizing.catalogue import HOURS_PER_MONTH, Catalogue, Price
from mlops.rightsizing.schedules import runs_per_month
from mlops.user_input import read_json_object

# Resources with no standing charge whose usage charges are negligible at this platform's volumes.
UNPRICED = (
    "AWS::IAM::",
    "AWS::S3::BucketPolicy",
    "AWS::SNS::",
    "AWS::SQS::",
    "AWS::Events::Rule",
    "AWS::Logs::LogGroup",
    "AWS::SSM::Parameter",
    "AWS::Lambda::Permission",
    "AWS::Lambda::EventInvokeConfig",
    "AWS::Lambda::LayerVersion",
    "AWS::SageMaker::ModelPackageGroup",
    "AWS::SageMaker::Model",
    "AWS::SageMaker::EndpointConfig",
    "AWS::SageMaker::DataQualityJobDefinition",
    "AWS::SageMaker::ModelQualityJobDefinition",
    "AWS::ApplicationAutoScaling::",
    "AWS::CDK::Metadata",
    "AWS::KMS::Alias",
    "AWS::DynamoDB::",  # on-demand (pay per request) tables: a few items and requests per retraining run
    "Custom::",
)
# CDK's own helper functions run only while a stack deploys.
_DEPLOY_TIME_FUNCTION = re.compile(r"CustomResource|Provider|LogRetention|AutoDelete|BucketNotification|AWS679f53")
_PLACEHOLDER = re.compile(r"\$\{[^}]+\}")


@dataclass(frozen=True)
class Usage:
    """Usage the templates do not state; each is a flag of ``mlops cost`` and is printed with the estimate."""

    pipeline_runs_per_month: float = 4.0
    job_minutes: float = 10.0  # billed minutes per processing/training job, including start-up
    monitor_job_minutes: float = 10.0
    endpoint_scale_out_share: float = 0.1  # share of the month the endpoint runs at its maximum count
    serverless_requests_per_month: float = 1_000_000.0
    serverless_seconds_per_request: float = 0.05
    lambda_invocations_per_month: float = 1_000.0  # per function with no schedule
    lambda_seconds: float = 1.0
    state_machine_executions_per_month: float = 4.0
    s3_gb_per_bucket: float = 10.0
    s3_puts_per_bucket: float = 10_000.0
    feature_rows_per_run: float = 10_000.0
    feature_reads_per_month: float = 0.0
    online_store_gb: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Item:
    item: str
    resource: str  # "<stack>/<logical id> (<type>)"
    quantity: float
    unit: str
    unit_usd: float
    monthly_usd: float
    assumption: str
    price_source: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Estimate:
    region: str
    items: list[Item] = field(default_factory=list)
    unpriced: dict[str, int] = field(default_factory=dict)
    usage: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def total_usd(self) -> float:
        return round(sum(i.monthly_usd for i in self.items), 2)

    def to_dict(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "total_monthly_usd": self.total_usd,
            "items": [i.to_dict() for i in self.items],
            "unpriced_resources": self.unpriced,
            "usage_assumptions": self.usage,
            "notes": self.notes,
        }


@dataclass(frozen=True)
class _Resource:
    stack: str
    logical_id: str
    type: str
    properties: dict[str, Any]
    condition: str | None = None

    @property
    def name(self) -> str:
        return f"{self.stack}/{self.logical_id} ({self.type})"


def load_templates(folder: Path) -> dict[str, dict[str, Any]]:
    files = sorted(folder.glob("*.template.json")) if folder.is_dir() else []
    if not files:
        raise UserError(f"{folder}: no *.template.json found: run `make synth` (or `cdk synth`) first")
    templates = {}
    for path in files:
        templates[path.name.removesuffix(".template.json")] = read_json_object(path, "template")
    return templates


def estimate(
    templates: dict[str, dict[str, Any]],
    catalogue: Catalogue,
    region: str,
    usage: Usage = Usage(),
    fallback_instance: str = "ml.m5.large",
) -> Estimate:
    catalogue.require_region(region)
    resources = list(_resources(templates))
    pricer = _Pricer(catalogue, region, usage, resources, fallback_instance)
    result = Estimate(region=region, usage=usage.to_dict())
    unpriced: Counter[str] = Counter()
    for resource in resources:
        items = pricer.price(resource)
        if items is None:
            unpriced[resource.type] += 1
        else:
            result.items.extend(items)
    result.unpriced = dict(sorted(unpriced.items()))
    result.notes = pricer.notes
    return result


def _resources(templates: dict[str, dict[str, Any]]) -> Iterator[_Resource]:
    for stack, template in templates.items():
        for logical_id, body in (template.get("Resources") or {}).items():
            properties = body.get("Properties") or {}
            yield _Resource(stack, logical_id, str(body.get("Type", "")), properties, body.get("Condition"))


class _Pricer:
    def __init__(
        self, catalogue: Catalogue, region: str, usage: Usage, resources: list[_Resource], fallback: str
    ) -> None:
        self.catalogue, self.region, self.usage, self.fallback = catalogue, region, usage, fallback
        self.resources = resources
        self.notes: list[str] = []
        self._metrics_seen: set[tuple[str, str, tuple[tuple[str, str], ...]]] = set()

    def price(self, r: _Resource) -> list[Item] | None:
        handler = {
            "AWS::SageMaker::Endpoint": self._endpoint,
            "AWS::SageMaker::MonitoringSchedule": self._monitoring,
            "AWS::SageMaker::Pipeline": self._pipeline,
            "AWS::SageMaker::FeatureGroup": self._feature_group,
            "AWS::SageMaker::MlflowTrackingServer": self._mlflow,
            "AWS::Lambda::Function": self._lambda,
            "AWS::StepFunctions::StateMachine": self._state_machine,
            "AWS::S3::Bucket": self._bucket,
            "AWS::KMS::Key": self._kms,
            "AWS::CloudWatch::Alarm": self._alarm,
            "AWS::CloudWatch::CompositeAlarm": self._composite_alarm,
            "AWS::CloudWatch::Dashboard": self._dashboard,
        }.get(r.type)
        if handler is not None:
            if r.condition:
                self.notes.append(f"{r.name}: exists only when condition {r.condition} holds; priced as deployed")
            return handler(r)
        if r.type.startswith(UNPRICED):
            return None
        self.notes.append(f"{r.name}: no price model; not included")
        return None

    # -- helpers ----------------------------------------------------------------------------------------------
    def _item(self, name: str, r: _Resource, qty: float, unit: str, price: Price, per: float, why: str) -> Item:
        """``per``: how many units one catalogue price covers (1000 for a per-thousand price)."""
        monthly = round(qty / per * price.usd, 2)
        return Item(name, r.name, round(qty, 4), unit, price.usd / per, monthly, why, price.source)

    def _instance_price(self, instance_type: Any, where: str) -> tuple[str, Price]:
        if not isinstance(instance_type, str):
            self.notes.append(f"{where}: instance type is not a literal in the template; priced as {self.fallback}")
            instance_type = self.fallback
        return instance_type, self.catalogue.hourly(instance_type, self.region)

    def _in_stack(self, stack: str, type_name: str) -> list[_Resource]:
        return [x for x in self.resources if x.stack == stack and x.type == type_name]

    # -- SageMaker ------------------------------------------------------------------------------------------------
    def _endpoint(self, r: _Resource) -> list[Item]:
        config_id = _ref_id(r.properties.get("EndpointConfigName"))
        configs = self._in_stack(r.stack, "AWS::SageMaker::EndpointConfig")
        config = next((c for c in configs if c.logical_id == config_id), configs[0] if len(configs) == 1 else None)
        if config is None:
            self.notes.append(f"{r.name}: its endpoint config is not in the templates; not priced")
            return []
        items = []
        targets = [
            t
            for t in self._in_stack(r.stack, "AWS::ApplicationAutoScaling::ScalableTarget")
            if t.properties.get("ServiceNamespace") == "sagemaker"
        ]
        for variant in config.properties.get("ProductionVariants", []):
            serverless = variant.get("ServerlessConfig")
            if serverless:
                items.append(self._serverless(r, serverless))
                continue
            itype, price = self._instance_price(variant.get("InstanceType"), r.name)
            count = float(variant.get("InitialInstanceCount", 1))
            why = f"{count:g} x {itype} all month"
            if len(targets) == 1:
                low = float(targets[0].properties.get("MinCapacity", count))
                high = float(targets[0].properties.get("MaxCapacity", low))
                share = self.usage.endpoint_scale_out_share
                count = low + (high - low) * share
                why = f"{itype}: auto scaling {low:g}..{high:g}, at the maximum {share:.0%} of the month"
            name = f"endpoint {variant.get('VariantName', 'variant')} instances"
            items.append(self._item(name, r, count * HOURS_PER_MONTH, f"{itype} instance-hours", price, 1, why))
        return items

    def _serverless(self, r: _Resource, cfg: dict[str, Any]) -> Item:
        memory = float(cfg.get("MemorySizeInMB", 2048))
        u = self.usage
        gb_seconds = u.serverless_requests_per_month * u.serverless_seconds_per_request * memory / 1024.0
        why = (
            f"{u.serverless_requests_per_month:,.0f} requests x {u.serverless_seconds_per_request:g} s at {memory:g} MB"
        )
        price = self.catalogue.service("serverless_gb_second", self.region)
        return self._item("serverless endpoint compute", r, gb_seconds, "GB-seconds", price, 1, why)

    def _monitoring(self, r: _Resource) -> list[Item]:
        config = r.properties.get("MonitoringScheduleConfig", {})
        expression = config.get("ScheduleConfig", {}).get("ScheduleExpression", "")
        try:
            runs = runs_per_month(expression)
        except ValueError:
            runs = HOURS_PER_MONTH
            self.notes.append(f"{r.name}: schedule {expression!r} not understood; assumed hourly")
        cluster = _find_key(config, "ClusterConfig")
        if cluster is None:
            definition_id = _ref_id(config.get("MonitoringJobDefinitionName"))
            definition = next((x for x in self.resources if x.logical_id == definition_id), None)
            cluster = _find_key(definition.properties, "ClusterConfig") if definition else None
        itype, price = self._instance_price((cluster or {}).get("InstanceType"), r.name)
        count = float((cluster or {}).get("InstanceCount", 1))
        minutes = self.usage.monitor_job_minutes
        hours = runs * count * minutes / 60.0
        why = f"{runs:,.0f} runs/month ({expression}) x {count:g} x {itype} x {minutes:g} min"
        return [self._item("monitoring job instances", r, hours, f"{itype} instance-hours", price, 1, why)]

    def _pipeline(self, r: _Resource) -> list[Item]:
        steps = _pipeline_jobs(r.properties.get("PipelineDefinition", {}))
        if not steps:
            self.notes.append(f"{r.name}: pipeline definition not readable; priced one processing job per run")
            steps = [("job", self.fallback, 1)]
        items = []
        u = self.usage
        for step, itype, count in steps:
            itype, price = self._instance_price(itype, f"{r.name} step {step}")
            hours = u.pipeline_runs_per_month * count * u.job_minutes / 60.0
            why = f"{u.pipeline_runs_per_month:g} runs/month x {count:g} x {itype} x {u.job_minutes:g} min"
            items.append(self._item(f"pipeline step {step}", r, hours, f"{itype} instance-hours", price, 1, why))
        return items

    def _feature_group(self, r: _Resource) -> list[Item]:
        if not r.properties.get("OnlineStoreConfig"):
            return []  # offline store only: its storage is the feature-store bucket's
        u = self.usage
        writes = u.pipeline_runs_per_month * u.feature_rows_per_run
        cat = self.catalogue
        return [
            self._item(
                "feature store online writes",
                r,
                writes,
                "write units",
                cat.service("featurestore_write_million", self.region),
                1e6,
                f"{u.pipeline_runs_per_month:g} runs x {u.feature_rows_per_run:,.0f} records of <= 1 KB",
            ),
            self._item(
                "feature store online reads",
                r,
                u.feature_reads_per_month,
                "read units",
                cat.service("featurestore_read_million", self.region),
                1e6,
                f"{u.feature_reads_per_month:,.0f} GetRecord calls/month",
            ),
            self._item(
                "feature store online storage",
                r,
                u.online_store_gb,
                "GB-months",
                cat.service("featurestore_online_gb_month", self.region),
                1,
                f"{u.online_store_gb:g} GB online",
            ),
        ]

    def _mlflow(self, r: _Resource) -> list[Item]:
        size = str(r.properties.get("TrackingServerSize", "Small"))
        price = self.catalogue.service(f"mlflow_{size.lower()}_hour", self.region)
        why = f"{size} tracking server running all month"
        return [self._item("MLflow tracking server", r, HOURS_PER_MONTH, "server-hours", price, 1, why)]

    # -- serverless services ------------------------------------------------------------------------------------
    def _lambda(self, r: _Resource) -> list[Item]:
        u = self.usage
        memory = float(r.properties.get("MemorySize", 128))
        schedule = self._schedule_of(r.logical_id)
        if _DEPLOY_TIME_FUNCTION.search(r.logical_id):
            invocations, why = 0.0, "CDK helper: runs only during deployments"
        elif schedule is not None:
            invocations = runs_per_month(schedule)
            why = f"scheduled {schedule}: {invocations:,.0f} invocations"
        else:
            invocations, why = u.lambda_invocations_per_month, f"{u.lambda_invocations_per_month:,.0f} invocations"
        gb_s = invocations * u.lambda_seconds * memory / 1024.0
        cat = self.catalogue
        return [
            self._item(
                "Lambda compute",
                r,
                gb_s,
                "GB-seconds",
                cat.service("lambda_gb_second", self.region),
                1,
                f"{why}/month x {u.lambda_seconds:g} s x {memory:g} MB",
            ),
            self._item(
                "Lambda requests",
                r,
                invocations,
                "requests",
                cat.service("lambda_million_requests", self.region),
                1e6,
                why,
            ),
        ]

    def _schedule_of(self, function_id: str) -> str | None:
        for rule in self.resources:
            if rule.type != "AWS::Events::Rule" or "ScheduleExpression" not in rule.properties:
                continue
            for target in rule.properties.get("Targets", []):
                if _ref_id(target.get("Arn")) == function_id:
                    return str(rule.properties["ScheduleExpression"])
        return None

    def _state_machine(self, r: _Resource) -> list[Item]:
        u = self.usage
        states = _count_states(r.properties)
        transitions = u.state_machine_executions_per_month * max(states, 1) * 2
        why = (
            f"{u.state_machine_executions_per_month:g} executions/month x {states} states x 2 (retries and wait loops)"
        )
        price = self.catalogue.service("stepfunctions_thousand_transitions", self.region)
        if r.properties.get("StateMachineType") == "EXPRESS":
            self.notes.append(f"{r.name}: EXPRESS workflow priced at the Standard transition rate (an upper bound)")
        return [self._item("Step Functions transitions", r, transitions, "state transitions", price, 1000, why)]

    def _bucket(self, r: _Resource) -> list[Item]:
        u = self.usage
        cat = self.catalogue
        return [
            self._item(
                "S3 storage",
                r,
                u.s3_gb_per_bucket,
                "GB-months",
                cat.service("s3_standard_gb_month", self.region),
                1,
                f"{u.s3_gb_per_bucket:g} GB in S3 Standard",
            ),
            self._item(
                "S3 requests",
                r,
                u.s3_puts_per_bucket,
                "PUT requests",
                cat.service("s3_thousand_put", self.region),
                1000,
                f"{u.s3_puts_per_bucket:,.0f} PUT/LIST requests",
            ),
        ]

    def _kms(self, r: _Resource) -> list[Item]:
        price = self.catalogue.service("kms_key_month", self.region)
        return [self._item("KMS key", r, 1, "key-months", price, 1, "one customer managed key (API calls not priced)")]

    def _alarm(self, r: _Resource) -> list[Item]:
        price = self.catalogue.service("cloudwatch_alarm_month", self.region)
        items = [self._item("CloudWatch alarm", r, 1, "alarm-months", price, 1, "standard resolution")]
        metric = _custom_metric(r.properties)
        if metric is not None and metric not in self._metrics_seen:
            # A custom metric (the drift Lambda's EMF output) is billed once, whatever number of alarms read it.
            self._metrics_seen.add(metric)
            price = self.catalogue.service("cloudwatch_metric_month", self.region)
            why = f"custom metric {metric[0]}/{metric[1]} {dict(metric[2])}"
            items.append(self._item("CloudWatch custom metric", r, 1, "metric-months", price, 1, why))
        return items

    def _composite_alarm(self, r: _Resource) -> list[Item]:
        price = self.catalogue.service("cloudwatch_composite_alarm_month", self.region)
        return [self._item("CloudWatch composite alarm", r, 1, "alarm-months", price, 1, "one composite alarm")]

    def _dashboard(self, r: _Resource) -> list[Item]:
        price = self.catalogue.service("cloudwatch_dashboard_month", self.region)
        why = "priced as beyond the account's 3 free dashboards"
        return [self._item("CloudWatch dashboard", r, 1, "dashboard-months", price, 1, why)]


def _ref_id(value: Any) -> str | None:
    """The logical id a Ref / Fn::GetAtt points at, also inside other intrinsics (Fn::Select of Fn::Split ...)."""
    if isinstance(value, dict):
        if "Ref" in value:
            return str(value["Ref"])
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            return str(target[0] if isinstance(target, list) else target.split(".")[0])
        for inner in value.values():
            found = _ref_id(inner)
            if found is not None:
                return found
    elif isinstance(value, list):
        for inner in value:
            found = _ref_id(inner)
            if found is not None:
                return found
    return None


def _custom_metric(alarm: dict[str, Any]) -> tuple[str, str, tuple[tuple[str, str], ...]] | None:
    """(namespace, name, dimensions) of an alarm's metric when it is a custom one (not an AWS/ namespace)."""
    metrics = (
        [alarm]
        if "MetricName" in alarm
        else [m.get("MetricStat", {}).get("Metric", {}) for m in alarm.get("Metrics", [])]
    )
    for metric in metrics:
        namespace = metric.get("Namespace")
        if isinstance(namespace, str) and not namespace.startswith("AWS/") and "MetricName" in metric:
            dims = tuple(sorted((str(d.get("Name")), str(d.get("Value"))) for d in metric.get("Dimensions", [])))
            return namespace, str(metric["MetricName"]), dims
    return None


def _find_key(node: Any, key: str) -> Any:
    if isinstance(node, dict):
        if key in node:
            return node[key]
        for value in node.values():
            found = _find_key(value, key)
            if found is not None:
                return found
    elif isinstance(node, list):
        for value in node:
            found = _find_key(value, key)
            if found is not None:
                return found
    return None


def _definition_text(node: Any) -> str | None:
    """The JSON text of a definition body: a literal, Fn::Sub's template, or Fn::Join's literal parts."""
    if isinstance(node, str):
        return node
    if isinstance(node, dict):
        if "Fn::Sub" in node:
            sub = node["Fn::Sub"]
            return sub[0] if isinstance(sub, list) else sub
        if "Fn::Join" in node:
            parts = node["Fn::Join"][1]
            return "".join(p if isinstance(p, str) else '"TOKEN"' for p in parts)
    return None


def _pipeline_jobs(definition: dict[str, Any]) -> list[tuple[str, Any, float]]:
    text = _definition_text(definition.get("PipelineDefinitionBody"))
    if text is None:
        return []
    try:
        body = json.loads(_PLACEHOLDER.sub("TOKEN", text))
    except json.JSONDecodeError:
        return []
    jobs = []
    for step in body.get("Steps", []):
        arguments = step.get("Arguments", {})
        resources = arguments.get("ProcessingResources", {}).get("ClusterConfig") or arguments.get("ResourceConfig")
        if step.get("Type") in ("Processing", "Training", "Transform") and resources:
            jobs.append(
                (str(step.get("Name")), resources.get("InstanceType"), float(resources.get("InstanceCount", 1)))
            )
    return jobs


def _count_states(properties: dict[str, Any]) -> int:
    text = _definition_text(properties.get("DefinitionString"))
    if text is None and isinstance(properties.get("Definition"), dict):
        text = json.dumps(properties["Definition"])
    if text is None:
        return 10
    try:
        definition = json.loads(_PLACEHOLDER.sub("TOKEN", text))
    except json.JSONDecodeError:
        return text.count('"Type":')
    return _states_in(definition)


def _states_in(definition: Any) -> int:
    # Nested Parallel branches and Map iterators hold states of their own.
    if not isinstance(definition, dict):
        return 0
    total = 0
    for state in (definition.get("States") or {}).values():
        total += 1
        for branch in state.get("Branches", []):
            total += _states_in(branch)
        for key in ("Iterator", "ItemProcessor"):
            total += _states_in(state.get(key))
    return total
