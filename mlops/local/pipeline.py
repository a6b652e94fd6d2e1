"""Run the SageMaker Pipeline's steps on this machine: the same scripts, container paths pointed at a work folder.

preprocess -> train (MLflow run) -> evaluate on the holdout set -> baseline -> accuracy > A_min ? register : fail.
The folder layout mirrors what SageMaker mounts in each job, and the trained model is packed as model.tar.gz
between train and evaluate exactly as the training job would hand it over.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import tarfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contracts.sentinels import NONE
from mlops.errors import StepFailed, UserError
from mlops.governance.package import GOVERNANCE_FILES
from mlops.governance.package import finalize as finalize_governance
from mlops.governance.package import prepare as prepare_governance
from mlops.local import run_lock
from mlops.local.registry import LocalRegistry
from pipeline_code import baseline, evaluate, preprocess, train
from pipeline_code.common import EVALUATION_FILE, DataError, read_json_object
from pipeline_code.serving_code import serving_environment
from pipeline_code.tables import iter_raw_chunks
from platform_config.platform import PlatformConfig

Progress = Callable[[str], None]
PREFLIGHT_CHUNK_ROWS = 10_000


@dataclass
class LocalRunResult:
    accuracy: float
    min_accuracy: float
    registered: bool
    model_package_arn: str | None
    approval_status: str | None
    message: str
    work_dir: str
    model_archive: str
    baseline_dir: str
    evaluation: dict[str, Any]
    mlflow_run_id: str | None
    step_seconds: dict[str, float] = field(default_factory=dict)
    lineage: dict[str, Any] = field(default_factory=dict)  # code, config, data, training, evaluation, baseline
    readiness: dict[str, Any] = field(default_factory=dict)  # verdict, failed checks, each check's reason
    warnings: list[str] = field(default_factory=list)  # what the data made the steps do that may surprise

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def run_local_pipeline(
    data: Path,
    target: str,
    config: PlatformConfig,
    work_dir: Path,
    *,
    min_accuracy: float | None = None,
    features: Sequence[str] = (),
    tracking_uri: str | None = None,
    progress: Progress = lambda _: None,
    registry: LocalRegistry | None = None,
    metadata: Mapping[str, str] | None = None,
    champion_model: Path | None = None,
    container_environment: Mapping[str, str] | None = None,
) -> LocalRunResult:
    """Run every step; bad input raises UserError naming the file or column. One run at a time per work folder.

    ``container_environment``: what Register records as the package container's environment (the twin passes its
    synthesized definition's); by default the serving-code contract the definition uses (serving_environment).
    """
    threshold = config.min_accuracy if min_accuracy is None else min_accuracy
    if not 0.0 <= threshold <= 1.0:
        raise UserError(f"--min-accuracy: must be between 0 and 1 (got {threshold})")
    work_dir.mkdir(parents=True, exist_ok=True)
    with run_lock.run_folder(work_dir):
        # Cleared before anything can fail: a failed run must not leave the previous run's verdict behind.
        paths = _Paths(work_dir)
        paths.reset()
        _preflight(data, target, features)
        return _run_steps(
            data, target, config, paths, threshold, features, tracking_uri, progress, registry, metadata,
            champion_model, container_environment,
        )  # fmt: skip


def _run_steps(
    data: Path,
    target: str,
    config: PlatformConfig,
    paths: _Paths,
    threshold: float,
    features: Sequence[str],
    tracking_uri: str | None,
    progress: Progress,
    registry: LocalRegistry | None,
    metadata: Mapping[str, str] | None,
    champion_model: Path | None,
    container_environment: Mapping[str, str] | None,
) -> LocalRunResult:
    work_dir = paths.root
    seconds: dict[str, float] = {}
    env = {"MLFLOW_EXPERIMENT_NAME": config.resource_name("local")}
    # MLflow configures its own logger at import; this variable is how it is told to keep quiet.
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    if tracking_uri:
        env["MLFLOW_TRACKING_URI"] = tracking_uri
        run_lock.init_tracking_store(tracking_uri, env["MLFLOW_EXPERIMENT_NAME"])

    with _step("preprocess", progress, seconds):
        preprocess.main(
            [
                "--input-dir",
                str(data),
                "--output-dir",
                str(paths.processing),
                "--target",
                target,
                "--features",
                ",".join(features),
                "--holdout-fraction",
                str(config.holdout_fraction),
                "--seed",
                str(config.random_seed),
                "--chunk-rows",
                str(config.preprocess_chunk_rows),
                "--train-shards",
                str(config.train_shard_count),
            ]
        )
    report = read_json_object(paths.processing / "report" / preprocess.REPORT_FILE)
    warnings = [str(w) for w in report.get("warnings", [])]
    for warning in warnings:
        progress(f"warning: {warning}")
    with _step("train", progress, seconds):
        if config.training_engine == "xgboost":
            _train_xgboost(config, target, paths, env)
        else:
            train.main(
                ["--target", target, "--seed", str(config.random_seed)],
                {
                    **env,
                    "SM_CHANNEL_TRAIN": str(paths.processing / "train"),
                    "SM_MODEL_DIR": str(paths.model_dir),
                },
            )
        _pack_model(paths.model_dir, paths.model_archive)
    with _step("evaluate", progress, seconds):
        shutil.copy(paths.model_archive, paths.evaluate_model_dir / "model.tar.gz")
        evaluate.main(
            [
                "--model-dir",
                str(paths.evaluate_model_dir),
                "--test-dir",
                str(paths.processing / "test"),
                "--output-dir",
                str(paths.evaluation_dir),
                "--positive-class",
                config.positive_class,
                "--champion-model-uri",
                str(champion_model) if champion_model else NONE,
            ],
            env,
        )
    with _step("baseline", progress, seconds):
        baseline.main(
            [
                "--train-dir",
                str(paths.processing / "train"),
                "--output-dir",
                str(paths.baseline_dir),
                "--target",
                target,
                "--chunk-rows",
                str(config.preprocess_chunk_rows),
                "--calibration-dir",
                str(paths.evaluation_dir),
            ]
        )

    evaluation = json.loads((paths.evaluation_dir / EVALUATION_FILE).read_text())
    accuracy = float(evaluation["summary"]["accuracy"])
    run_id = evaluation["summary"].get("mlflow_run_id")
    # Lineage and readiness go into the package's metadata, so they are known before registering. A package that
    # is not ready is still registered (PendingManualApproval): the approval path refuses it, with the reasons.
    with _step("governance", progress, seconds):
        governance = prepare_governance(work_dir, data, config)
    failed = governance.verdict.failed
    progress(f"readiness: {'ready' if not failed else 'not ready (failed: ' + ', '.join(failed) + ')'}")
    # The pipeline's ConditionGreaterThan: strictly above the threshold.
    if accuracy > threshold:
        with _step("register", progress, seconds):
            # The Register step's CustomerMetadataProperties: the governance metadata (and, in the twin, the run).
            registered = _register(
                config,
                paths,
                evaluation,
                registry,
                {**governance.metadata, **(metadata or {})},
                serving_environment() if container_environment is None else container_environment,
            )
        message = f"registered {registered.model_package_arn} ({registered.approval_status})"
        arn, status = registered.model_package_arn, registered.approval_status
    else:
        message = f"holdout accuracy {accuracy:.4f} is not above the minimum {threshold:.4f}; model not registered"
        progress(f"gate: {message}")
        arn = status = None
    package = {"arn": arn, "group": config.resource_name("models"), "status": status, "version": _version(arn)}
    finalize_governance(work_dir, governance, config, package if arn else None)
    return LocalRunResult(
        accuracy=accuracy,
        min_accuracy=threshold,
        registered=arn is not None,
        model_package_arn=arn,
        approval_status=status,
        message=message,
        work_dir=str(work_dir),
        model_archive=str(paths.model_archive),
        baseline_dir=str(paths.baseline_dir),
        evaluation=evaluation,
        mlflow_run_id=run_id,
        step_seconds=seconds,
        lineage=governance.lineage,
        readiness=governance.verdict.to_json(),
        warnings=warnings,
    )


def _train_xgboost(config: PlatformConfig, target: str, paths: _Paths, env: Mapping[str, str]) -> None:
    """The XGBoost engine: training_instance_count local worker processes, as the multi-instance training job runs."""
    from mlops.local.distributed_training import TrainingError, run_distributed_training

    try:
        result = run_distributed_training(
            paths.processing / "train",
            paths.model_dir,
            paths.root / "train" / "workers",
            target=target,
            workers=config.training_instance_count,
            hyperparameters={**config.xgboost_hyperparameters, "seed": config.random_seed},
            env=env,
        )
    except TrainingError as exc:
        # Not the input's fault (a worker's bad shard is a DataError, reported as bad input): a failed step.
        raise StepFailed(f"train: {exc}") from None
    meta = json.loads((paths.model_dir / "model_meta.json").read_text())
    rows = {w.host: w.rows for w in result.workers}
    summary = {"engine": "xgboost", **meta["training_metrics"], "workers": len(result.workers), "rows": rows}
    print(json.dumps({"train": summary}))


def _version(arn: str | None) -> int | None:
    """The package version: the last part of a model package ARN (group/version)."""
    tail = (arn or "").rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else None


def _preflight(data: Path, target: str, features: Sequence[str]) -> None:
    """Check the input before any step starts, so bad input costs nothing and gives one clear line.

    The input is a CSV or Parquet file or a folder of them, possibly larger than memory: it is read in chunks, and
    only until two classes have been seen (the preprocess step validates every file before it writes anything).
    """
    if not data.exists():
        raise UserError(f"{data}: file not found")
    if target in features:
        raise UserError(f"--features: lists the target column '{target}'; the target cannot be a feature")
    classes: set[str] = set()
    try:
        for path, chunk in iter_raw_chunks(data, PREFLIGHT_CHUNK_ROWS, required_columns=[target], role="target"):
            missing = [f for f in features if f not in chunk.columns]
            if missing:
                columns = ", ".join(chunk.columns)
                raise UserError(f"{path}: feature column '{missing[0]}' not found (columns: {columns})")
            classes.update(str(v) for v in chunk[target].dropna().unique())
            if len(classes) >= 2:
                return
    except DataError as exc:
        raise UserError(str(exc)) from None
    found = f"only '{next(iter(classes))}'" if classes else "no values"
    raise UserError(f"{data}: target column '{target}' has {found}; at least two classes are needed")


class _Paths:
    """Where each job's container paths point in the work folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.processing = root / "preprocess"
        self.model_dir = root / "train" / "model"
        self.model_archive = root / "train" / "output" / "model.tar.gz"
        self.evaluate_model_dir = root / "evaluate" / "model"
        self.evaluation_dir = root / "evaluate" / "evaluation"
        self.baseline_dir = root / "baseline"

    def reset(self) -> None:
        # Re-running into the same folder must not mix two runs' artefacts, nor keep the last run's verdict.
        for step in ("preprocess", "train", "evaluate", "baseline"):
            shutil.rmtree(self.root / step, ignore_errors=True)
        for name in GOVERNANCE_FILES:
            (self.root / name).unlink(missing_ok=True)
        for folder in (self.model_archive.parent, self.evaluate_model_dir):
            folder.mkdir(parents=True, exist_ok=True)


@contextlib.contextmanager
def _step(name: str, progress: Progress, seconds: dict[str, float]) -> Iterator[None]:
    progress(f"[{name}] running")
    started = time.perf_counter()
    captured = io.StringIO()
    try:
        with contextlib.redirect_stdout(captured):
            yield
    except DataError as exc:
        raise UserError(str(exc)) from None
    seconds[name] = round(time.perf_counter() - started, 3)
    detail = _summary_line(captured.getvalue())
    progress(f"[{name}] done in {seconds[name]:.1f}s{': ' + detail if detail else ''}")


def _summary_line(output: str) -> str:
    """The step's JSON summary line, shortened for the progress display."""
    for line in reversed(output.strip().splitlines()):
        try:
            summary = next(iter(json.loads(line).values()))
        except (ValueError, StopIteration, AttributeError):
            continue
        if isinstance(summary, dict):
            keys = [
                k for k in summary if isinstance(summary[k], (int, float, str)) and not isinstance(summary[k], bool)
            ]
            return ", ".join(f"{k}={_fmt(summary[k])}" for k in keys[:5])
    return ""


def _fmt(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _pack_model(model_dir: Path, archive: Path) -> None:
    with tarfile.open(archive, "w:gz") as tar:
        for item in sorted(model_dir.iterdir()):
            tar.add(item, arcname=item.name)


def _register(
    config: PlatformConfig,
    paths: _Paths,
    evaluation: dict[str, Any],
    registry: LocalRegistry | None,
    metadata: Mapping[str, str],
    environment: Mapping[str, str],
) -> Any:
    from pipeline_definition.images import sklearn_image_uri, xgboost_image_uri

    if config.training_engine == "xgboost":
        image = xgboost_image_uri(config.region, config.xgboost_framework_version)
    else:
        image = sklearn_image_uri(config.region, config.sklearn_framework_version)
    group, status = config.resource_name("models"), config.model_approval_status
    args = (group, paths.model_archive, image, evaluation, status, metadata, paths.baseline_dir, environment)
    if registry is not None:  # a registry of a running moto session (the offline twin)
        return registry.register(*args)
    with LocalRegistry(config.region, config.account) as own:
        return own.register(*args)
