"""`mlops serve`: run the local SageMaker-style endpoint of the offline twin on 127.0.0.1."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mlops.errors import UserError
from mlops.user_input import check_model_dir, model_load_error, number, output_dir


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="serve a model directory over HTTP (GET /ping, POST /invocations) on 127.0.0.1",
        description="Serve a model directory with the SageMaker container contract on 127.0.0.1.",
    )
    parser.add_argument("--model-dir", required=True, type=Path, help="folder with model.joblib + model_meta.json")
    parser.add_argument("--port", type=int, default=8080, help="TCP port on 127.0.0.1 (0 picks a free one)")
    parser.add_argument("--capture-dir", type=Path, default=None, help="write SageMaker-format data capture here")
    parser.add_argument(
        "--capture-percent", type=number(0.0, 100.0), default=100.0, help="share of invocations to capture (0-100)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # Imported here so that `mlops --help` does not load pandas and scikit-learn.
    from mlops.local.serving import CaptureConfig, EndpointServer, ModelLoadError

    model_dir: Path = args.model_dir
    check_model_dir(model_dir)
    if not 0 <= args.port <= 65535:
        raise UserError(f"--port must be within 0..65535, got {args.port}")
    if not 0.0 <= args.capture_percent <= 100.0:
        raise UserError(f"--capture-percent must be within 0..100, got {args.capture_percent}")
    capture = None
    if args.capture_dir is not None:
        capture = CaptureConfig(
            root=output_dir(args.capture_dir, "--capture-dir"), sampling_percent=args.capture_percent
        )
    try:
        server = EndpointServer.start(model_dir, port=args.port, capture=capture)
    except ModelLoadError as exc:
        raise model_load_error(exc) from None
    except OSError as exc:
        raise UserError(f"cannot listen on 127.0.0.1:{args.port}: {exc.strerror or exc}") from None
    sys.stdout.write(f"serving {model_dir} (model {server.endpoint.model_version}) on {server.url}\n")
    sys.stdout.flush()
    try:
        server.wait()
    except KeyboardInterrupt:
        sys.stdout.write("stopping\n")
    finally:
        server.stop()
    return 0
