"""SageMaker serving functions for the tabular classifier, for both training engines.

The same file runs in the SageMaker scikit-learn container (engine "sklearn": ``model.joblib``), in the XGBoost
framework container (engine "xgboost": ``xgboost-model.json``, the engine named in ``model_meta.json``) and in
the offline twin's local endpoint, so it imports only numpy, pandas, scikit-learn, joblib, the standard library
and, for XGBoost models only, xgboost; nothing from this repository. Both engines answer in the same formats.

Request formats:
- ``text/csv``: one row per line in ``meta["features"]`` order, no header; a header row whose values equal the
  feature names is tolerated and skipped. An empty field is a missing value (the pipeline's imputers fill it).
- ``application/json``: ``{"instances": [[...], ...]}``, ``{"instances": [{"balance": ..}, ...]}`` or a single
  object ``{"balance": .., ...}``. ``null`` is a missing value.

Responses: ``application/json`` gives ``{"predictions": [{"label", "probability", "model_version"}, ...]}``
where ``probability`` is the model's probability of the predicted label; ``text/csv`` gives
``label,probability`` lines.

Malformed payloads give a :class:`PayloadError` (or a subclass) carrying ``status_code`` (400, 406 or 415) and
a message naming the row and column at fault. It travels as a value to ``output_fn`` (:class:`RequestError`),
which answers with that status in the scikit-learn container and raises it elsewhere. The attributes mirror the
inference toolkit's ``BaseInferenceToolkitError`` (``status_code``, ``message``, ``phrase``) so servers that
duck-type on them answer 4xx instead of 500 (the offline twin's server does). Row numbers are 1-based and
count data rows only (a tolerated CSV header is not a row).
"""

from __future__ import annotations

import csv
import importlib
import io
import json
import math
import os
from dataclasses import dataclass
from typing import Any

import joblib
import numpy as np
import pandas as pd

MODEL_FILE = "model.joblib"
XGBOOST_MODEL_FILE = "xgboost-model.json"
META_FILE = "model_meta.json"
CSV = "text/csv"
JSON = "application/json"
_ANY = "*/*"


class PayloadError(ValueError):
    """The request is malformed: the client's fault, answered with a 4xx status, never a 500."""

    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.phrase = message


class UnsupportedContentTypeError(PayloadError):
    """The request's Content-Type is not one this model reads."""

    status_code = 415


class NotAcceptableError(PayloadError):
    """The request's Accept names no type this model writes."""

    status_code = 406


@dataclass(frozen=True)
class LoadedModel:
    """What ``model_fn`` returns: the fitted pipeline and its metadata."""

    pipeline: Any
    meta: dict[str, Any]

    @property
    def features(self) -> list[str]:
        return list(self.meta["features"])

    @property
    def model_version(self) -> str:
        return str(self.meta.get("model_version", "unknown"))


@dataclass(frozen=True)
class Payload:
    """Parsed but not yet validated request: validation needs the feature list, which only the model has."""

    rows: list[list[Any]]
    # Exactly one of rows/records is used; records keep JSON objects keyed by feature name.
    records: list[dict[str, Any]]
    fmt: str


def model_fn(model_dir: str) -> LoadedModel:
    meta_path = os.path.join(model_dir, META_FILE)
    meta: dict[str, Any] = {}
    if os.path.isfile(meta_path):
        with open(meta_path, encoding="utf-8") as handle:
            meta = json.load(handle)
    engine = meta.get("engine", "sklearn")
    model_path = os.path.join(
        model_dir, meta.get("model_file", XGBOOST_MODEL_FILE if engine == "xgboost" else MODEL_FILE)
    )
    for path in (model_path, meta_path):
        if not os.path.isfile(path):
            raise FileNotFoundError(f"model file not found: {path}")
    for key in ("features", "numeric_features", "categorical_features"):
        if not isinstance(meta.get(key), list):
            raise ValueError(f"{meta_path}: field '{key}' must be a list")
    if engine == "xgboost":
        return LoadedModel(pipeline=XGBoostClassifier.load(model_path, meta), meta=meta)
    return LoadedModel(pipeline=joblib.load(model_path), meta=meta)


class XGBoostClassifier:
    """An XGBoost booster behind the scikit-learn calls the serving and evaluation code make.

    ``classes_``, ``predict_proba(frame)`` and ``predict(frame)`` take the same frame the scikit-learn pipeline
    takes (numbers as float, categories as text, missing as NaN). Categories are encoded with the levels the
    training hosts agreed on (``meta["categories"]``); an unseen category, like a missing value, is NaN.
    """

    def __init__(self, booster: Any, meta: dict[str, Any]) -> None:
        self.booster = booster
        self.features = list(meta["features"])
        self.categorical = set(meta["categorical_features"])
        self.levels = {
            name: {str(v): float(i) for i, v in enumerate(values)}
            for name, values in meta.get("categories", {}).items()
        }
        self.classes_ = np.asarray([str(c) for c in meta["classes"]], dtype=object)

    @classmethod
    def load(cls, path: str, meta: dict[str, Any]) -> XGBoostClassifier:
        import xgboost  # only the xgboost engine needs it (the XGBoost container and the local install have it)

        booster = xgboost.Booster()
        booster.load_model(path)
        return cls(booster, meta)

    def _matrix(self, frame: pd.DataFrame) -> Any:
        import xgboost

        columns = []
        for name in self.features:
            if name in self.categorical:
                levels = self.levels.get(name, {})
                values = [levels.get(str(v).strip(), np.nan) if _present(v) else np.nan for v in frame[name]]
                columns.append(np.asarray(values, dtype=np.float64))
            else:
                columns.append(pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=np.float64))
        data = np.column_stack(columns).astype(np.float32)
        types = ["c" if name in self.categorical else "q" for name in self.features]
        return xgboost.DMatrix(
            data, missing=np.nan, feature_names=self.features, feature_types=types, enable_categorical=True
        )

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        scores = np.asarray(self.booster.predict(self._matrix(frame)), dtype=float)
        if scores.ndim == 1:  # binary:logistic gives the probability of the second class
            return np.column_stack([1.0 - scores, scores])
        return scores

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return self.classes_[self.predict_proba(frame).argmax(axis=1)]


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value)) and value is not pd.NA


@dataclass
class RequestError:
    """A malformed request, carried as a value from input_fn/predict_fn to output_fn.

    SageMaker's scikit-learn container wraps any exception raised by input_fn or predict_fn into a 500; only
    output_fn can choose the status (by returning the container's own Response). So errors travel to output_fn,
    which answers 4xx in the container and raises the PayloadError elsewhere (the offline endpoint maps it to 4xx).
    """

    error: PayloadError


def input_fn(request_body: str | bytes | bytearray, content_type: str | None) -> Payload | RequestError:
    try:
        return _parse_request(request_body, content_type)
    except PayloadError as exc:
        return RequestError(exc)


def _parse_request(request_body: str | bytes | bytearray, content_type: str | None) -> Payload:
    media_type = _media_type(content_type or JSON)
    if media_type not in (CSV, JSON):
        raise UnsupportedContentTypeError(f"unsupported content type '{content_type}': use '{CSV}' or '{JSON}'")
    text = _decode(request_body)
    if not text.strip():
        raise PayloadError("empty request body: send at least one row")
    if media_type == CSV:
        # A blank line is not a row; a line of empty fields is a row of missing values.
        rows = [row for row in csv.reader(io.StringIO(text)) if row and row != [""]]
        return Payload(rows=rows, records=[], fmt=CSV)
    return _parse_json(text)


def predict_fn(input_data: Payload | RequestError, model: LoadedModel) -> list[dict[str, Any]] | RequestError:
    if isinstance(input_data, RequestError):
        return input_data
    try:
        frame = to_frame(input_data, model.meta)
    except PayloadError as exc:
        return RequestError(exc)
    probabilities = np.asarray(model.pipeline.predict_proba(frame), dtype=float)
    classes = [str(label) for label in model.pipeline.classes_]
    best = probabilities.argmax(axis=1)
    version = model.model_version
    return [
        {"label": classes[index], "probability": round(float(row[index]), 6), "model_version": version}
        for row, index in zip(probabilities, best)
    ]


def output_fn(prediction: list[dict[str, Any]] | RequestError, accept: str | None) -> Any:
    try:
        if isinstance(prediction, RequestError):
            raise prediction.error
        return _serialize(prediction, accept)
    except PayloadError as exc:
        response = _container_error_response(exc)
        if response is None:
            raise
        return response


def _container_error_response(error: PayloadError) -> Any:
    """The scikit-learn container's Response with the error's 4xx status, or None outside that container."""
    try:
        # Looked up at run time: the container ships this module; the offline twin and tests do not.
        worker = importlib.import_module("sagemaker_containers.beta.framework.worker")
    except ImportError:
        return None
    body = json.dumps({"error": type(error).__name__, "message": str(error)})
    return worker.Response(response=body, status=error.status_code, mimetype=JSON)


def _serialize(prediction: list[dict[str, Any]], accept: str | None) -> tuple[str, str]:
    media_type = _choose_accept(accept)
    if media_type == CSV:
        lines = [f"{item['label']},{item['probability']}" for item in prediction]
        return "\n".join(lines) + "\n", CSV
    return json.dumps({"predictions": prediction}), JSON


def to_frame(payload: Payload, meta: dict[str, Any]) -> pd.DataFrame:
    """Validate the payload against the model's features; name the row and column of the first fault."""
    features: list[str] = list(meta["features"])
    numeric = set(meta["numeric_features"])
    rows = _rows_from_records(payload.records, features) if payload.fmt == "records" else payload.rows
    if payload.fmt == CSV and rows and _is_header(rows[0], features):
        rows = rows[1:]
    if not rows:
        raise PayloadError("request has no data rows")
    columns: dict[str, list[Any]] = {name: [] for name in features}
    for number, row in enumerate(rows, start=1):
        if len(row) != len(features):
            raise PayloadError(f"row {number} has {len(row)} values, expected {len(features)} ({', '.join(features)})")
        for name, value in zip(features, row):
            cell = _numeric(value, number, name) if name in numeric else _categorical(value)
            columns[name].append(cell)
    frame = pd.DataFrame(columns, columns=features)
    for name in features:
        if name in numeric:
            frame[name] = frame[name].astype(float)
        else:
            # object dtype with NaN for missing: what the training-time imputers saw.
            frame[name] = frame[name].astype(object)
    return frame


def _parse_json(text: str) -> Payload:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PayloadError(f"body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if isinstance(document, dict) and "instances" in document:
        instances = document["instances"]
    elif isinstance(document, dict):
        instances = [document]
    else:
        raise PayloadError('JSON body must be an object: {"instances": [...]} or one instance object')
    if not isinstance(instances, list) or not instances:
        raise PayloadError("'instances' must be a non-empty list")
    if all(isinstance(item, list) for item in instances):
        return Payload(rows=instances, records=[], fmt=JSON)
    if all(isinstance(item, dict) for item in instances):
        return Payload(rows=[], records=instances, fmt="records")
    for number, item in enumerate(instances, start=1):
        if not isinstance(item, (list, dict)):
            raise PayloadError(f"row {number} must be a list of values or an object, got {type(item).__name__}")
    raise PayloadError("'instances' must be all lists or all objects, not a mix")


def _rows_from_records(records: list[dict[str, Any]], features: list[str]) -> list[list[Any]]:
    rows = []
    known = set(features)
    for number, record in enumerate(records, start=1):
        missing = [name for name in features if name not in record]
        if missing:
            raise PayloadError(f"row {number} is missing column '{missing[0]}'")
        unknown = [name for name in record if name not in known]
        if unknown:
            raise PayloadError(f"row {number} has unknown column '{unknown[0]}' (expected {', '.join(features)})")
        rows.append([record[name] for name in features])
    return rows


def _numeric(value: Any, row: int, column: str) -> float:
    if value is None:
        return math.nan
    if isinstance(value, bool):
        raise PayloadError(f"row {row}, column '{column}': {value!r} is not a number")
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        if not value.strip():
            return math.nan
        try:
            number = float(value)
        except ValueError:
            raise PayloadError(f"row {row}, column '{column}': {value!r} is not a number") from None
    else:
        raise PayloadError(f"row {row}, column '{column}': {value!r} is not a number")
    if math.isinf(number):
        # The pipeline's validation would raise on infinity: answer 400 here instead of a 500 later.
        raise PayloadError(f"row {row}, column '{column}': {value!r} is not a finite number")
    return number


def _categorical(value: Any) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        return np.nan
    return str(value).strip()


def _is_header(row: list[str], features: list[str]) -> bool:
    return [cell.strip().lower() for cell in row] == [name.lower() for name in features]


def _decode(body: str | bytes | bytearray) -> str:
    if isinstance(body, str):
        return body
    try:
        return bytes(body).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError(f"body is not UTF-8 text (byte {exc.start})") from None


def _media_type(header: str) -> str:
    return header.split(";", 1)[0].strip().lower()


def _choose_accept(accept: str | None) -> str:
    if not accept:
        return JSON
    for part in accept.split(","):
        media_type = _media_type(part)
        if media_type in (CSV, JSON):
            return media_type
        if media_type in (_ANY, "application/*"):
            return JSON
        if media_type == "text/*":
            return CSV
    raise NotAcceptableError(f"unsupported accept type '{accept}': use '{CSV}' or '{JSON}'")
