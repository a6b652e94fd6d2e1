"""The lineage record's rules, shared by the offline pipeline and the SageMaker pipeline's governance step.

What a complete lineage is (`missing_fields`) and how its essentials are written into a model package's
CustomerMetadataProperties (`registry_metadata`, in metadata_codec's encoding), which the approval paths read.
Collecting lineage is the caller's part: mlops/governance/lineage.py offline, pipeline_code/governance.py in the
SageMaker job. This module ships in the step library (Python 3.8+, standard library only).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from contracts import package_metadata as pm
from contracts.metadata_codec import encode_value

UNKNOWN = "unknown"
LINEAGE_FILE = "lineage.json"
BASELINE_FILES = ("statistics.json", "constraints.json")


def sha256_json(document: Any) -> str:
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def file_digests(folder: Path, names: tuple[str, ...]) -> dict[str, str | None]:
    return {n: hashlib.sha256((folder / n).read_bytes()).hexdigest() if (folder / n).is_file() else None for n in names}


def evaluation_metrics(evaluation: Mapping[str, Any]) -> dict[str, Any]:
    """The model-quality sections of evaluation.json (binary_/multiclass_classification_metrics) as name -> value,
    not comparisons added later (the champion's score)."""
    return {
        name: value["value"]
        for key, section in evaluation.items()
        if key.endswith("_metrics") and isinstance(section, dict)
        for name, value in section.items()
        if isinstance(value, dict) and "value" in value
    }


def training_section(meta: Mapping[str, Any]) -> dict[str, Any]:
    """The lineage's training section, from the model_meta.json the train scripts write."""
    section = {
        "mlflow_run_id": meta.get("mlflow_run_id"),
        "engine": meta.get("engine"),
        "algorithm": meta.get("algorithm"),
        "hyperparameters": meta.get("hyperparameters"),
        "model_version": meta.get("model_version"),
    }
    if meta.get("workers") is not None:  # distributed engines record how many hosts trained the model
        section["workers"] = meta.get("workers")
    return section


def assemble_lineage(
    code: Mapping[str, Any],
    config: Mapping[str, Any],
    data: Mapping[str, Any],
    model_meta: Mapping[str, Any],
    evaluation: Mapping[str, Any],
    baseline_location: str,
    baseline_dir: Path,
) -> dict[str, Any]:
    """The lineage document, the same shape offline and in the SageMaker governance step.

    `code`: commit and dirty flag; `config`: sha256 and project_name; `data`: location, rows and the content's
    identity (content_sha256 offline, s3_version_id in S3).
    """
    summary = evaluation.get("summary", {})
    return {
        "code": dict(code),
        "config": dict(config),
        "data": dict(data),
        "training": training_section(model_meta),
        "evaluation": {
            "metrics": evaluation_metrics(evaluation),
            "majority_class_accuracy": summary.get("majority_class_accuracy"),
            "rows": summary.get("rows"),
        },
        "baseline": {"location": baseline_location, "sha256": file_digests(baseline_dir, BASELINE_FILES)},
    }


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


def lineage_essentials(lineage: Mapping[str, Any]) -> dict[str, Any]:
    """The fields that identify what produced a model, flat: the package metadata and the model card carry them."""
    code, data, training = lineage.get("code", {}), lineage.get("data", {}), lineage.get("training", {})
    return {
        "git_commit": code.get("commit"),
        "git_dirty": code.get("dirty"),
        "config_sha256": lineage.get("config", {}).get("sha256"),
        "data_location": data.get("location"),
        "data_s3_version_id": data.get("s3_version_id"),
        "data_sha256": data.get("content_sha256"),
        "data_rows": data.get("rows"),
        "mlflow_run_id": training.get("mlflow_run_id"),
        "baseline_location": lineage.get("baseline", {}).get("location"),
    }


def registry_metadata(lineage: Mapping[str, Any], verdict: Mapping[str, Any]) -> dict[str, str]:
    """The essentials of lineage and readiness as CustomerMetadataProperties, each value encoded by
    metadata_codec.encode_value (within the API's pattern, 1 to 256 characters; unknown is `none`).

    `lineage_sha256` is the digest of the full lineage document (lineage.json), so a copy of it can be checked
    against the package; `readiness_verdict` and `lineage_complete` are what the approval path reads.
    """
    training = lineage.get("training", {})
    metrics = lineage.get("evaluation", {}).get("metrics", {})
    missing = missing_fields(lineage)
    values: dict[str, Any] = {
        "lineage_sha256": sha256_json(lineage),
        pm.LINEAGE_COMPLETE: "false" if missing else pm.TRUE,
        pm.LINEAGE_MISSING: missing,
        **lineage_essentials(lineage),
        "training_engine": f"{training.get('engine')}/{training.get('algorithm')}",
        "hyperparameters": training.get("hyperparameters"),
        "holdout_accuracy": metrics.get("accuracy"),
        "majority_class_accuracy": lineage.get("evaluation", {}).get("majority_class_accuracy"),
        pm.READINESS_VERDICT: pm.READY if verdict.get("ready") else pm.NOT_READY,
        pm.READINESS_FAILED: list(verdict.get("failed", [])),
    }
    workers = training.get("workers")
    if workers is not None:  # the XGBoost engine: {"count", "hosts", "rows_per_worker"}; the count is what matters
        values["training_workers"] = workers.get("count") if isinstance(workers, Mapping) else workers
    return {key: encode_value(value) for key, value in values.items()}
