"""Triton's KServe v2 tensors in captured traffic -> feature values and predicted labels: pure logic, no AWS.

In serving_mode "triton" a client sends the *encoded* FP32 vector (pipeline_code/triton_repository.py,
`feature_encoding.json`, `encode_record`): features in the encoding's order; a numeric feature as its value; a
categorical feature as the index of its value in the sorted training levels; NaN for a missing or unseen value.
Decoding turns a row back into what the other serving modes capture: numeric as float, a category index as its
level, NaN as missing (None), so the drift core compares it with the baseline the same way.

Bodies: JSON (`{"inputs": [{"name": "input__0", "datatype": "FP32", "shape": [n, N], "data": [...]}]}`, `data`
flat or nested), or Triton's binary-tensor extension (content type
`application/vnd.sagemaker-triton.binary+json;json-header-size=H`: a JSON header of H bytes, then the raw
little-endian FP32 values; SageMaker captures such a body BASE64-encoded). Anything else raises `TensorError`
whose message is the skip reason (the record counts as malformed).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

BINARY_CONTENT_TYPE = "application/vnd.sagemaker-triton.binary+json"
_HEADER_SIZE = re.compile(r"json-header-size\s*=\s*(\d+)", re.IGNORECASE)


class TensorError(ValueError):
    """A captured tensor body that cannot be decoded; the message is the skip reason."""


class EncodingError(ValueError):
    """A feature_encoding.json that is not usable; the message names the field."""


@dataclass(frozen=True)
class FeatureEncoding:
    """The parts of feature_encoding.json decoding needs."""

    input_name: str
    output_name: str
    names: tuple[str, ...]
    levels: tuple[tuple[str, ...] | None, ...]  # per feature: its categories, None for a numeric feature
    classes: tuple[str, ...]

    @classmethod
    def from_document(cls, document: Any) -> FeatureEncoding:
        try:
            features = sorted(document["features"], key=lambda f: int(f["index"]))
            if [int(f["index"]) for f in features] != list(range(len(features))) or not features:
                raise EncodingError("feature_encoding.json: 'features' indexes must be 0..N-1")
            levels: list[tuple[str, ...] | None] = []
            for feature in features:
                if feature["kind"] == "categorical":
                    levels.append(tuple(str(level) for level in feature["categories"]))
                elif feature["kind"] == "numeric":
                    levels.append(None)
                else:
                    raise EncodingError(f"feature_encoding.json: feature kind {feature['kind']!r}")
            classes = tuple(str(c) for c in document["classes"])
            if len(classes) < 2:
                raise EncodingError("feature_encoding.json: 'classes' needs at least two labels")
            return cls(
                input_name=str(document["input"]["name"]),
                output_name=str(document["output"]["name"]),
                names=tuple(str(f["name"]) for f in features),
                levels=tuple(levels),
                classes=classes,
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, EncodingError):
                raise
            raise EncodingError(f"feature_encoding.json: missing or invalid field ({exc})") from None

    @property
    def width(self) -> int:
        return len(self.names)


def decode_value(value: float, levels: tuple[str, ...] | None) -> float | str | None:
    """One encoded cell back to its feature value: NaN -> None (missing); a category index -> its level."""
    if math.isnan(value):
        return None
    if levels is None:
        return float(value)
    index = int(value)
    if index != value or not 0 <= index < len(levels):
        raise TensorError(f"category index {value!r} is not one of the {len(levels)} training levels")
    return levels[index]


def decode_rows(tensor: Mapping[str, Any], encoding: FeatureEncoding) -> list[list[float | str | None]]:
    """A KServe v2 input tensor (JSON form, `data` flat or nested) -> rows of feature values in encoding order."""
    values = _tensor_values(tensor, encoding.input_name, encoding.width, "input")
    return [_decode_row(values[i : i + encoding.width], encoding) for i in range(0, len(values), encoding.width)]


def decode_labels(tensor: Mapping[str, Any], encoding: FeatureEncoding) -> list[str]:
    """The output tensor -> one predicted label per row (binary: classes[1] above 0.5; else the most probable)."""
    width = 1 if len(encoding.classes) == 2 else len(encoding.classes)
    values = _tensor_values(tensor, encoding.output_name, width, "output")
    labels = []
    for i in range(0, len(values), width):
        row = values[i : i + width]
        if width == 1:
            labels.append(encoding.classes[1] if row[0] > 0.5 else encoding.classes[0])
        else:
            labels.append(encoding.classes[max(range(width), key=lambda k: row[k])])
    return labels


def request_rows(body: str, encoding_name: str, content_type: str, encoding: FeatureEncoding) -> list[list[Any]]:
    """A captured request body (the capture's `data`, `encoding`, `observedContentType`) -> feature rows."""
    document = _document(body, encoding_name, content_type, "inputs")
    return decode_rows(_only_tensor(document, "inputs"), encoding)


def response_labels(body: str, encoding_name: str, content_type: str, encoding: FeatureEncoding) -> list[str]:
    document = _document(body, encoding_name, content_type, "outputs")
    return decode_labels(_only_tensor(document, "outputs"), encoding)


def is_tensor_request(body: str, encoding_name: str, content_type: str) -> bool:
    """Whether a captured request is a KServe v2 tensor body (JSON with 'inputs', or the binary extension)."""
    if content_type.lower().startswith(BINARY_CONTENT_TYPE):
        return True
    if encoding_name.upper() != "JSON":
        return False
    try:
        document = json.loads(body)
    except json.JSONDecodeError:
        return False
    return isinstance(document, dict) and "inputs" in document


def _document(body: str, encoding_name: str, content_type: str, key: str) -> dict[str, Any]:
    if content_type.lower().startswith(BINARY_CONTENT_TYPE):
        return _binary_document(body, encoding_name, content_type, key)
    if encoding_name.upper() != "JSON":
        raise TensorError(f"a {encoding_name or 'unknown'}-encoded body of type {content_type!r} is not a tensor")
    try:
        document = json.loads(body)
    except json.JSONDecodeError:
        raise TensorError("tensor body is not valid JSON") from None
    if not isinstance(document, dict):
        raise TensorError("tensor body is not a JSON object")
    return document


def _binary_document(body: str, encoding_name: str, content_type: str, key: str) -> dict[str, Any]:
    """Triton's binary-tensor extension: JSON header, then each tensor's raw bytes (binary_data_size each)."""
    match = _HEADER_SIZE.search(content_type)
    if match is None:
        raise TensorError(f"binary tensor body without json-header-size in {content_type!r}")
    try:
        raw = base64.b64decode(body, validate=True) if encoding_name.upper() == "BASE64" else body.encode("latin-1")
        size = int(match.group(1))
        document = json.loads(raw[:size])
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise TensorError("binary tensor body: unreadable header") from None
    if not isinstance(document, dict):
        raise TensorError("binary tensor body: header is not a JSON object")
    offset = size
    for tensor in document.get(key) or []:
        if not isinstance(tensor, dict):
            raise TensorError(f"tensor '{key}' entry is not an object")
        parameters = tensor.get("parameters") or {}
        length = parameters.get("binary_data_size") if isinstance(parameters, dict) else None
        if length is None:
            continue  # this tensor's values are in the JSON header
        if tensor.get("datatype") != "FP32" or not isinstance(length, int) or length % 4:
            raise TensorError(f"binary tensor '{tensor.get('name')}': not FP32 data of a whole number of values")
        chunk = raw[offset : offset + length]
        if len(chunk) != length:
            raise TensorError(f"binary tensor '{tensor.get('name')}': body shorter than binary_data_size {length}")
        tensor["data"] = list(struct.unpack(f"<{length // 4}f", chunk))
        offset += length
    return document


def _only_tensor(document: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    tensors = document.get(key)
    if not isinstance(tensors, list) or len(tensors) != 1 or not isinstance(tensors[0], dict):
        raise TensorError(f"expected one tensor in '{key}', found {_count(tensors)}")
    return tensors[0]


def _tensor_values(tensor: Mapping[str, Any], name: str, width: int, role: str) -> list[float]:
    if tensor.get("name") != name:
        raise TensorError(f"{role} tensor is named {tensor.get('name')!r}, expected {name!r}")
    if tensor.get("datatype") != "FP32":
        raise TensorError(f"{role} tensor '{name}' has datatype {tensor.get('datatype')!r}, expected FP32")
    shape = tensor.get("shape")
    if not (isinstance(shape, list) and len(shape) == 2 and all(_is_int(d) for d in shape)) or shape[1] != width:
        raise TensorError(f"{role} tensor '{name}' has shape {shape!r}, expected [rows, {width}]")
    values = _flatten(tensor.get("data"))
    if values is None:
        raise TensorError(f"{role} tensor '{name}': data is not a (nested) list of numbers")
    if shape[0] < 1 or len(values) != shape[0] * width:
        raise TensorError(f"{role} tensor '{name}': {len(values)} values for shape {shape}")
    return values


def _decode_row(values: list[float], encoding: FeatureEncoding) -> list[float | str | None]:
    return [decode_value(v, levels) for v, levels in zip(values, encoding.levels, strict=True)]


def _flatten(data: Any) -> list[float] | None:
    """Row-major values of `data` given flat or nested; None if any leaf is not a number (NaN as null or 'NaN')."""
    out: list[float] = []
    stack = [data]
    if not isinstance(data, list):
        return None
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(reversed(item))
        elif item is None:
            out.append(math.nan)
        elif isinstance(item, bool):
            return None
        elif isinstance(item, (int, float)):
            out.append(float(item))
        elif isinstance(item, str) and item.lower() == "nan":
            out.append(math.nan)
        else:
            return None
    return out


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _count(tensors: Any) -> int | str:
    return len(tensors) if isinstance(tensors, list) else "none"
