"""Train step, XGBoost engine: data-parallel gradient boosting across every host of the training job.

Container contract (SageMaker Training, the XGBoost framework container in script mode): each host finds its own
shard files in SM_CHANNEL_TRAIN (the channel is `ShardedByS3Key` when the job has several instances), the host list
in SM_HOSTS (JSON) and its own name in SM_CURRENT_HOST, hyperparameters as `--name value` arguments, the model goes
to SM_MODEL_DIR. The same script runs offline: `mlops.local.distributed_training` starts N local processes with the same
variables and `--tracker-host 127.0.0.1`.

How the hosts work together:
- the leader (the first of the sorted host names) starts XGBoost's RabitTracker on `--tracker-port`; every host
  (the leader too) joins it through `xgboost.collective.CommunicatorContext`, ranked by its position in the sorted
  host list, so rank 0 is the leader;
- each host reads and validates its shard files, then the hosts exchange what they found (columns, categorical
  levels, class labels, row counts, errors) by broadcasting from each rank in turn. A bad shard anywhere fails every
  host with one message naming the shard; otherwise all hosts encode categorical features and labels with the same
  global levels (the sorted union), so the integer codes mean the same thing everywhere;
- `xgboost.train` on the local DMatrix: XGBoost's `hist` method all-reduces the quantile sketches and gradient
  histograms, so the hosts grow one model over all the data;
- only rank 0 writes the model (`xgboost-model.json`) and `model_meta.json`, and logs to MLflow.

This module ships in the training source archive (Python 3.8/3.9 rules): numpy, pandas, xgboost, standard library.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd

from pipeline_code.common import MODEL_META_FILE, DataError, run_main, training_parser
from pipeline_code.experiment_tracking import log_training_run
from pipeline_code.serving_code import write_serving_code
from pipeline_code.tables import read_table_dir, table_files

XGBOOST_MODEL_FILE = "xgboost-model.json"
DEFAULT_TRACKER_PORT = 9099
# Hyperparameters that are not model settings; they stay out of the recorded hyperparameters.
_NOT_HYPERPARAMETERS = (
    "train_dir",
    "model_dir",
    "model_version",
    "tracker_host",
    "tracker_port",
    "tracker_timeout",
    "tracker_ready_file",
)


def parse_args(argv: Sequence[str] | None, environ: Mapping[str, str]) -> argparse.Namespace:
    parser = training_parser(__doc__, environ)
    parser.add_argument("--num-round", "--num_round", dest="num_round", type=int, default=50)
    parser.add_argument("--max-depth", "--max_depth", dest="max_depth", type=int, default=3)
    parser.add_argument("--eta", type=float, default=0.1)
    parser.add_argument("--min-child-weight", "--min_child_weight", dest="min_child_weight", type=float, default=1.0)
    parser.add_argument("--subsample", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--nthread", type=int, default=0, help="threads per host (0: all cores)")
    parser.add_argument("--tracker-host", default="", help="the tracker's address (default: the leader's host name)")
    parser.add_argument("--tracker-port", type=int, default=DEFAULT_TRACKER_PORT)
    parser.add_argument("--tracker-timeout", type=int, default=600, help="seconds to wait for every host to join")
    parser.add_argument(
        "--tracker-ready-file",
        default="",
        help="local runs: the leader creates this file once its tracker listens and the others wait for it, which "
        "spares them XGBoost's connection back-off (hosts of one machine only; SageMaker hosts do not need it)",
    )
    parser.add_argument("--model-version", default="", help="a label stored with the model (default: MLflow run id)")
    return parser.parse_args(argv)


def cluster(environ: Mapping[str, str]) -> tuple[list[str], str]:
    """The sorted host names and this host's name (one host, 'algo-1', when SM_HOSTS is not set)."""
    try:
        hosts = json.loads(environ.get("SM_HOSTS", '["algo-1"]'))
    except ValueError:
        raise DataError(f"SM_HOSTS: not a JSON list of host names ({environ.get('SM_HOSTS')!r})") from None
    if not isinstance(hosts, list) or not hosts or not all(isinstance(h, str) for h in hosts):
        raise DataError(f"SM_HOSTS: not a JSON list of host names ({environ.get('SM_HOSTS')!r})")
    hosts = sorted(hosts)
    current = environ.get("SM_CURRENT_HOST", hosts[0])
    if current not in hosts:
        raise DataError(f"SM_CURRENT_HOST: '{current}' is not one of SM_HOSTS {hosts}")
    return hosts, current


def tracker_address(hosts: list[str], args: argparse.Namespace) -> str:
    return socket.gethostbyname(args.tracker_host or hosts[0])


def start_tracker(hosts: list[str], current: str, args: argparse.Namespace) -> Any:
    """On the leader of a multi-host job, XGBoost's tracker (started first, so the others need not retry long)."""
    if len(hosts) == 1 or current != hosts[0]:
        return None
    from xgboost.tracker import RabitTracker

    # sortby="task": ranks follow the task ids below, i.e. the sorted host list; the leader is rank 0.
    tracker = RabitTracker(
        n_workers=len(hosts), host_ip=tracker_address(hosts, args), port=args.tracker_port, sortby="task"
    )
    tracker.start()
    if args.tracker_ready_file:
        Path(args.tracker_ready_file).touch()
    return tracker


@contextlib.contextmanager
def communicator(hosts: list[str], current: str, args: argparse.Namespace) -> Iterator[None]:
    """Join the hosts through XGBoost's collective; with one host there is nothing to join."""
    if len(hosts) == 1:
        yield
        return
    from xgboost import collective

    if args.tracker_ready_file and current != hosts[0]:
        deadline = time.monotonic() + args.tracker_timeout
        while not os.path.exists(args.tracker_ready_file) and time.monotonic() < deadline:
            time.sleep(0.01)
    worker = {
        "dmlc_tracker_uri": tracker_address(hosts, args),
        "dmlc_tracker_port": args.tracker_port,
        "dmlc_task_id": f"{hosts.index(current):05d}",
        "dmlc_retry": 30,  # a worker may start before the leader's tracker listens
        "dmlc_timeout": args.tracker_timeout,
    }
    with collective.CommunicatorContext(**worker):
        yield


def rank_and_size() -> tuple[int, int]:
    from xgboost import collective

    if not collective.is_distributed():
        return 0, 1
    return int(collective.get_rank()), int(collective.get_world_size())


def all_gather(value: Any) -> list[Any]:
    """Every rank's value, in rank order (a broadcast from each rank in turn; any picklable value)."""
    from xgboost import collective

    rank, size = rank_and_size()
    if size == 1:
        return [value]
    return [collective.broadcast(value if rank == root else None, root) for root in range(size)]


def all_sum(values: Sequence[float]) -> np.ndarray:
    from xgboost import collective

    array = np.asarray(values, dtype=np.float64)
    if rank_and_size()[1] == 1:
        return array
    return np.asarray(collective.allreduce(array, collective.Op.SUM))


def local_summary(directory: Path, target: str, host: str) -> tuple[pd.DataFrame | None, dict[str, Any]]:
    """Read this host's shards; the summary carries what the other hosts need, or the error that stops them all."""
    try:
        # Every shard is checked (empty, unreadable, a header that differs, no target column): the error names it.
        frame = read_table_dir(directory, required_columns=[target])
    except DataError as exc:
        return None, {"host": host, "error": str(exc)}
    features = [c for c in frame.columns if c != target]
    numeric = [
        c for c in features if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
    ]
    levels = {c: sorted({str(v) for v in frame[c].dropna().unique()}) for c in features if c not in numeric}
    return frame, {
        "host": host,
        "error": None,
        "columns": list(frame.columns),
        "numeric": numeric,
        "levels": levels,
        "classes": sorted({str(v) for v in frame[target].dropna().unique()}),
        "rows": int(frame[target].notna().sum()),  # the rows this host trains on (a missing label is no row)
        "source": str(table_files(directory)[0]),  # the shard whose header the host's other shards matched
    }


def agree(summaries: list[dict[str, Any]], target: str) -> dict[str, Any]:
    """The global feature types, categorical levels and classes; any host's error fails all of them."""
    errors = [f"host {s['host']}: {s['error']}" for s in summaries if s["error"]]
    if errors:
        raise DataError("; ".join(errors))
    first = summaries[0]
    for other in summaries[1:]:
        if other["columns"] != first["columns"]:
            raise DataError(
                f"{other['source']} (host {other['host']}): columns {other['columns']} differ from "
                f"{first['source']} (host {first['host']}): {first['columns']}"
            )
    features = [c for c in first["columns"] if c != target]
    # A column is categorical if any host saw non-numbers in it (a shard whose values are all missing reads as
    # float); its levels are the union of every host's levels, sorted, so every host encodes it the same way.
    categorical = [c for c in features if any(c not in s["numeric"] for s in summaries)]
    levels = {c: sorted(set().union(*(s["levels"].get(c, []) for s in summaries))) for c in categorical}
    for summary in summaries:
        for column in categorical:
            if column in summary["numeric"]:
                levels[column] = sorted(set(levels[column]) | set(summary["levels"].get(column, [])))
    classes = sorted(set().union(*(s["classes"] for s in summaries)))
    if len(classes) < 2:
        found = f"only '{classes[0]}'" if classes else "no values"
        raise DataError(f"target column '{target}' has {found} across all shards; at least two classes are needed")
    return {
        "features": features,
        "numeric": [c for c in features if c not in categorical],
        "categorical": categorical,
        "levels": levels,
        "classes": classes,
        "rows": [s["rows"] for s in summaries],
    }


def encode(frame: pd.DataFrame, plan: Mapping[str, Any]) -> np.ndarray:
    """Features as float32: numbers as they are, categories as their index in the global levels, missing as NaN."""
    columns = []
    for name in plan["features"]:
        if name in plan["categorical"]:
            mapping = {level: float(i) for i, level in enumerate(plan["levels"][name])}
            values = frame[name].map(lambda v, m=mapping: m.get(str(v), np.nan) if pd.notna(v) else np.nan)
            columns.append(values.to_numpy(dtype=np.float64))
        else:
            columns.append(pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=np.float64))
    return np.column_stack(columns).astype(np.float32) if columns else np.empty((len(frame), 0), np.float32)


def booster_params(args: argparse.Namespace, classes: Sequence[str]) -> dict[str, Any]:
    params: dict[str, Any] = {
        "tree_method": "hist",
        "max_depth": args.max_depth,
        "eta": args.eta,
        "min_child_weight": args.min_child_weight,
        "subsample": args.subsample,
        "seed": args.seed,
        "nthread": args.nthread or os.cpu_count() or 1,
    }
    if len(classes) == 2:
        params.update(objective="binary:logistic", eval_metric="logloss")
    else:
        params.update(objective="multi:softprob", num_class=len(classes), eval_metric="mlogloss")
    return params


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    import xgboost as xgb

    environ = os.environ if environ is None else environ
    args = parse_args(argv, environ)
    hosts, current = cluster(environ)
    started = time.perf_counter()
    tracker = start_tracker(hosts, current, args)
    frame, summary = local_summary(args.train_dir, args.target, current)
    with communicator(hosts, current, args):
        rank, size = rank_and_size()
        plan = agree(all_gather(summary), args.target)
        assert frame is not None  # agree() raised on every host if any host failed to read its shards
        labelled = frame[frame[args.target].notna()]
        class_index = {c: i for i, c in enumerate(plan["classes"])}
        labels = labelled[args.target].astype(str).map(class_index).to_numpy(dtype=np.float32)
        features = encode(labelled, plan)
        feature_types = ["c" if name in plan["categorical"] else "q" for name in plan["features"]]
        params = booster_params(args, plan["classes"])
        # Collective inside the communicator: every host builds its DMatrix, the sketches are merged.
        matrix = xgb.DMatrix(
            features,
            label=labels,
            missing=np.nan,
            feature_names=plan["features"],
            feature_types=feature_types,
            enable_categorical=True,
            nthread=params["nthread"],
        )
        booster = xgb.train(params, matrix, num_boost_round=args.num_round)
        scores = booster.predict(matrix)
        predicted = (scores > 0.5).astype(np.float32) if scores.ndim == 1 else scores.argmax(axis=1)
        correct, rows = all_sum([float((predicted == labels).sum()), float(len(labels))])
        seconds = time.perf_counter() - started
        print(json.dumps({"worker": {"host": current, "rank": rank, "world_size": size, "rows": len(labels)}}))
    if tracker is not None:
        tracker.wait_for(args.tracker_timeout)
        tracker.free()
    # After the hosts have left the collective: MLflow logging on the leader keeps no other host waiting.
    if rank == 0:
        write_model(args, environ, booster, plan, hosts, float(correct / rows), int(rows), seconds)
    return 0


def write_model(
    args: argparse.Namespace,
    environ: Mapping[str, str],
    booster: Any,
    plan: Mapping[str, Any],
    hosts: list[str],
    train_accuracy: float,
    rows: int,
    seconds: float,
) -> None:
    import xgboost as xgb

    hyperparameters = {k: v for k, v in vars(args).items() if k not in _NOT_HYPERPARAMETERS}
    metrics = {
        "train_accuracy": train_accuracy,
        "train_rows": float(rows),
        "workers": float(len(hosts)),
        "train_seconds": round(seconds, 3),
    }
    run_id = log_training_run(environ, {**hyperparameters, "engine": "xgboost", "workers": len(hosts)}, metrics)
    args.model_dir.mkdir(parents=True, exist_ok=True)
    booster.save_model(str(args.model_dir / XGBOOST_MODEL_FILE))
    meta = {
        "features": plan["features"],
        "numeric_features": plan["numeric"],
        "categorical_features": plan["categorical"],
        "categories": plan["levels"],
        "target": args.target,
        "classes": plan["classes"],
        "engine": "xgboost",
        "algorithm": "xgboost",
        "model_file": XGBOOST_MODEL_FILE,
        "xgboost_version": xgb.__version__,
        "hyperparameters": hyperparameters,
        "workers": {"count": len(hosts), "hosts": hosts, "rows_per_worker": plan["rows"]},
        "model_version": args.model_version or run_id or "unversioned",
        "mlflow_run_id": run_id,
        "training_metrics": metrics,
    }
    (args.model_dir / MODEL_META_FILE).write_text(json.dumps(meta, indent=2))
    # The serving code goes into model.tar.gz: an isolated endpoint has no other way to get it.
    write_serving_code(args.model_dir)
    print(json.dumps({"train": {"rows": rows, **metrics, "mlflow_run_id": run_id}}), file=sys.stdout)


if __name__ == "__main__":
    run_main(main)
