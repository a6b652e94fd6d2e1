"""Governance of a local pipeline run folder (the `--out` of `mlops pipeline run`): read it, assess, write.

The folder layout is the local pipeline's: train/output/model.tar.gz (the artifact the endpoint gets),
train/model/model_meta.json, evaluate/evaluation/evaluation.json, preprocess/test/ (the holdout set, Parquet) and
baseline/. The governance files are written at its top: lineage.json, model_card.json, model_card.md,
readiness.json.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops.errors import UserError
from mlops.governance.lineage import collect_lineage
from pipeline_code import governance as governance_step
from pipeline_code import readiness_policy as readiness
from pipeline_code.common import DataError, read_json_object
from pipeline_code.lineage_fields import LINEAGE_FILE
from pipeline_code.model_card_content import MODEL_CARD_FILE, MODEL_CARD_MARKDOWN, build_model_card, render_markdown
from platform_config.platform import PlatformConfig

EVALUATION = Path("evaluate") / "evaluation" / "evaluation.json"
MODEL_ARCHIVE = Path("train") / "output" / "model.tar.gz"
MODEL_META = Path("train") / "model" / "model_meta.json"
HOLDOUT = Path("preprocess") / "test"
BASELINE = Path("baseline")
# What finalize writes at the folder's top (a new run removes them first).
GOVERNANCE_FILES = (LINEAGE_FILE, MODEL_CARD_FILE, MODEL_CARD_MARKDOWN, readiness.READINESS_FILE)


@dataclass
class Governance:
    lineage: dict[str, Any]
    card: dict[str, Any]
    verdict: readiness.Verdict
    run_dir: Path

    @property
    def metadata(self) -> dict[str, str]:
        """CustomerMetadataProperties for the registered package: the governance step's metadata.json, the same
        keys and encoding the SageMaker pipeline's Register step registers; lineage and card are in the run folder."""
        where = {"lineage_uri": str(self.run_dir / LINEAGE_FILE), "model_card_uri": str(self.run_dir / MODEL_CARD_FILE)}
        return governance_step.package_metadata(self.lineage, self.verdict.to_json(), where)


def prepare(
    run_dir: Path, data: Path, config: PlatformConfig, *, data_uri: str | None = None, model_name: str = ""
) -> Governance:
    """Collect lineage, build the card and assess readiness right after the steps ran (before registration)."""
    lineage = collect_lineage(run_dir, data, config, data_uri=data_uri)
    card = build_model_card(
        lineage,
        read_json_object(run_dir / EVALUATION),
        read_json_object(run_dir / MODEL_META),
        model_name=model_name or config.resource_name("models"),
        risk_rating=config.model_risk_rating,
    )
    return Governance(lineage, card, assess(run_dir, config, lineage=lineage, card=card), run_dir)


def finalize(run_dir: Path, governance: Governance, config: PlatformConfig, package: Mapping[str, Any] | None) -> None:
    """Write the governance files; the card names the registered package when there is one."""
    if package:
        governance.card = build_model_card(
            governance.lineage,
            read_json_object(run_dir / EVALUATION),
            read_json_object(run_dir / MODEL_META),
            model_name=governance.card["model_overview"]["model_name"],
            risk_rating=config.model_risk_rating,
            package=package,
        )
    _write(run_dir / LINEAGE_FILE, governance.lineage)
    _write(run_dir / MODEL_CARD_FILE, governance.card)
    (run_dir / MODEL_CARD_MARKDOWN).write_text(render_markdown(governance.card))
    _write(run_dir / readiness.READINESS_FILE, governance.verdict.to_json())


def assess(
    run_dir: Path,
    config: PlatformConfig,
    *,
    lineage: Mapping[str, Any] | None = None,
    card: Mapping[str, Any] | None = None,
) -> readiness.Verdict:
    """The readiness verdict of a run folder; lineage and card are read from it unless given."""
    evaluation_path = run_dir / EVALUATION
    if not run_dir.is_dir():
        raise UserError(f"{run_dir}: not found or not a folder (expected a pipeline run folder, the --out of run)")
    if not evaluation_path.is_file():
        raise UserError(f"{evaluation_path}: not found (is {run_dir} a pipeline run folder?)")
    try:
        summary = json.loads(evaluation_path.read_text())["summary"]
    except (ValueError, KeyError, TypeError):
        raise UserError(f"{evaluation_path}: not an evaluation report (no summary block)") from None
    lineage = read_json_object(run_dir / LINEAGE_FILE) if lineage is None else lineage
    card = read_json_object(run_dir / MODEL_CARD_FILE) if card is None else card
    try:
        return governance_step.assess(
            policy_from_config(config),
            summary,
            run_dir / MODEL_ARCHIVE,
            run_dir / HOLDOUT,
            run_dir / BASELINE,
            lineage,
            card,
            config.random_seed,
        )
    except DataError as exc:  # e.g. a corrupt model.tar.gz: the folder given is bad input
        raise UserError(str(exc)) from None


def policy_from_config(config: PlatformConfig) -> readiness.Policy:
    return readiness.Policy(config.min_accuracy, config.readiness_majority_margin, config.readiness_contract_rows)


def _write(path: Path, document: Any) -> None:
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
