"""A real pipeline run is ready, registered with its lineage, and carded; a prior-only model is refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mlops.cli import main as cli
from mlops.cli import readiness as readiness_cli
from pipeline_code.lineage_fields import sha256_json
from pipeline_code.model_card_content import render_markdown
from tests.governance.conftest import Run


def test_the_run_result_carries_lineage_and_a_ready_verdict(real_run: Run) -> None:
    result = json.loads(json.dumps(real_run.result.to_json()))  # what `mlops pipeline run --json` prints
    assert result["readiness"]["ready"] is True and result["readiness"]["failed"] == []
    lineage = result["lineage"]
    assert len(lineage["code"]["commit"]) == 40 and isinstance(lineage["code"]["dirty"], bool)
    assert len(lineage["config"]["sha256"]) == 64
    assert lineage["data"]["rows"] == 10000 and len(lineage["data"]["content_sha256"]) == 64
    assert lineage["training"]["mlflow_run_id"] == result["mlflow_run_id"]
    assert lineage["training"]["engine"] == "sklearn" and lineage["training"]["hyperparameters"]["C"] == 1.0
    assert lineage["evaluation"]["metrics"]["accuracy"] == result["accuracy"]
    assert lineage["evaluation"]["majority_class_accuracy"] == pytest.approx(0.9665)
    assert Path(lineage["baseline"]["location"], "statistics.json").is_file()
    for name in ("lineage.json", "model_card.json", "model_card.md", "readiness.json"):
        assert (real_run.folder / name).is_file()


def test_the_registered_package_metadata_holds_the_lineage_essentials(real_run: Run) -> None:
    metadata = real_run.package["CustomerMetadataProperties"]
    lineage = json.loads((real_run.folder / "lineage.json").read_text())
    assert real_run.package["ModelApprovalStatus"] == "PendingManualApproval"
    assert metadata["lineage_sha256"] == sha256_json(lineage)  # the full lineage document, verifiable
    assert metadata["lineage_complete"] == "true" and metadata["readiness_verdict"] == "ready"
    assert metadata["git_commit"] == lineage["code"]["commit"]
    assert metadata["data_sha256"] == lineage["data"]["content_sha256"] and metadata["data_rows"] == "10000"
    assert metadata["mlflow_run_id"] == lineage["training"]["mlflow_run_id"]
    assert all(isinstance(v, str) and len(v) <= 256 for v in metadata.values())


def test_the_card_contains_the_lineage_and_fits_the_sagemaker_schema(real_run: Run) -> None:
    from sagemaker.model_card import AdditionalInformation, IntendedUses, ModelOverview

    card = json.loads((real_run.folder / "model_card.json").read_text())
    lineage = real_run.result.lineage
    details = card["additional_information"]["custom_details"]
    assert details["git_commit"] == lineage["code"]["commit"]
    assert details["config_sha256"] == lineage["config"]["sha256"]
    assert details["data_sha256"] == lineage["data"]["content_sha256"]
    assert details["mlflow_run_id"] == lineage["training"]["mlflow_run_id"]
    assert card["intended_uses"]["risk_rating"] == "Medium"
    assert card["model_package_details"]["model_package_arn"] == real_run.result.model_package_arn
    assert card["model_overview"]["model_version"] == 1
    # The SageMaker SDK's model card classes accept the sections (field names, enums such as risk_rating).
    ModelOverview(**card["model_overview"])
    IntendedUses(**card["intended_uses"])
    AdditionalInformation(**card["additional_information"])
    assert len(json.dumps(card)) < 100_000  # CreateModelCard's Content limit
    markdown = (real_run.folder / "model_card.md").read_text()
    assert markdown == render_markdown(card) and lineage["code"]["commit"] in markdown


def test_a_prior_only_model_above_a_min_is_not_ready(prior_only_run: Path) -> None:
    verdict = json.loads((prior_only_run / "readiness.json").read_text())
    checks = {c["name"]: c for c in verdict["checks"]}
    assert verdict["ready"] is False and verdict["failed"] == ["beats_majority_class"]
    assert checks["accuracy"]["passed"] is True  # 0.9665 >= 0.85: A_min alone would let it through
    assert "imbalanced classes" in checks["beats_majority_class"]["reason"]


def _cli(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    # The readiness group is registered in mlops/cli/main.py; the test wires it explicitly so it runs either way.
    monkeypatch.setattr(cli, "_command_groups", lambda: [readiness_cli.register])
    return cli.main(["readiness", *args])


def test_cli_ready_package_exits_0_with_the_checklist(real_run: Run, monkeypatch, capsys) -> None:
    assert _cli(monkeypatch, str(real_run.folder)) == 0
    out = capsys.readouterr().out
    summary = real_run.result.evaluation["summary"]
    accuracy, majority = summary["accuracy"], summary["majority_class_accuracy"]
    assert accuracy > majority > 0.85  # the reference data: 3.3% defaulters
    assert (
        f"[PASS] beats_majority_class: holdout accuracy {accuracy:.4f} > majority-class accuracy {majority:.4f}" in out
    )
    assert out.strip().endswith("ready for staging")


def test_cli_prior_only_package_exits_1_with_the_reason(prior_only_run: Path, monkeypatch, capsys) -> None:
    assert _cli(monkeypatch, str(prior_only_run), "--json") == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ready"] is False and report["failed"] == ["beats_majority_class"]


def test_cli_package_without_lineage_exits_1(real_run: Run, tmp_path: Path, monkeypatch, capsys) -> None:
    folder = tmp_path / "no-lineage"
    shutil.copytree(real_run.folder, folder)
    (folder / "lineage.json").unlink()
    assert _cli(monkeypatch, str(folder)) == 1
    assert "[FAIL] lineage: no lineage recorded" in capsys.readouterr().out


def test_cli_bad_input_exits_2_with_one_line_naming_the_path(tmp_path: Path, monkeypatch, capsys) -> None:
    assert _cli(monkeypatch, str(tmp_path / "missing")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(tmp_path / "missing") in err
    assert _cli(monkeypatch, str(tmp_path)) == 2
    assert "evaluation.json: not found" in capsys.readouterr().err
