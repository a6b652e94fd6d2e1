"""`mlops demo`: the platform's whole loop in the offline twin, on the real ISLR Default credit data.

Story (docs/demo-story.md): the pipeline trains and registers a model -> it is approved, the approval event
reaches the deploy function through the synthesized rule, and the local endpoint serves it -> traffic is replayed
in steps of the twin's clock (one drift-check period each) -> from `drift_started_step` applicants' income rises
(feature drift: its alarm warns) and students default at lower balances (concept drift: the champion's accuracy
falls) -> ground truth arrives `label_delay` steps after each request, as SageMaker ground-truth records joined
by eventId, and labelled cohorts reach the training window (the raw bucket) with the same delay -> the drift
function (its schedule) publishes drift and accuracy as EMF, the synthesized alarms evaluate, the model-degraded
alarm (accuracy below A_min) starts the synthesized retraining state machine (real handlers) -> the pipeline
retrains on the labelled drifted cohort, the challenger is compared with the champion, approved and deployed
blue/green while traffic continues -> the accuracy alarm clears once the new model's ground truth arrives.

Every piece is the platform's own code run by the twin (mlops.twin.*); this module only drives the clock and the
traffic and records what happens (mlops.twin.story.demo_result); mlops.twin.story.demo_summary says in
`DemoResult.reasons` why a story did not complete.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import pandas as pd

from contracts import batch_transform, events, metrics
from mlops.aws_rules.interception import enforcing
from mlops.local.sample_data import load_dataset
from mlops.local.serving import BlueGreenPolicy, CaptureConfig, RoutingType, TrafficRouting
from mlops.local.serving.loadgen import LoadReport, run_load
from mlops.twin.cloud import TwinCloud
from mlops.twin.emulators.alarms import TwinAlarms
from mlops.twin.emulators.emf import capture_emf, put_emf
from mlops.twin.emulators.endpoint_sync import EndpointSync, SyncResult
from mlops.twin.emulators.events import EventRouter, new_event
from mlops.twin.emulators.model_containers import ModelRequests
from mlops.twin.emulators.pipeline_runner import TwinPipelineRunner
from mlops.twin.emulators.transform import LocalTransform
from mlops.twin.story.demo_result import DemoResult, DemoSettings, ModelInfo, StepRecord, TimelineEntry
from mlops.twin.story.demo_summary import accuracy_kind, alarm_summary, alarms_in_alarm, metric_kind, story_reasons
from mlops.twin.story.demo_text import compact_states, short_arn, step_line
from mlops.twin.story.traffic import DriftStory, Population, ground_truth_lines, requests, scored_captures
from mlops.twin.synth import synth_twin, twin_context
from mlops.twin.templates import Assembly
from platform_config.platform import PlatformConfig, load_config

Progress = Callable[[str], None]
CAPTURE_PREFIX = "capture"  # the serving stack's capture prefix in the capture bucket (SageMaker's layout)
RAW_KEY = "raw/credit.csv"  # under the pipeline's InputDataUri prefix: the training window
BATCH_KEY = f"{batch_transform.INPUT_PREFIX}demo/applicants.csv"
EXTRA_REQUESTS_WHILE_DEPLOYING = 3000  # bound on the traffic kept up while a blue/green update is in progress


class DemoError(RuntimeError):
    """The demo could not run at all (not a user error): the message says why."""


def new_run_dir(out: Path) -> Path:
    """A fresh folder per invocation under `out`, so a reused --out never mixes two runs."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for attempt in range(100):
        candidate = out / f"run-{stamp}" if attempt == 0 else out / f"run-{stamp}-{attempt}"
        try:
            candidate.mkdir(parents=True)
            return candidate
        except FileExistsError:
            continue
    raise FileExistsError(f"{out}: cannot create a run folder")


def run_demo(settings: DemoSettings, progress: Progress = lambda _: None) -> DemoResult:
    """Run the whole story; the result says whether it completed and, if not, why."""
    from mlops.twin.story.report import write_report

    started = time.monotonic()
    # Some library configures the root logger at INFO; these two would then chatter on stderr between progress lines.
    for name in ("botocore", "responses"):
        logging.getLogger(name).setLevel(logging.WARNING)
    run_dir = new_run_dir(settings.out)
    config = load_config(twin_context()["platform"])
    result = DemoResult(run_dir=run_dir, report=None, settings=settings, min_accuracy=config.min_accuracy)
    progress(f"run folder {run_dir}")
    progress("[synth] synthesizing the platform for the twin")
    try:
        assembly_dir = synth_twin(run_dir / "cdk.out")
    except Exception as exc:  # e.g. a cdk-nag finding: the platform as checked out does not synthesize
        raise DemoError(f"cdk synth failed: {str(exc).splitlines()[0]} (see {run_dir / 'cdk.out'})") from exc
    data = load_dataset("ISLR", "Default")
    drift = DriftStory(settings.drift_share, settings.student_balance_shift, settings.balance_increase)
    population = Population(data, drift, settings.seed)
    with open(run_dir / "twin.log", "w", encoding="utf-8") as log, contextlib.redirect_stdout(log):
        # Handlers and pipeline steps print their logs to stdout: they go to twin.log, stdout stays for results.
        story = _Story(settings, config, Assembly.load(assembly_dir), population, result, progress, log)
        try:
            story.run()
        finally:
            story.close()
    result.seconds = time.monotonic() - started
    result.report = write_report(result, data, population, config, run_dir / "report")
    return result


class _Story:
    def __init__(
        self,
        settings: DemoSettings,
        config: PlatformConfig,
        assembly: Assembly,
        population: Population,
        result: DemoResult,
        progress: Progress,
        log: TextIO,
    ) -> None:
        self.settings, self.config, self.population, self.result = settings, config, population, result
        self.progress, self.log = progress, log
        self.cloud = TwinCloud(assembly)
        self.clock0 = _hour(datetime.now(UTC)) - timedelta(hours=1)
        self.period = timedelta(minutes=config.drift_check_rate_minutes)
        self.capture_root = result.run_dir / "capture"
        self.uploaded: set[Path] = set()
        self.executions: list[str] = []
        self.finished: set[str] = set()
        self.approvals: dict[str, str] = {}  # package ARN -> approval status last seen
        self.endpoint: EndpointSync | None = None
        self.versions: dict[str, str] = {}  # package ARN -> model version
        self.sent_after_drift: list[pd.DataFrame] = []
        self.pending_truth: dict[int, list[str]] = {}  # step -> ground-truth records not yet arrived
        self._stack: contextlib.ExitStack | None = None

    # -- set-up ----------------------------------------------------------------------------------------------

    def run(self) -> None:
        self._stack = contextlib.ExitStack()
        self._stack.enter_context(self.cloud.running())
        # moto keeps no EnableNetworkIsolation or container environment of CreateModel: the transform needs both.
        self.models = ModelRequests()
        self._stack.enter_context(enforcing(self.models.record))
        runner = TwinPipelineRunner(self.cloud, self.config, self.result.run_dir / "pipeline")
        self.cloud.pipeline_runner = runner
        self.runner = runner
        self.alarms = TwinAlarms.from_cloud(self.cloud)  # first: the rules that reference alarms resolve through it
        self.router = EventRouter.from_cloud(self.cloud)
        self.result.handlers_deployed = sorted(f.logical_id for f in self.cloud.dispatcher.functions.values())
        if not self._first_model():
            return
        self._replay()
        self._batch_transform()
        self._summarise()

    def close(self) -> None:
        if self.endpoint is not None:
            self.endpoint.stop()
        if self._stack is not None:
            self._stack.close()

    def _first_model(self) -> bool:
        self._note(0, "pipeline run 1 on the ISLR Default data (10000 rows): preprocess, train, evaluate, baseline")
        self._upload_raw(self.population.data, RAW_KEY)
        sagemaker = self.cloud.client("sagemaker")
        execution = sagemaker.start_pipeline_execution(PipelineName=self.config.resource_name("build"))
        self._join_pipelines()
        if not self.runner.runs or not self.runner.runs[-1]["package"]:
            self.result.reasons.append(f"the first pipeline run registered no model: {self.cloud.pipeline_failures}")
            return False
        run = self.runner.runs[-1]
        package = str(run["package"])
        sagemaker.update_model_package(ModelPackageArn=package, ModelApprovalStatus="Approved")
        self.approvals[package] = "Approved"
        self._note(0, f"package {short_arn(package)} registered (holdout accuracy {run['accuracy']:.4f}) and approved")
        for delivery in self.router.put_event(self._approval_event(package, self.clock0)):
            outcome = delivery.error or (delivery.result or {}).get("action")
            self._note(0, f"approval event -> {delivery.target}: {outcome}")
        self.endpoint = EndpointSync(
            self.cloud,
            self.config.approved_package_parameter,
            # Files are written by the demo's explicit flush per step only, so an upload never sees a partial file.
            CaptureConfig(
                root=self.capture_root,
                endpoint_name=self.config.resource_name("endpoint"),
                flush_interval_s=3600,
                max_buffered=10**9,
            ),
            BlueGreenPolicy(
                TrafficRouting(RoutingType.CANARY, wait_interval_s=1.0, canary_percent=self.config.canary_percent),
                termination_wait_s=1.0,
            ),
        )
        synced = self.endpoint.sync()
        if synced.action != "started" or self.endpoint.server is None:
            self.result.reasons.append(f"the endpoint did not start: {synced}")
            return False
        version = self.endpoint.server.endpoint.model_version
        self.versions[package] = version
        self.result.models.append(
            ModelInfo(package, version, float(run["accuracy"]), execution["PipelineExecutionArn"])
        )
        self._note(
            0, f"endpoint {self.config.resource_name('endpoint')} serves model {version} at {self.endpoint.server.url}"
        )
        return True

    # -- the replay ------------------------------------------------------------------------------------------

    def _replay(self) -> None:
        last = self.settings.steps
        step = 1
        while step <= last or (step <= last + self.settings.max_tail_steps and not self._settled()):
            self._step(step)
            step += 1
        if not self._settled():
            self.result.reasons.append(
                f"the retraining had not settled after {step - 1} steps (executions: {self._statuses()})"
            )

    def _step(self, step: int) -> None:
        start = self.clock0 + (step - 1) * self.period
        end = start + self.period
        drifted = step >= self.settings.drift_started_step
        if step == self.settings.drift_started_step:
            story = self.population.story
            self._note(
                step,
                f"drift begins: income x{story.income_factor:g} (feature drift); balances {story.balance_increase:g} "
                f"higher at unchanged risk (covariate shift into the champion's unsure region); students now default "
                f"at balances {story.student_balance_shift:g} lower (concept drift); their outcomes are known "
                f"{self.settings.label_delay} step(s) later",
                start,
            )
        self._labelled_cohort(step, start)
        frame = self.population.sample(self.settings.requests_per_step, drifted=drifted)
        if drifted:
            self.sent_after_drift.append(frame)
        bodies, labels = requests(frame)
        record = StepRecord(step, start, "")
        report, synced = self._serve(bodies)
        record.phase = self._phase(step)
        record.requests, record.failed = len(report.samples), len(report.failures)
        for sample in report.samples:
            if sample.status == 200:
                record.served[sample.model_version] = record.served.get(sample.model_version, 0) + 1
        record.sync = synced.action if synced else "error"
        if synced and synced.action in ("deployed", "rolled_back"):
            self._note(
                step,
                f"endpoint blue/green update: {synced.action} {short_arn(synced.package_arn)} {synced.detail}",
                start,
            )
        lines = list(_lines(self._upload_captures()))
        record.scored = scored_captures(lines, labels)
        record.accuracy = {v: round(c / n, 4) for v, (n, c) in record.scored.items() if n}
        self.pending_truth[step] = ground_truth_lines(lines, labels)
        self._ground_truth(step)
        with capture_emf() as documents:
            deliveries = self.router.run_schedules(start, end)
        for delivery in deliveries:
            if delivery.error:
                self._note(step, f"scheduled {delivery.target} failed: {delivery.error}", start)
        put_emf(self.cloud.client("cloudwatch"), documents, timestamp=start + self.period / 2)
        record.drift = _drift_metrics(documents)
        record.reported_accuracy = _model_metric(documents, "realised")
        record.estimated_accuracy = _model_metric(documents, "estimated")
        transitions = self.alarms.evaluate(end)
        for transition in transitions:
            record.alarms.append(f"{transition.alarm_name} -> {transition.new.value}")
            kind = accuracy_kind(transition.alarm)
            if kind and transition.new.value == "ALARM":
                attribute = "accuracy_alarm_step" if kind == "realised" else "estimated_accuracy_alarm_step"
                setattr(self.result, attribute, getattr(self.result, attribute) or step)
            if transition.old.value != "INSUFFICIENT_DATA" or transition.new.value == "ALARM":
                self._note(
                    step, f"alarm {transition.alarm_name}: {transition.old.value} -> {transition.new.value}", end
                )
        for delivery in self.router.put_events(self.alarms.events(transitions)):
            if delivery.kind == "states" and not delivery.error:
                self.executions.append(str(delivery.result))
                trigger = self._trigger(delivery.payload)
                if self.result.retraining_started_step is None:
                    self.result.retraining_started_step, self.result.retraining_trigger = step, trigger
                self._note(
                    step,
                    f"retraining state machine started by {delivery.rule} (alarms: {', '.join(trigger) or '-'}): "
                    f"{short_arn(str(delivery.result))}",
                    end,
                )
            elif delivery.error:
                self._note(step, f"event delivery to {delivery.target} failed: {delivery.error}", end)
        self._registry_events(step, end)
        self._watch_executions(step, end)
        self.result.steps.append(record)
        self.progress(step_line(record, self.settings))

    def _labelled_cohort(self, step: int, when: datetime) -> None:
        """The cohort that applied `label_delay` steps ago now has known outcomes: it becomes the training window
        (the raw bucket's object the pipeline reads), so a retraining trains on the newest labelled concept."""
        cohort_step = step - self.settings.label_delay
        if cohort_step < 1:
            return  # nothing labelled since the first model: the training data stays in the raw bucket
        drifted = cohort_step >= self.settings.drift_started_step
        self._upload_raw(self.population.labelled_window(self.settings.labelled_rows, drifted=drifted), RAW_KEY)
        if cohort_step == self.settings.drift_started_step:
            self._note(
                step,
                f"the first labelled cohort after the drift ({self.settings.labelled_rows} rows of step "
                f"{cohort_step}) reaches the training window in the raw bucket",
                when,
            )

    def _ground_truth(self, step: int) -> None:
        """Write the ground truth of the requests of `label_delay` steps ago (SageMaker's ground-truth format, under
        the drift function's prefix, keyed by arrival hour as an application would write it)."""
        records = self.pending_truth.pop(step - self.settings.label_delay, None)
        if not records:
            return
        hour = datetime.now(UTC)  # the drift function lists keys by real time (its lookback), like the captures
        key = f"{self.config.ground_truth_prefix}/{hour:%Y/%m/%d/%H}/step-{step - self.settings.label_delay:03d}.jsonl"
        body = ("\n".join(records) + "\n").encode()
        self.cloud.client("s3").put_object(Bucket=self._bucket("DataCapture"), Key=key, Body=body)

    def _trigger(self, event: Any) -> list[str]:
        """The alarm whose state change started the loop, and the alarms in ALARM under it."""
        resources = event.get("resources", []) if isinstance(event, dict) else []
        names: list[str] = []
        for arn in resources:
            with contextlib.suppress(KeyError):
                names += [n for n in alarms_in_alarm(self.alarms, str(arn)) if n not in names]
        return names

    def _registry_events(self, step: int, when: datetime) -> None:
        """SageMaker's part: an approval in the registry is an EventBridge event (moto emits none)."""
        sagemaker = self.cloud.client("sagemaker")
        summaries = sagemaker.list_model_packages(ModelPackageGroupName=self.config.resource_name("models"))
        for summary in summaries["ModelPackageSummaryList"]:
            arn, status = summary["ModelPackageArn"], summary["ModelApprovalStatus"]
            previous = self.approvals.get(arn)
            self.approvals[arn] = status
            # A package can be registered and approved between two looks: first seen Approved is a change too.
            if previous != status and (previous is not None or status == "Approved"):
                self._note(step, f"registry: {short_arn(arn)} {status}", when)
                if status == "Approved":
                    self.result.approval_step = self.result.approval_step or step
                    for delivery in self.router.put_event(self._approval_event(arn, when)):
                        outcome = delivery.error or (delivery.result or {}).get("action")
                        self._note(step, f"approval event -> {delivery.target}: {outcome}", when)

    def _watch_executions(self, step: int, when: datetime) -> None:
        for arn, status in self._statuses().items():
            if status != "RUNNING" and arn not in self.finished:
                self.finished.add(arn)
                self._track_models()
                states = compact_states(self.cloud.visited_states(arn))
                self._note(step, f"retraining execution {short_arn(arn)} {status}: {states}", when)
                for model in self.result.models[1:]:
                    self._note(
                        step,
                        f"challenger {short_arn(model.package)}: holdout accuracy {model.holdout_accuracy:.4f}",
                        when,
                    )
                compare = [c for c in self.cloud.dispatcher.calls if c[0].startswith("CompareFunction")]
                if compare and isinstance(compare[-1][2], dict):
                    self._note(step, f"comparison: {compare[-1][2].get('reason')}", when)

    def _serve(self, bodies: list[bytes]) -> tuple[LoadReport, SyncResult | None]:
        """Send the step's traffic while EndpointSync plays CloudFormation; keep traffic up while it deploys."""
        assert self.endpoint is not None and self.endpoint.server is not None
        outcome: list[SyncResult] = []
        errors: list[str] = []

        def sync() -> None:
            try:
                outcome.append(self.endpoint.sync())  # type: ignore[union-attr]
            except Exception as exc:  # reported in the timeline; the endpoint keeps serving what it served
                errors.append(f"{type(exc).__name__}: {exc}")

        syncer = threading.Thread(target=sync, name="endpoint-sync", daemon=True)
        syncer.start()
        url, clients = self.endpoint.server.url, self.settings.clients
        report = run_load(url, bodies, clients=clients, duration_s=120, max_requests=len(bodies))
        extra = 0
        while syncer.is_alive() and extra < EXTRA_REQUESTS_WHILE_DEPLOYING:
            more = run_load(url, bodies, clients=clients, duration_s=1.0, max_requests=200)
            report.samples.extend(more.samples)
            extra += len(more.samples)
        syncer.join(300)
        if errors:
            self.result.reasons.append(f"endpoint sync failed: {errors[0]}")
        return report, (outcome[0] if outcome else None)

    def _phase(self, step: int) -> str:
        if step < self.settings.drift_started_step:
            return "before drift"
        if self.endpoint is not None and self.endpoint.served != self.result.models[0].package:
            return "after"
        return "retraining" if self.executions else "drift"

    def _settled(self) -> bool:
        """No retraining running, the endpoint serves the desired package, one step ran on it since, and no alarm
        on realised accuracy is still in ALARM (it clears once the new model's ground truth has arrived)."""
        if self.endpoint is None or any(status == "RUNNING" for status in self._statuses().values()):
            return False
        if not self.executions:
            return True  # no retraining started: nothing to wait for (the story check says what is missing)
        self._track_models()
        served = self.endpoint.served
        if self.endpoint.desired() != served:
            return False
        version = self.versions.get(served, "")
        last = self.result.steps[-1] if self.result.steps else None
        if last is None or set(last.served) != {version}:
            return False
        realised = [a for a in self.alarms.metric_alarms if accuracy_kind(a) == "realised"]
        return all(self.alarms.state(a.arn).value != "ALARM" for a in realised)

    def _statuses(self) -> dict[str, str]:
        client = self.cloud.client("stepfunctions")
        return {arn: str(client.describe_execution(executionArn=arn)["status"]) for arn in self.executions}

    def _track_models(self) -> None:
        """Record the challenger the retraining registered (once the endpoint serves it, its version is known)."""
        known = {m.package for m in self.result.models}
        for run in self.runner.runs:
            package = run.get("package")
            if package and package not in known:
                self.result.models.append(ModelInfo(str(package), "", float(run["accuracy"]), str(run["execution"])))
                known.add(package)
        assert self.endpoint is not None and self.endpoint.server is not None
        served = self.endpoint.served
        self.versions.setdefault(served, self.endpoint.server.endpoint.model_version)
        for model in self.result.models:
            model.version = model.version or self.versions.get(model.package, "")

    # -- S3, events ------------------------------------------------------------------------------------------

    def _bucket(self, prefix: str) -> str:
        stack, template = self.cloud.assembly.stack("-data")
        (logical,) = [
            k for k, v in template["Resources"].items() if v["Type"] == "AWS::S3::Bucket" and k.startswith(prefix)
        ]
        return self.cloud.resolver.physical[(stack, logical)]

    def _upload_raw(self, frame: pd.DataFrame, key: str) -> None:
        folder = self.result.run_dir / "data"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"raw-{len(list(folder.glob('*.csv'))) + 1}.csv"  # each upload kept for the report
        frame.to_csv(path, index=False)
        self.cloud.client("s3").upload_file(str(path), self._bucket("RawData"), key)

    def _upload_captures(self) -> list[Path]:
        assert self.endpoint is not None and self.endpoint.server is not None
        capture = self.endpoint.server.endpoint.capture
        if capture is not None:
            capture.flush()
        s3, bucket = self.cloud.client("s3"), self._bucket("DataCapture")
        new = sorted(p for p in self.capture_root.rglob("*.jsonl") if p not in self.uploaded)
        for path in new:
            key = f"{CAPTURE_PREFIX}/{path.relative_to(self.capture_root).as_posix()}"
            s3.upload_file(str(path), bucket, key)
            self.uploaded.add(path)
        return new

    def _approval_event(self, package: str, when: datetime) -> dict[str, Any]:
        """The registry's event for an approval (moto emits none; SageMaker sends this one to EventBridge)."""
        detail = {
            events.MODEL_PACKAGE_GROUP_NAME: self.config.resource_name("models"),
            events.MODEL_PACKAGE_ARN: package,
            events.MODEL_APPROVAL_STATUS: events.APPROVED,
        }
        return new_event(events.SAGEMAKER, events.MODEL_PACKAGE_STATE_CHANGE, detail, time=when,
                         resources=[package], account=self.cloud.account, region=self.cloud.region)  # fmt: skip

    def _batch_transform(self) -> None:
        """Score a file of applicants with the approved package: the object event reaches the batch function."""
        bucket = self._bucket("DataCapture")
        frame = self.population.sample(self.settings.batch_rows, drifted=True)
        body = frame[["student", "balance", "income"]].to_csv(index=False, header=False)
        self.cloud.client("s3").put_object(Bucket=bucket, Key=BATCH_KEY, Body=body.encode())
        detail = {events.BUCKET: {events.NAME: bucket}, events.OBJECT: {events.KEY: BATCH_KEY, "size": len(body)}}
        when = self.clock0 + len(self.result.steps) * self.period
        event = new_event(events.S3, events.OBJECT_CREATED, detail, time=when, account=self.cloud.account,
                          region=self.cloud.region)  # fmt: skip
        for delivery in self.router.put_event(event):
            if delivery.error:
                self.result.reasons.append(f"batch transform: {delivery.error}")
            else:
                self.result.batch_transform_job = job = str((delivery.result or {}).get("transform_job", ""))
                self._note(len(self.result.steps), f"batch file {BATCH_KEY} -> transform job {job}", when)
                if job:
                    self._run_transform(job, when)

    def _run_transform(self, job: str, when: datetime) -> None:
        """moto accepts the job and scores nothing: run it as SageMaker would (the model's container contract)."""
        run = LocalTransform(self.cloud, self.models, self.result.run_dir / "transform").run(job)
        if run.status != "Completed":
            self.result.reasons.append(f"batch transform job {job} failed: {run.failure_reason}")
            return
        self.result.batch_transform_records = run.records
        self._note(len(self.result.steps), f"transform job {job}: {run.records} records -> {run.outputs[0]}", when)

    def _join_pipelines(self) -> None:
        for thread in list(self.cloud.pipeline_threads):
            thread.join(300)

    # -- the outcome -----------------------------------------------------------------------------------------

    def _summarise(self) -> None:
        result = self.result
        self._join_pipelines()
        self._track_models()
        if self.sent_after_drift:
            result.drifted_traffic = pd.concat(self.sent_after_drift, ignore_index=True)
        result.requests = sum(s.requests for s in result.steps)
        result.failed_requests = sum(s.failed for s in result.steps)
        if self.cloud.iam is not None:
            report = self.cloud.iam.report
            result.iam_summary, result.iam_report, result.iam_denials = (
                report.summary(),
                report.lines(),
                len(report.denials),
            )
        started = [arn for arn in self.executions if "StartPipeline" in self.cloud.visited_states(arn)]
        result.retrainings = len(started)
        result.retraining_states = [self.cloud.visited_states(arn) for arn in self.executions]
        compare = [c for c in self.cloud.dispatcher.calls if c[0].startswith("CompareFunction")]
        if compare and isinstance(compare[-1][2], dict):
            result.comparison = compare[-1][2]
        result.handlers_called = sorted({logical for logical, _, _ in self.cloud.dispatcher.calls})
        assert self.endpoint is not None
        result.final_package = self.endpoint.served
        final_version = self.versions.get(result.final_package, "")
        last = result.steps[-1]
        result.new_model_traffic_share = round(last.served.get(final_version, 0) / max(1, last.requests), 4)
        if len(result.models) < 2 or result.final_package == result.models[0].package:
            result.new_model_traffic_share = 0.0
        result.alarms = alarm_summary(result.steps, self.alarms)
        result.reasons.extend(story_reasons(result))

    def _note(self, step: int, text: str, when: datetime | None = None) -> None:
        if step < 0:
            step = len(self.result.steps)
        moment = when or (self.clock0 + max(step - 1, 0) * self.period)
        self.result.timeline.append(TimelineEntry(step, moment, text))
        self.progress(f"  step {step:>2}: {text}" if step else f"  {text}")


def _drift_metrics(documents: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """metric -> feature -> value from the drift function's EMF records (per-feature metrics only)."""
    out: dict[str, dict[str, float]] = {}
    for document in documents:
        feature = document.get("Feature")
        if not isinstance(feature, str):
            continue
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                raw = document.get(metric["Name"])
                value = raw[-1] if isinstance(raw, list) else raw
                if isinstance(value, int | float):
                    out.setdefault(metric["Name"], {})[feature] = float(value)
    return out


def _model_metric(documents: list[dict[str, Any]], kind: str) -> float | None:
    """The model-level accuracy metric of `kind` ("realised" or "estimated", as the alarms tell them apart) in the
    drift function's EMF records, None if it published none."""
    for document in documents:
        if metrics.FEATURE in document:
            continue
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                raw = document.get(metric["Name"])
                value = raw[-1] if isinstance(raw, list) else raw
                if metric_kind(metric["Name"]) == kind and isinstance(value, int | float):
                    return float(value)
    return None


def _lines(paths: list[Path]) -> Iterator[str]:
    for path in paths:
        yield from path.read_text(encoding="utf-8").splitlines()


def _hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def stderr_progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
