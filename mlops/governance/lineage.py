"""Lineage of a model: the code, config and data that produced it, and what it was measured against.

Collected from a pipeline run folder (the `--out` of `mlops pipeline run`) right after its steps ran, so it can
go into the registered package's metadata. A field that cannot be known (no git checkout, tracking off) is
recorded as unknown and listed by `missing_fields`: a package with any missing field cannot be approved.
"""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path
from typing import Any

from pipeline_code.common import DataError, read_json_object
from pipeline_code.lineage_fields import assemble_lineage
from pipeline_code.tables import is_csv, table_files
from platform_config.platform import PlatformConfig, config_sha256
from stacks.code_version import REPO, git_state


def data_fingerprint(data: Path) -> dict[str, Any]:
    """Content hash and data-row count of a CSV or Parquet file, or of every such file below a folder (names
    included)."""
    try:
        files = table_files(data)  # the files the pipeline reads, in the order it reads them
    except DataError:
        files = []  # nothing to read: unknown, which makes the lineage incomplete
    digest, rows = hashlib.sha256(), 0
    for path in files:
        if data.is_dir():
            digest.update(str(path.relative_to(data)).encode() + b"\0")
        with path.open("rb") as handle:
            for block in iter(lambda h=handle: h.read(1 << 20), b""):
                digest.update(block)
        rows += _rows(path)
    return {"content_sha256": digest.hexdigest() if files else None, "rows": rows if files else None}


def _rows(path: Path) -> int:
    if not is_csv(path):
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(path).metadata.num_rows)
    with path.open(newline="", encoding="utf-8", errors="replace") as handle:
        # csv, not line counting: a quoted field may span lines. Blank lines are not rows.
        return max(0, sum(1 for row in csv.reader(handle) if row) - 1)


def collect_lineage(
    run_dir: Path,
    data: Path,
    config: PlatformConfig,
    *,
    data_uri: str | None = None,
    s3_version_id: str | None = None,
    repo: Path = REPO,
) -> dict[str, Any]:
    """Lineage of the run in `run_dir` (the local pipeline's layout) trained on `data`."""
    baseline_dir = run_dir / "baseline"
    return assemble_lineage(
        code=git_state(repo),
        config={"sha256": config_sha256(config), "project_name": config.project_name},
        data={"location": data_uri or str(data.resolve()), "s3_version_id": s3_version_id, **data_fingerprint(data)},
        model_meta=read_json_object(run_dir / "train" / "model" / "model_meta.json"),
        evaluation=read_json_object(run_dir / "evaluate" / "evaluation" / "evaluation.json"),
        baseline_location=str(baseline_dir.resolve()),
        baseline_dir=baseline_dir,
    )
