"""Lineage of a model: the code, config and data that produced it, and what it was measured against.

Collected from a pipeline run folder (the `--out` of `mlops pipeline run`) right after its steps ran, so it can
go into the registered package's metadata. A field that cannot be known (no git checkout, tracking off) is
recorded as unknown and listed by `missing_fields`: a package with any missing field cannot be approved.
"""

from __future__ import annotations

import csv
import hashlib
import json
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from stacks.config import PlatformConfig, as_dict

REPO = Path(__file__).resolve().parents[2]
UNKNOWN = "unknown"
LINEAGE_FILE = "lineage.json"
BASELINE_FILES = ("statistics.json", "constraints.json")
# CustomerMetadataProperties values are limited to 256 characters.
MAX_METADATA_VALUE = 256


def git_state(repo: Path = REPO) -> dict[str, Any]:
    """Commit and dirty flag of the code's checkout; "unknown" outside a git checkout or without git."""
    try:
        commit = _git(repo, "rev-parse", "HEAD")
        # --no-optional-locks: never take index.lock, so this read does not race a concurrent commit.
        dirty = bool(_git(repo, "--no-optional-locks", "status", "--porcelain"))
    except (OSError, subprocess.SubprocessError):
        return {"commit": UNKNOWN, "dirty": None}
    return {"commit": commit, "dirty": dirty}


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=20, check=True)
    return done.stdout.strip()


def config_digest(config: PlatformConfig) -> str:
    """sha256 of the effective config as canonical JSON: equal configs, equal digests."""
    return sha256_json(as_dict(config))


def sha256_json(document: Any) -> str:
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def data_fingerprint(data: Path) -> dict[str, Any]:
    """Content hash and data-row count of a CSV file, or of every CSV below a folder (names included)."""
    files = [data] if data.is_file() else sorted(p for p in data.rglob("*.csv") if p.is_file())
    digest, rows = hashlib.sha256(), 0
    for path in files:
        if data.is_dir():
            digest.update(str(path.relative_to(data)).encode() + b"\0")
        with path.open("rb") as handle:
            for block in iter(lambda h=handle: h.read(1 << 20), b""):
                digest.update(block)
        with path.open(newline="", encoding="utf-8", errors="replace") as handle:
            # csv, not line counting: a quoted field may span lines. Blank lines are not rows.
            rows += max(0, sum(1 for row in csv.reader(handle) if row) - 1)
    return {"content_sha256": digest.hexdigest() if files else None, "rows": rows if files else None}


def file_digests(folder: Path, names: tuple[str, ...]) -> dict[str, str | None]:
    return {n: hashlib.sha256((folder / n).read_bytes()).hexdigest() if (folder / n).is_file() else None for n in names}


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
    meta = _read_json(run_dir / "train" / "model" / "model_meta.json")
    evaluation = _read_json(run_dir / "evaluate" / "evaluation" / "evaluation.json")
    summary = evaluation.get("summary", {})
    # The model-quality sections only (binary_/multiclass_classification_metrics), not comparisons added later.
    metrics = {
        name: value["value"]
        for key, section in evaluation.items()
        if key.endswith("_metrics") and isinstance(section, dict)
        for name, value in section.items()
        if isinstance(value, dict) and "value" in value
    }
    baseline_dir = run_dir / "baseline"
    return {
        "code": git_state(repo),
        "config": {"sha256": config_digest(config), "project_name": config.project_name},
        "data": {
            "location": data_uri or str(data.resolve()),
            "s3_version_id": s3_version_id,
            **data_fingerprint(data),
        },
        "training": {
            "mlflow_run_id": meta.get("mlflow_run_id"),
            "engine": meta.get("engine"),
            "algorithm": meta.get("algorithm"),
            "hyperparameters": meta.get("hyperparameters"),
            "model_version": meta.get("model_version"),
        },
        "evaluation": {
            "metrics": metrics,
            "majority_class_accuracy": summary.get("majority_class_accuracy"),
            "rows": summary.get("rows"),
        },
        "baseline": {"location": str(baseline_dir.resolve()), "sha256": file_digests(baseline_dir, BASELINE_FILES)},
    }


def _read_json(path: Path) -> dict[str, Any]:
    try:
        loaded = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def missing_fields(lineage: Mapping[str, Any] | None) -> list[str]:
    """Dotted names of the lineage fields that are absent or unknown; empty when the lineage is complete."""
    if not lineage:
        return ["lineage"]

    def get(dotted: str) -> Any:
        value: Any = lineage
        for part in dotted.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        return value

    def known(value: Any) -> bool:
        return value not in (None, "", UNKNOWN, {}, [])

    required = (
        "code.commit", "code.dirty", "config.sha256", "data.location", "data.rows", "training.mlflow_run_id",
        "training.engine", "training.hyperparameters", "evaluation.metrics", "baseline.location",
    )  # fmt: skip
    missing = [name for name in required if not known(get(name))]
    # S3 data is identified by its version id, local data by its content hash: one of the two is enough.
    if not known(get("data.s3_version_id")) and not known(get("data.content_sha256")):
        missing.append("data.content_sha256|data.s3_version_id")
    if "accuracy" not in (get("evaluation.metrics") or {}):
        missing.append("evaluation.metrics.accuracy")
    digests = get("baseline.sha256") or {}
    missing += [f"baseline.{name}" for name in BASELINE_FILES if not known(digests.get(name))]
    return missing


def registry_metadata(lineage: Mapping[str, Any], verdict: Mapping[str, Any]) -> dict[str, str]:
    """The essentials of lineage and readiness as CustomerMetadataProperties (strings of at most 256 characters).

    `lineage_sha256` is the digest of the full lineage document (lineage.json), so a copy of it can be checked
    against the package; `readiness_verdict` and `lineage_complete` are what the approval path reads.
    """
    code, data, training = lineage.get("code", {}), lineage.get("data", {}), lineage.get("training", {})
    metrics = lineage.get("evaluation", {}).get("metrics", {})
    missing = missing_fields(lineage)
    values: dict[str, Any] = {
        "lineage_sha256": sha256_json(lineage),
        "lineage_complete": "false" if missing else "true",
        "lineage_missing": ",".join(missing),
        "git_commit": code.get("commit"),
        "git_dirty": code.get("dirty"),
        "config_sha256": lineage.get("config", {}).get("sha256"),
        "data_location": data.get("location"),
        "data_s3_version_id": data.get("s3_version_id"),
        "data_sha256": data.get("content_sha256"),
        "data_rows": data.get("rows"),
        "mlflow_run_id": training.get("mlflow_run_id"),
        "training_engine": f"{training.get('engine')}/{training.get('algorithm')}",
        "hyperparameters": json.dumps(training.get("hyperparameters"), sort_keys=True, separators=(",", ":")),
        "holdout_accuracy": metrics.get("accuracy"),
        "majority_class_accuracy": lineage.get("evaluation", {}).get("majority_class_accuracy"),
        "baseline_location": lineage.get("baseline", {}).get("location"),
        "readiness_verdict": "ready" if verdict.get("ready") else "not_ready",
        "readiness_failed": ",".join(verdict.get("failed", [])),
    }
    return {key: _fit(value) for key, value in values.items() if value not in (None, "")}


def _fit(value: Any) -> str:
    text = json.dumps(value) if isinstance(value, bool) else str(value)
    if len(text) <= MAX_METADATA_VALUE:
        return text
    # Keep the tail of a path (the informative part) and mark the cut; the full value is in lineage.json.
    return "..." + text[-(MAX_METADATA_VALUE - 3) :]
