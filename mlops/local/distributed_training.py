"""Offline twin of a multi-instance SageMaker training job: N local processes running pipeline_code/train_xgboost.py.

What SageMaker does for a job with N instances and a `ShardedByS3Key` channel, done here on one machine:
- the channel's files are split across the hosts by key order, round-robin (host i gets files i, i+N, ...), and
  each host sees only its own files in SM_CHANNEL_TRAIN;
- every host runs the same script with SM_HOSTS (all host names, JSON) and SM_CURRENT_HOST (its own);
- the hosts find each other through XGBoost's tracker (here on 127.0.0.1, a free port) and train one model.

The processes are real: each reads its shard, builds its part of the DMatrix and joins XGBoost's collective
all-reduce over loopback. If a worker fails, the others are stopped and the failure is raised as one line (a bad
shard as pipeline_code.common.DataError naming the file, anything else as TrainingError); on timeout every worker
is stopped.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline_code.common import DataError

REPO = Path(__file__).resolve().parents[2]
_EXCEPTION_LINE = re.compile(r"^([A-Za-z_][\w.]*(Error|Exception)|error): ")
TABLE_SUFFIXES = (".parquet", ".csv")


class TrainingError(RuntimeError):
    """A worker failed for a reason other than bad data, or the job timed out; the message says which worker."""


@dataclass
class WorkerResult:
    host: str
    files: list[str]
    returncode: int | None
    log: str
    rank: int | None = None
    rows: int | None = None


@dataclass
class DistributedResult:
    model_dir: Path
    seconds: float
    workers: list[WorkerResult] = field(default_factory=list)


def host_names(count: int) -> list[str]:
    """SageMaker's host names for a job with `count` instances."""
    return [f"algo-{i}" for i in range(1, count + 1)]


def channel_files(train_dir: Path) -> list[Path]:
    """The channel's data files in S3 key order (the relative path, as S3 lists keys)."""
    if not train_dir.is_dir():
        raise DataError(f"{train_dir}: training channel folder not found")
    files = sorted(
        (p for p in train_dir.rglob("*") if p.is_file() and p.suffix in TABLE_SUFFIXES),
        key=lambda p: p.relative_to(train_dir).as_posix(),
    )
    if not files:
        raise DataError(f"{train_dir}: no .parquet or .csv file found")
    return files


def shard_by_s3_key(files: Sequence[Path], hosts: Sequence[str]) -> dict[str, list[Path]]:
    """ShardedByS3Key: the files in key order dealt round-robin to the hosts."""
    return {host: list(files[i :: len(hosts)]) for i, host in enumerate(hosts)}


def run_distributed_training(
    train_dir: Path,
    model_dir: Path,
    work_dir: Path,
    *,
    target: str,
    workers: int,
    hyperparameters: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 600.0,
    nthread: int | None = None,
) -> DistributedResult:
    """Train with `workers` local processes; returns when rank 0 has written the model into `model_dir`."""
    if workers < 1:
        raise ValueError(f"workers must be at least 1 (got {workers})")
    # The workers run from the repository root: every path they get is absolute.
    train_dir, model_dir, work_dir = train_dir.resolve(), model_dir.resolve(), work_dir.resolve()
    hosts = host_names(workers)
    shards = shard_by_s3_key(channel_files(train_dir), hosts)
    empty = [h for h, files in shards.items() if not files]
    if empty:
        raise DataError(
            f"{train_dir}: {sum(len(f) for f in shards.values())} shard file(s) for {workers} workers; host "
            f"{empty[0]} would get no data (write at least as many shards as training instances)"
        )
    shutil.rmtree(work_dir, ignore_errors=True)
    model_dir.mkdir(parents=True, exist_ok=True)
    threads = nthread or max(1, (os.cpu_count() or 1) // workers)
    port = _free_port()
    arguments = ["--target", target, "--nthread", str(threads)]
    arguments += ["--tracker-host", "127.0.0.1", "--tracker-port", str(port)]
    arguments += ["--tracker-ready-file", str(work_dir / "tracker.ready")]
    for name, value in (hyperparameters or {}).items():
        arguments += [f"--{name.replace('_', '-')}", str(value)]

    processes: list[tuple[WorkerResult, subprocess.Popen[bytes], Any, Any]] = []
    started = time.perf_counter()
    try:
        for host in hosts:
            channel = work_dir / host / "input" / "data" / "train"
            channel.mkdir(parents=True)
            for path in shards[host]:
                _link(path, channel / path.name)
            log = work_dir / host / "worker.log"
            worker_env = {
                **os.environ,
                **(env or {}),
                "SM_HOSTS": json.dumps(hosts),
                "SM_CURRENT_HOST": host,
                "SM_CHANNEL_TRAIN": str(channel),
                "SM_MODEL_DIR": str(model_dir),
                "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH", "")])),
                "OMP_NUM_THREADS": str(threads),
            }
            out = log.open("wb")
            err = (work_dir / host / "worker.err").open("wb")
            process = subprocess.Popen(
                [sys.executable, "-m", "pipeline_code.train_xgboost", *arguments],
                env=worker_env,
                stdout=out,
                stderr=err,
            )
            result = WorkerResult(host=host, files=[p.name for p in shards[host]], returncode=None, log=str(log))
            processes.append((result, process, out, err))
        _wait(processes, timeout)
    finally:
        for _, process, out, err in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
            out.close()
            err.close()
    for result, process, _, _ in processes:
        result.returncode = process.returncode
        for line in Path(result.log).read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError, KeyError, TypeError):
                worker = json.loads(line)["worker"]
                result.rank, result.rows = int(worker["rank"]), int(worker["rows"])
    return DistributedResult(
        model_dir=model_dir, seconds=time.perf_counter() - started, workers=[p[0] for p in processes]
    )


def _wait(processes: list[tuple[WorkerResult, subprocess.Popen[bytes], Any, Any]], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        codes = [(result, process.poll()) for result, process, _, _ in processes]
        failed = [(result, code) for result, code in codes if code not in (None, 0)]
        if failed:
            result, code = failed[0]
            for _, process, _, _ in processes:
                if process.poll() is None:
                    process.kill()
            raise _failure(result, code)
        if all(code == 0 for _, code in codes):
            return
        if time.monotonic() > deadline:
            running = [result.host for result, code in codes if code is None]
            raise TrainingError(f"distributed training timed out after {timeout:.0f}s; still running: {running}")
        time.sleep(0.05)


def _failure(result: WorkerResult, code: int) -> Exception:
    """A worker's failure as one line: its DataError as DataError (naming the shard), else its last error line."""
    err = Path(result.log).with_name("worker.err")
    stderr = err.read_text(errors="replace").strip().splitlines()
    for line in stderr:
        if line.startswith("DataError: "):
            return DataError(line[len("DataError: ") :])
    # The exception line of a traceback (`SomeError: message`), not the native stack frames after it.
    errors = [line for line in stderr if _EXCEPTION_LINE.match(line)]
    last = errors[0] if errors else (stderr[-1] if stderr else "no output")
    return TrainingError(f"training worker {result.host} exited with code {code}: {last} (log: {err})")


def _link(source: Path, destination: Path) -> None:
    try:
        os.link(source, destination)
    except OSError:
        shutil.copyfile(source, destination)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
