"""The model card: SageMaker Model Card content (its JSON schema's snake_case sections) and a Markdown rendering.

One builder for both places: offline the card is written next to the run as model_card.json / model_card.md; in
AWS the same JSON is the `Content` of `sagemaker:CreateModelCard` made by the approval path. Lineage goes into
`additional_information.custom_details` (flat string values, as the schema requires), identified in full by
its digest in `evaluation_details[].metadata`. Ships in the step library (Python 3.8+): the SageMaker pipeline's
governance step builds the card there.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pipeline_code.lineage_fields import lineage_essentials, sha256_json

MODEL_CARD_FILE = "model_card.json"
MODEL_CARD_MARKDOWN = "model_card.md"
RISK_RATINGS = {"low": "Low", "medium": "Medium", "high": "High", "unknown": "Unknown"}
# The schema caps custom_details values; keep the lineage essentials short.
_CUSTOM_VALUE_MAX = 1024


def build_model_card(
    lineage: Mapping[str, Any],
    evaluation: Mapping[str, Any],
    model_meta: Mapping[str, Any],
    *,
    model_name: str,
    risk_rating: str,
    package: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Card content from what the run produced; `package` (arn, group, version, status) once it is registered."""
    summary = evaluation.get("summary", {})
    classes = [str(c) for c in model_meta.get("classes", [])]
    problem = "Binary Classification" if len(classes) == 2 else "Multiclass Classification"
    data, training = lineage.get("data", {}), lineage.get("training", {})
    hyperparameters = training.get("hyperparameters") or {}
    overview: dict[str, Any] = {
        "model_name": model_name,
        "model_description": (
            f"{model_meta.get('algorithm', 'classifier')} predicting '{model_meta.get('target')}' "
            f"({', '.join(classes)}) from {', '.join(model_meta.get('features', []))}"
        ),
        "problem_type": problem,
        "algorithm_type": f"{model_meta.get('engine', 'sklearn')} {model_meta.get('algorithm', '')}".strip(),
        "model_creator": "mlops platform build pipeline",
        "model_owner": "model owner of the project (see README: Governance)",
    }
    if package:
        overview["model_id"] = str(package.get("arn", ""))
        if isinstance(package.get("version"), int):
            overview["model_version"] = package["version"]
    card: dict[str, Any] = {
        "model_overview": overview,
        "intended_uses": {
            "purpose_of_model": f"Predict '{model_meta.get('target')}' for one record at a time or in batches.",
            "intended_uses": "Decision support on records like the training data; a person reviews adverse outcomes.",
            "factors_affecting_model_efficiency": (
                "Drift of the features away from the training baseline (watched by the drift monitor); "
                f"class imbalance (majority class {summary.get('majority_class')!s} is "
                f"{_pct(summary.get('majority_class_accuracy'))} of the holdout set)."
            ),
            "risk_rating": RISK_RATINGS.get(risk_rating.lower(), "Unknown"),
            "explanations_for_risk_rating": f"Set by the platform config key model_risk_rating ({risk_rating}).",
        },
        "training_details": {
            "objective_function": {"function": {"function": "Maximize", "facet": "Accuracy"}},
            "training_observations": f"{data.get('rows')} input rows; holdout set of {summary.get('rows')} rows.",
            "training_job_details": {
                "training_datasets": [str(data.get("location"))],
                "hyper_parameters": [{"name": str(k), "value": str(v)} for k, v in sorted(hyperparameters.items())],
                "training_metrics": [
                    {"name": str(k), "value": float(v)}
                    for k, v in sorted((model_meta.get("training_metrics") or {}).items())
                    if _is_number(v)
                ],
            },
        },
        "evaluation_details": [
            {
                "name": "holdout",
                "evaluation_observation": (
                    f"accuracy {_fmt(summary.get('accuracy'))} vs majority-class accuracy "
                    f"{_fmt(summary.get('majority_class_accuracy'))} on the same holdout set"
                ),
                "datasets": [str(data.get("location"))],
                # Flat strings: the full lineage document is identified by its digest (lineage.json).
                "metadata": {"lineage_sha256": sha256_json(lineage)},
                "metric_groups": [
                    {
                        "name": "holdout metrics",
                        "metric_data": [
                            {"name": k, "type": "number", "value": float(v)}
                            for k, v in sorted(lineage.get("evaluation", {}).get("metrics", {}).items())
                            if _is_number(v)
                        ],
                    }
                ],
            }
        ],
        "additional_information": {
            "caveats_and_recommendations": (
                "Trace a prediction: its model_version -> the registry package -> lineage (git commit, config "
                "sha256, data location and hash). Retrain when the drift alarms fire."
            ),
            "custom_details": custom_details(lineage),
        },
    }
    if package and package.get("arn"):
        card["model_package_details"] = {
            "model_package_arn": str(package["arn"]),
            "model_package_group_name": str(package.get("group", "")),
            "model_approval_status": str(package.get("status", "")),
        }
    return card


def custom_details(lineage: Mapping[str, Any]) -> dict[str, str]:
    values = {**lineage_essentials(lineage), "training_engine": lineage.get("training", {}).get("engine")}
    return {
        k: json.dumps(v) if isinstance(v, bool) else str(v)[:_CUSTOM_VALUE_MAX]
        for k, v in values.items()
        if v is not None
    }


def missing_sections(card: Mapping[str, Any]) -> list[str]:
    """The card fields a reviewer needs that are empty; nothing missing means the card is filled."""

    def get(dotted: str) -> Any:
        value: Any = card
        for part in dotted.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        return value

    required = (
        "model_overview.model_description", "model_overview.problem_type", "intended_uses.purpose_of_model",
        "intended_uses.intended_uses", "intended_uses.risk_rating", "training_details.training_job_details",
        "evaluation_details", "additional_information.custom_details",
    )  # fmt: skip
    missing = [name for name in required if get(name) in (None, "", [], {})]
    if get("intended_uses.risk_rating") == "Unknown":
        missing.append("intended_uses.risk_rating (Unknown)")
    details = get("additional_information.custom_details") or {}
    missing += [f"custom_details.{k}" for k in ("git_commit", "config_sha256", "data_location") if not details.get(k)]
    evaluations = get("evaluation_details") or [{}]
    metrics = [m for group in evaluations[0].get("metric_groups", []) for m in group.get("metric_data", [])]
    if not metrics:
        missing.append("evaluation_details.metric_groups")
    return missing


def render_markdown(card: Mapping[str, Any]) -> str:
    overview, uses = card.get("model_overview", {}), card.get("intended_uses", {})
    job = card.get("training_details", {}).get("training_job_details", {})
    lines = [
        f"# Model card: {overview.get('model_name', 'model')}",
        "",
        overview.get("model_description", ""),
        "",
        f"- Problem type: {overview.get('problem_type')}",
        f"- Algorithm: {overview.get('algorithm_type')}",
    ]
    package = card.get("model_package_details")
    if package:
        lines.append(f"- Model package: `{package['model_package_arn']}` ({package['model_approval_status']})")
    lines += [
        "",
        "## Intended uses",
        "",
        f"- Purpose: {uses.get('purpose_of_model')}",
        f"- Intended uses: {uses.get('intended_uses')}",
        f"- Factors affecting efficacy: {uses.get('factors_affecting_model_efficiency')}",
        f"- **Risk rating: {uses.get('risk_rating')}** ({uses.get('explanations_for_risk_rating')})",
        "",
        "## Training",
        "",
        f"- Data: {', '.join(job.get('training_datasets', []))}",
        f"- {card.get('training_details', {}).get('training_observations', '')}",
        "",
        "| hyperparameter | value |",
        "|---|---|",
        *[f"| {h['name']} | {h['value']} |" for h in job.get("hyper_parameters", [])],
        "",
        "## Evaluation",
        "",
    ]
    for evaluation in card.get("evaluation_details", []):
        lines += [f"{evaluation.get('name')}: {evaluation.get('evaluation_observation')}", ""]
        lines += ["| metric | value |", "|---|---|"]
        for group in evaluation.get("metric_groups", []):
            lines += [f"| {m['name']} | {_fmt(m['value'])} |" for m in group.get("metric_data", [])]
        lines.append("")
    lines += ["## Lineage", "", "| field | value |", "|---|---|"]
    details = card.get("additional_information", {}).get("custom_details", {})
    lines += [f"| {k} | `{v}` |" for k, v in details.items()]
    lines += ["", card.get("additional_information", {}).get("caveats_and_recommendations", ""), ""]
    return "\n".join(lines)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value  # NaN != NaN


def _fmt(value: Any) -> str:
    return f"{value:.4f}" if _is_number(value) else str(value)


def _pct(value: Any) -> str:
    return f"{100 * value:.1f}%" if _is_number(value) else "unknown"
