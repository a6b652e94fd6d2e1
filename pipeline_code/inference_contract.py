"""The inference contract test: pipeline_code/inference.py's serving functions on a sample of the holdout set.

The model is loaded with `model_fn` from the packed artifact (model.tar.gz, what the endpoint receives), and the
same rows are sent as a CSV body and as a JSON body; each format must give one valid prediction per row (a label
the model knows, a probability in [0, 1]) and both must agree.
"""

from __future__ import annotations

import csv
import io
import json
import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline_code import inference
from pipeline_code.common import safe_extract


@dataclass(frozen=True)
class ContractResult:
    rows: int
    errors: list[str] = field(default_factory=list)


def run_contract_test(model: Path, holdout: pd.DataFrame, rows: int, seed: int = 0) -> ContractResult:
    """`model` is a model.tar.gz or a folder with model.joblib and model_meta.json."""
    with tempfile.TemporaryDirectory() as scratch:
        if model.is_file():
            safe_extract(model, Path(scratch))
            model = Path(scratch)
        try:
            loaded = inference.model_fn(str(model))
        except Exception as exc:  # any failure to load is a contract failure, reported with its cause
            return ContractResult(0, [f"model_fn: {type(exc).__name__}: {exc}"])
    features = loaded.features
    missing = [f for f in features if f not in holdout.columns]
    if missing:
        return ContractResult(0, [f"holdout set has no column '{missing[0]}' the model needs"])
    sample = holdout.sample(n=min(rows, len(holdout)), random_state=seed).sort_index()[features]
    if sample.empty:
        return ContractResult(0)
    errors: list[str] = []
    answers = {}
    for content_type, body in (("text/csv", _csv_body(sample)), ("application/json", _json_body(sample))):
        for accept in ("application/json", "text/csv"):
            try:
                payload = inference.input_fn(body, content_type)
                predictions = inference.predict_fn(payload, loaded)
                text, media_type = inference.output_fn(predictions, accept)
                labels = _parse_output(text, media_type)
            except Exception as exc:  # the contract is broken; say where
                errors.append(f"{content_type} -> {accept}: {type(exc).__name__}: {exc}")
                continue
            errors += _check_rows(labels, len(sample), [str(c) for c in loaded.meta["classes"]], content_type, accept)
            answers[(content_type, accept)] = [label for label, _ in labels]
    if len({tuple(v) for v in answers.values()}) > 1:
        errors.append("CSV and JSON requests gave different predictions for the same rows")
    return ContractResult(len(sample), errors)


def _csv_body(sample: pd.DataFrame) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in sample.itertuples(index=False):
        writer.writerow(["" if _missing(v) else v for v in row])
    return out.getvalue()


def _json_body(sample: pd.DataFrame) -> str:
    records = [{k: None if _missing(v) else _plain(v) for k, v in row.items()} for row in sample.to_dict("records")]
    return json.dumps({"instances": records})


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _parse_output(text: str, media_type: str) -> list[tuple[str, float]]:
    if media_type == "text/csv":
        return [(label, float(p)) for label, p in csv.reader(io.StringIO(text)) if label or p]
    return [(str(item["label"]), float(item["probability"])) for item in json.loads(text)["predictions"]]


def _check_rows(
    labels: list[tuple[str, float]], expected: int, classes: list[str], content_type: str, accept: str
) -> list[str]:
    where = f"{content_type} -> {accept}"
    if len(labels) != expected:
        return [f"{where}: {len(labels)} predictions for {expected} rows"]
    for number, (label, probability) in enumerate(labels, start=1):
        if label not in classes:
            return [f"{where}: row {number}: label {label!r} is not one of the model's classes {classes}"]
        if not 0.0 <= probability <= 1.0:
            return [f"{where}: row {number}: probability {probability} is not in [0, 1]"]
    return []
