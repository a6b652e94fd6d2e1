"""The readiness policy: the boundary between a prototype and a model that may go to staging.

A package is ready when every check passes:
- accuracy: holdout accuracy >= A_min (the platform's `min_accuracy`);
- beats_majority_class: holdout accuracy > majority-class accuracy on the same holdout + margin, so a model that
  only learned the class prior never passes (on imbalanced data the prior alone can be above A_min);
- baseline: the data-quality baseline files exist;
- lineage: every lineage field is known (see lineage.missing_fields);
- inference_contract: the serving functions answer a valid prediction per holdout row, CSV and JSON;
- model_card: the card's required sections are filled.
The checks are pure functions of their inputs; the contract test is the one that runs code (inference_contract.py).
The same policy judges offline runs (mlops/governance) and SageMaker pipeline runs (the governance step), so this
module ships in the step library (Python 3.8+).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from pipeline_code.lineage_fields import missing_fields
from pipeline_code.model_card_content import missing_sections

READINESS_FILE = "readiness.json"


@dataclass(frozen=True)
class Policy:
    min_accuracy: float
    majority_margin: float = 0.0
    contract_rows: int = 50


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    reason: str


@dataclass(frozen=True)
class Verdict:
    checks: tuple[Check, ...]
    policy: Policy

    @property
    def ready(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def failed(self) -> list[str]:
        return [c.name for c in self.checks if not c.passed]

    def to_json(self) -> dict[str, Any]:
        return {
            "ready": self.ready,
            "failed": self.failed,
            "checks": [asdict(c) for c in self.checks],
            "policy": asdict(self.policy),
        }


def check_metrics(summary: Mapping[str, Any], policy: Policy) -> list[Check]:
    accuracy, majority = _number(summary.get("accuracy")), _number(summary.get("majority_class_accuracy"))
    if accuracy is None:
        reason = "evaluation.json has no summary.accuracy"
        return [Check("accuracy", False, reason), Check("beats_majority_class", False, reason)]
    meets = accuracy >= policy.min_accuracy
    checks = [
        Check(
            "accuracy",
            meets,
            f"holdout accuracy {accuracy:.4f} {'>=' if meets else '<'} A_min {policy.min_accuracy:.4f}",
        )
    ]
    if majority is None:
        checks.append(Check("beats_majority_class", False, "evaluation.json has no summary.majority_class_accuracy"))
        return checks
    bar = majority + policy.majority_margin
    beats = accuracy > bar
    why = (
        f"holdout accuracy {accuracy:.4f} {'>' if beats else '<='} majority-class accuracy {majority:.4f}"
        f" + margin {policy.majority_margin:.4f}"
    )
    if not beats and majority >= policy.min_accuracy:
        why += " (imbalanced classes: predicting the majority class alone reaches A_min)"
    checks.append(Check("beats_majority_class", beats, why))
    return checks


def check_baseline(present: Mapping[str, bool], problem: str = "") -> Check:
    """`problem`: why the baseline files, though present, are unusable (empty, not JSON, no features)."""
    missing = [name for name, ok in present.items() if not ok]
    if missing:
        return Check("baseline", False, f"baseline file(s) missing: {', '.join(missing)}")
    if problem:
        return Check("baseline", False, f"baseline unusable: {problem}")
    return Check("baseline", True, f"baseline present and readable ({', '.join(present)})")


def check_lineage(lineage: Mapping[str, Any] | None) -> Check:
    if not lineage:
        return Check("lineage", False, "no lineage recorded (lineage.json missing or empty)")
    missing = missing_fields(lineage)
    if missing:
        return Check("lineage", False, f"lineage incomplete: {', '.join(missing)} unknown")
    commit = str(lineage["code"]["commit"])[:12]
    dirty = " (uncommitted changes)" if lineage["code"]["dirty"] else ""
    return Check("lineage", True, f"lineage complete: commit {commit}{dirty}, data rows {lineage['data']['rows']}")


def check_contract(rows: int, errors: Sequence[str]) -> Check:
    """`errors` from the contract test; none means every row got a valid prediction in both formats."""
    if errors:
        more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
        return Check("inference_contract", False, f"contract test failed: {errors[0]}{more}")
    if rows == 0:
        return Check("inference_contract", False, "contract test did not run: no holdout rows")
    return Check("inference_contract", True, f"{rows} holdout rows answered with a valid prediction (CSV and JSON)")


def check_model_card(card: Mapping[str, Any] | None) -> Check:
    if not card:
        return Check("model_card", False, "no model card (model_card.json missing or empty)")
    missing = missing_sections(card)
    if missing:
        return Check("model_card", False, f"model card incomplete: {', '.join(missing)} not filled")
    return Check("model_card", True, f"model card filled (risk rating {card['intended_uses']['risk_rating']})")


def evaluate(
    policy: Policy,
    summary: Mapping[str, Any],
    baseline_present: Mapping[str, bool],
    lineage: Mapping[str, Any] | None,
    contract_rows: int,
    contract_errors: Sequence[str],
    card: Mapping[str, Any] | None,
    baseline_problem: str = "",
) -> Verdict:
    checks = [
        *check_metrics(summary, policy),
        check_baseline(baseline_present, baseline_problem),
        check_lineage(lineage),
        check_contract(contract_rows, contract_errors),
        check_model_card(card),
    ]
    return Verdict(tuple(checks), policy)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        return None
    return float(value)
