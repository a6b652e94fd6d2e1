"""PackageTriton step: turn the XGBoost engine's model.tar.gz into a Triton (FIL backend) multi-model archive.

Container contract (SageMaker Processing): the training job's model.tar.gz in /opt/ml/processing/model; the archive
is written to /opt/ml/processing/triton/model.tar.gz (one Triton model directory: config.pbtxt, 1/xgboost.json,
feature_encoding.json) with feature_encoding.json next to it for clients. The Register step records the archive's
S3 location in the model package's customer metadata (`triton_model_data_uri`); the deploy function copies it under
the Triton endpoint's multi-model prefix when the package is approved.

Runs in the scikit-learn processing container (Python 3.8/3.9); the repository logic is pure standard library
(pipeline_code.triton_repository).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from pipeline_code.common import DataError, run_main, safe_extract
from pipeline_code.triton_repository import (
    DEFAULT_MAX_BATCH_SIZE,
    ENCODING_FILE,
    INSTANCE_KINDS,
    RepositoryError,
    build_repository,
    check_repository,
    write_archive,
)

PROCESSING = Path("/opt/ml/processing")
ARCHIVE_NAME = "model.tar.gz"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model-dir", type=Path, default=PROCESSING / "model", help="holds the model.tar.gz")
    parser.add_argument("--output-dir", type=Path, default=PROCESSING / "triton")
    parser.add_argument("--model-name", required=True, help="the Triton model's name inside the archive")
    parser.add_argument("--max-batch-size", type=int, default=DEFAULT_MAX_BATCH_SIZE)
    parser.add_argument("--instance-kind", choices=INSTANCE_KINDS, default="KIND_CPU")
    return parser.parse_args(argv)


def model_folder(model_dir: Path, scratch: Path) -> Path:
    """The trained model's files: model.tar.gz unpacked into scratch, or the folder itself if already unpacked."""
    archives = sorted(model_dir.glob("*.tar.gz"))
    if not archives:
        return model_dir
    if len(archives) > 1:
        raise DataError(f"{model_dir}: expected one model archive, found {[a.name for a in archives]}")
    safe_extract(archives[0], scratch)
    return scratch


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory() as work:
        work_dir = Path(work)
        try:
            source = model_folder(args.model_dir, work_dir / "model")
            model = build_repository(
                source, work_dir / "repository", args.model_name, args.max_batch_size, args.instance_kind
            )
            summary = check_repository(work_dir / "repository")
        except RepositoryError as exc:
            raise DataError(str(exc)) from None
        args.output_dir.mkdir(parents=True, exist_ok=True)
        write_archive(model, args.output_dir / ARCHIVE_NAME)
        shutil.copyfile(model / ENCODING_FILE, args.output_dir / ENCODING_FILE)
    print(json.dumps({"triton": {**summary, "archive": str(args.output_dir / ARCHIVE_NAME)}}))
    return 0


if __name__ == "__main__":
    run_main(main)
