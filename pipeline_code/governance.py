"""Governance step: the lineage, model card and readiness verdict of the model this pipeline run trained.

Runs after Evaluate and Baseline, before Register, so that the registered package carries them in its metadata:
the approval paths (manual approval through the deploy function, the retraining loop) refuse a package whose
lineage is incomplete or whose readiness failed. The rules are the ones the offline pipeline applies
(lineage_fields, readiness_policy, model_card_content, inference_contract); this script collects the inputs from
the job's channels.

Container contract (SageMaker Processing):
- inputs: /opt/ml/processing/model/model.tar.gz (the training job's artifact), /opt/ml/processing/test (the
  holdout set), /opt/ml/processing/evaluation/evaluation.json, /opt/ml/processing/baseline/*.json and
  /opt/ml/processing/report/preprocess*.json (row counts, one report per processing instance);
- output: /opt/ml/processing/governance/ with lineage.json, model_card.json, model_card.md, readiness.json and
  metadata.json, the flat strings the Register step puts in CustomerMetadataProperties (every key always
  present, "none" when unknown, so the pipeline's JsonGet never misses; encoded by metadata_codec, so each value
  fits the API's pattern: the Register step passes them on unchecked).
The input data's identity in S3 is its object version (the raw bucket is versioned): one object's VersionId, or
for a prefix the sha256 of its sorted `key@version` list, which is written out in full in lineage.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from contracts.metadata_codec import encode_value
from contracts.package_metadata import LINEAGE_COMPLETE, MODEL_CARD_URI, PACKAGE_METADATA_KEYS
from contracts.sentinels import NONE
from pipeline_code import readiness_policy
from pipeline_code.common import DataError, read_json_object, run_main, safe_extract
from pipeline_code.inference_contract import run_contract_test
from pipeline_code.lineage_fields import (
    BASELINE_FILES,
    LINEAGE_FILE,
    UNKNOWN,
    assemble_lineage,
    registry_metadata,
)
from pipeline_code.model_card_content import MODEL_CARD_FILE, MODEL_CARD_MARKDOWN, build_model_card, render_markdown
from pipeline_code.tables import read_table_dir

PROCESSING = Path("/opt/ml/processing")
METADATA_FILE = "metadata.json"
# The CustomerMetadataProperties the Register step sets, each read from metadata.json by a JsonGet.


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model-dir", type=Path, default=PROCESSING / "model")
    parser.add_argument("--test-dir", type=Path, default=PROCESSING / "test")
    parser.add_argument("--evaluation-dir", type=Path, default=PROCESSING / "evaluation")
    parser.add_argument("--baseline-dir", type=Path, default=PROCESSING / "baseline")
    parser.add_argument("--report-dir", type=Path, default=PROCESSING / "report")
    parser.add_argument("--output-dir", type=Path, default=PROCESSING / "governance")
    parser.add_argument("--code-commit", default=UNKNOWN)
    parser.add_argument("--code-dirty", choices=("true", "false", UNKNOWN), default=UNKNOWN)
    parser.add_argument("--config-sha256", default=UNKNOWN)
    parser.add_argument("--project-name", default="")
    parser.add_argument("--data-uri", required=True, help="the run's input data (s3://... in AWS)")
    parser.add_argument("--baseline-uri", default="", help="where the baseline files were written")
    parser.add_argument("--output-uri", default="", help="where this step's output lands (for the card's URI)")
    parser.add_argument("--model-name", default="model")
    parser.add_argument("--risk-rating", default="unknown")
    parser.add_argument("--min-accuracy", type=float, required=True)
    parser.add_argument("--majority-margin", type=float, default=0.0)
    parser.add_argument("--contract-rows", type=int, default=50)
    parser.add_argument("--seed", type=int, default=42)
    return parser.parse_args(argv)


def s3_data_version(uri: str, s3: Any) -> tuple[str | None, dict[str, str]]:
    """The identity of the data at `uri` as of now: (version id or manifest digest, {key: version id}).

    None when the bucket is not versioned (VersionId "null") or nothing is there: the lineage then lacks the data
    version and the package cannot be approved.
    """
    location = urlparse(uri)
    bucket, prefix = location.netloc, location.path.lstrip("/")
    versions: dict[str, str] = {}
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        for version in page.get("Versions", []):
            if version.get("IsLatest") and not version["Key"].endswith("/"):
                versions[version["Key"]] = str(version.get("VersionId"))
    # Only the object itself, or objects below the prefix as a folder (not "data.csv.bak" for "data.csv").
    chosen = {k: v for k, v in versions.items() if k == prefix or k.startswith(prefix.rstrip("/") + "/") or not prefix}
    if not chosen or any(v in ("null", "None", "") for v in chosen.values()):
        return None, chosen
    if list(chosen) == [prefix]:
        return chosen[prefix], chosen
    listing = "\n".join(f"{k}@{v}" for k, v in sorted(chosen.items()))
    return "manifest-sha256:" + hashlib.sha256(listing.encode()).hexdigest(), chosen


def _s3_client() -> Any:
    import boto3

    return boto3.client("s3")


def data_section(uri: str, rows: Any, s3: Any = None) -> dict[str, Any]:
    section: dict[str, Any] = {"location": uri, "rows": rows}
    if urlparse(uri).scheme == "s3":
        version, objects = s3_data_version(uri, s3 or _s3_client())
        section.update(s3_version_id=version, s3_objects=objects)
    return section


def main(argv: Sequence[str] | None = None, s3: Any = None) -> int:
    args = parse_args(argv)
    evaluation = read_json_object(args.evaluation_dir / "evaluation.json", required=True)
    with tempfile.TemporaryDirectory() as scratch:
        model_dir = _unpacked_model(args.model_dir, Path(scratch))
        meta = read_json_object(model_dir / "model_meta.json")
        dirty = {"true": True, "false": False}.get(args.code_dirty)
        lineage = assemble_lineage(
            code={"commit": args.code_commit, "dirty": dirty},
            config={"sha256": args.config_sha256, "project_name": args.project_name},
            data=data_section(args.data_uri, rows_read(args.report_dir), s3),
            model_meta=meta,
            evaluation=evaluation,
            baseline_location=args.baseline_uri or str(args.baseline_dir),
            baseline_dir=args.baseline_dir,
        )
        card = build_model_card(lineage, evaluation, meta, model_name=args.model_name, risk_rating=args.risk_rating)
        policy = readiness_policy.Policy(args.min_accuracy, args.majority_margin, args.contract_rows)
        summary = evaluation.get("summary", {})
        verdict = assess(policy, summary, model_dir, args.test_dir, args.baseline_dir, lineage, card, args.seed)
    output_uri = args.output_uri.rstrip("/")
    extra = {"lineage_uri": f"{output_uri}/{LINEAGE_FILE}", MODEL_CARD_URI: f"{output_uri}/{MODEL_CARD_FILE}"}
    metadata = package_metadata(lineage, verdict.to_json(), extra if output_uri else {})
    args.output_dir.mkdir(parents=True, exist_ok=True)
    for name, document in (
        (LINEAGE_FILE, lineage),
        (MODEL_CARD_FILE, card),
        (readiness_policy.READINESS_FILE, verdict.to_json()),
        (METADATA_FILE, metadata),
    ):
        (args.output_dir / name).write_text(json.dumps(document, indent=2, default=str) + "\n")
    (args.output_dir / MODEL_CARD_MARKDOWN).write_text(render_markdown(card))
    outcome = {"ready": verdict.ready, "failed": verdict.failed, "lineage_complete": metadata[LINEAGE_COMPLETE]}
    print(json.dumps({"governance": outcome}), file=sys.stdout)
    return 0


def package_metadata(
    lineage: Mapping[str, Any], verdict: Mapping[str, Any], extra: Mapping[str, str]
) -> dict[str, str]:
    """Every PACKAGE_METADATA_KEYS entry as an encoded, non-empty string (the registry rejects empty values): what the
    Register step registers, and what the local pipeline registers too."""
    values = {**registry_metadata(lineage, verdict), **{key: encode_value(value) for key, value in extra.items()}}
    return {key: values.get(key, NONE) for key in PACKAGE_METADATA_KEYS}


def rows_read(report_dir: Path) -> int | None:
    """Input rows, summed over the preprocess reports (one per processing instance); None without a report."""
    counts = [read_json_object(path).get("rows_read") for path in sorted(report_dir.glob("preprocess*.json"))]
    if not counts or not all(isinstance(c, int) and not isinstance(c, bool) for c in counts):
        return None
    return sum(counts)


def _unpacked_model(model_dir: Path, scratch: Path) -> Path:
    archive = model_dir / "model.tar.gz"
    if archive.is_file():
        safe_extract(archive, scratch)
        return scratch
    return model_dir


def assess(
    policy: readiness_policy.Policy,
    summary: Mapping[str, Any],
    model: Path,
    test_dir: Path,
    baseline_dir: Path,
    lineage: Mapping[str, Any] | None,
    card: Mapping[str, Any] | None,
    seed: int,
) -> readiness_policy.Verdict:
    """The readiness verdict: the policy's checks, with the contract test run on the model (a model.tar.gz or
    its unpacked folder) and the holdout set. The offline pipeline's `mlops readiness` calls this too."""
    rows, errors = _contract(model, test_dir, policy.contract_rows, seed)
    baseline = {name: (baseline_dir / name).is_file() for name in BASELINE_FILES}
    problem = baseline_problem(baseline_dir) if all(baseline.values()) else ""
    return readiness_policy.evaluate(policy, summary, baseline, lineage, rows, errors, card, problem)


def baseline_problem(baseline_dir: Path) -> str:
    """Why the baseline cannot serve the drift checks ("" when it can): read as the drift Lambda reads it."""
    import drift_core

    try:
        baseline = drift_core.read_baseline(baseline_dir)
    except drift_core.BaselineFormatError as exc:
        return str(exc)
    statistics, constraints = (baseline_dir / name for name in BASELINE_FILES)
    if not baseline.features:
        return f"{statistics}: no features"
    # read_baseline checked that constraints.json is an object with a list of features.
    named = {e.get("name") for e in json.loads(constraints.read_text())["features"] if isinstance(e, dict)}
    unconstrained = sorted(set(baseline.features) - named)
    if unconstrained:
        return f"{constraints}: no constraints for feature(s) {', '.join(unconstrained)}"
    return ""


def _contract(model: Path, test_dir: Path, rows: int, seed: int) -> tuple[int, list[str]]:
    if not model.exists():
        return 0, [f"{model}: model artifact not found"]
    try:
        holdout = read_table_dir(test_dir)
    except DataError as exc:
        return 0, [f"holdout set: {exc}"]
    result = run_contract_test(model, holdout, rows, seed)
    return result.rows, result.errors


if __name__ == "__main__":
    run_main(main)
