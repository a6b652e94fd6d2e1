"""A Triton model repository for the XGBoost engine's model, served by Triton's FIL backend.

Pure and offline: standard library only, Python 3.8 rules (it runs in the scikit-learn processing container).

From the trained model's folder (what train_xgboost.py writes to SM_MODEL_DIR: `xgboost-model.json`, the booster
in XGBoost's JSON format, and `model_meta.json`) it builds one Triton model directory:

    <model_name>/config.pbtxt          backend "fil", model_type "xgboost_json", input__0 / output__0 (FP32)
    <model_name>/1/xgboost.json        the booster, under the file name the FIL backend looks for
    <model_name>/feature_encoding.json how a client turns a record into the FP32 input vector

and packs it into a tarball, one model directory per archive, which is what a SageMaker Triton multi-model
endpoint loads per `TargetModel`.

The FIL backend runs no Python: Triton receives the encoded vector. The encoding is the one the training script
used (`train_xgboost.encode`): features in `model_meta.json` order; a numeric feature as its float value; a
categorical feature as the index of its value in the sorted training levels (XGBoost's native categorical splits,
so no one-hot columns); missing or unseen values as NaN.
"""

from __future__ import annotations

import gzip
import io
import json
import math
import re
import shutil
import tarfile
from pathlib import Path
from typing import Any, Mapping

XGBOOST_MODEL_FILE = "xgboost-model.json"  # as train_xgboost.py writes it (XGBOOST_MODEL_FILE there)
MODEL_META_FILE = "model_meta.json"  # as pipeline_code.common names it
TRITON_MODEL_FILE = "xgboost.json"  # the FIL backend's default file name for model_type "xgboost_json"
ENCODING_FILE = "feature_encoding.json"
CONFIG_FILE = "config.pbtxt"
VERSION = "1"
INPUT_NAME, OUTPUT_NAME = "input__0", "output__0"
DEFAULT_MAX_BATCH_SIZE = 8192
INSTANCE_KINDS = ("KIND_CPU", "KIND_GPU")
_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


class RepositoryError(ValueError):
    """The model folder or a built repository is not usable; the message names the file and field."""


def load_model(model_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The booster JSON and model_meta.json of a trained XGBoost model folder, checked against each other."""
    meta_path = model_dir / MODEL_META_FILE
    meta = _read_json(meta_path)
    if meta.get("engine") != "xgboost":
        raise RepositoryError(f"{meta_path}: engine is {meta.get('engine')!r}; Triton's FIL backend needs 'xgboost'")
    for key in ("features", "categorical_features", "categories", "classes"):
        if key not in meta:
            raise RepositoryError(f"{meta_path}: field '{key}' missing")
    booster_path = model_dir / str(meta.get("model_file") or XGBOOST_MODEL_FILE)
    booster = _read_json(booster_path)
    num_feature = booster_num_features(booster, booster_path)
    if num_feature != len(meta["features"]):
        raise RepositoryError(
            f"{booster_path}: the booster has {num_feature} features, {meta_path} lists {len(meta['features'])}"
        )
    for name in meta["categorical_features"]:
        if name not in meta["features"] or not isinstance(meta["categories"].get(name), list):
            raise RepositoryError(f"{meta_path}: categorical feature '{name}' has no levels in 'categories'")
    if len(meta["classes"]) < 2:
        raise RepositoryError(f"{meta_path}: 'classes' needs at least two labels")
    return booster, meta


def booster_num_features(booster: Mapping[str, Any], source: Path) -> int:
    try:
        return int(booster["learner"]["learner_model_param"]["num_feature"])
    except (KeyError, TypeError, ValueError):
        raise RepositoryError(
            f"{source}: not an XGBoost JSON model (learner.learner_model_param.num_feature)"
        ) from None


def feature_encoding(meta: Mapping[str, Any]) -> dict[str, Any]:
    """What a client needs to build the input vector and read the output (written as feature_encoding.json)."""
    features: list[dict[str, Any]] = []
    for index, name in enumerate(meta["features"]):
        if name in meta["categorical_features"]:
            levels = [str(level) for level in meta["categories"][name]]
            features.append({"index": index, "name": name, "kind": "categorical", "categories": levels})
        else:
            features.append({"index": index, "name": name, "kind": "numeric"})
    classes = [str(c) for c in meta["classes"]]
    binary = len(classes) == 2
    return {
        "input": {"name": INPUT_NAME, "datatype": "FP32", "shape": [-1, len(features)]},
        "features": features,
        "missing": "NaN (a missing value, or a category not seen in training)",
        "categorical": "the index of the value in 'categories' (sorted training levels), as a float",
        "output": {
            "name": OUTPUT_NAME,
            "datatype": "FP32",
            "shape": [-1, 1 if binary else len(classes)],
            "meaning": (
                f"probability of class '{classes[1]}'" if binary else "one probability per class, in 'classes' order"
            ),
        },
        "classes": classes,
        "target": meta.get("target"),
        "model_version": meta.get("model_version"),
    }


def encode_record(encoding: Mapping[str, Any], record: Mapping[str, Any]) -> list[float]:
    """One record (feature name -> value) as the FP32 input vector, exactly as training encoded it."""
    vector: list[float] = []
    for feature in encoding["features"]:
        value = record.get(feature["name"])
        if value is None or _is_missing(value):
            vector.append(math.nan)
        elif feature["kind"] == "categorical":
            levels = feature["categories"]
            vector.append(float(levels.index(str(value))) if str(value) in levels else math.nan)
        else:
            try:
                vector.append(float(value))
            except (TypeError, ValueError):
                vector.append(math.nan)
    return vector


def config_pbtxt(
    model_name: str,
    num_features: int,
    num_classes: int,
    max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
    instance_kind: str = "KIND_CPU",
) -> str:
    """The FIL backend's model configuration (protobuf text format)."""
    if not _MODEL_NAME.match(model_name):
        raise RepositoryError(f"model name {model_name!r}: letters, digits, '_', '.', '-' (at most 128)")
    if instance_kind not in INSTANCE_KINDS:
        raise RepositoryError(f"instance kind {instance_kind!r}: one of {', '.join(INSTANCE_KINDS)}")
    if num_features < 1 or num_classes < 2 or max_batch_size < 1:
        raise RepositoryError("config: needs at least one feature, two classes and a positive max_batch_size")
    binary = num_classes == 2
    # Binary: the model's own output (the logistic objective's probability of the positive class), one value per row.
    # Multi-class: one probability per class. The classifier flag is spelled 'is_classifier' by current FIL backend
    # releases and 'output_class' by earlier ones; both are written so either release reads the intended value.
    classifier = "false" if binary else "true"
    parameters = [
        ("model_type", "xgboost_json"),
        ("is_classifier", classifier),
        ("output_class", classifier),
        ("predict_proba", classifier),
        # XGBoost adds JSON fields over releases; the FIL backend's parser may predate the trainer's release.
        ("xgboost_allow_unknown_field", "true"),
    ]
    lines = [
        f'name: "{model_name}"',
        'backend: "fil"',
        f"max_batch_size: {max_batch_size}",
        f'input [{{ name: "{INPUT_NAME}" data_type: TYPE_FP32 dims: [ {num_features} ] }}]',
        f'output [{{ name: "{OUTPUT_NAME}" data_type: TYPE_FP32 dims: [ {1 if binary else num_classes} ] }}]',
        f"instance_group [{{ kind: {instance_kind} }}]",
        "parameters [",
        ",\n".join(f'  {{ key: "{k}" value: {{ string_value: "{v}" }} }}' for k, v in parameters),
        "]",
        "dynamic_batching {}",
    ]
    return "\n".join(lines) + "\n"


def build_repository(
    model_dir: Path,
    repository: Path,
    model_name: str,
    max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
    instance_kind: str = "KIND_CPU",
) -> Path:
    """Write `<repository>/<model_name>/` (config, version 1 with the booster, feature encoding); returns it."""
    _booster, meta = load_model(model_dir)
    target = repository / model_name
    text = config_pbtxt(model_name, len(meta["features"]), len(meta["classes"]), max_batch_size, instance_kind)
    if target.exists():
        shutil.rmtree(target)
    (target / VERSION).mkdir(parents=True)
    (target / CONFIG_FILE).write_text(text)
    shutil.copyfile(model_dir / str(meta.get("model_file") or XGBOOST_MODEL_FILE), target / VERSION / TRITON_MODEL_FILE)
    (target / ENCODING_FILE).write_text(json.dumps(feature_encoding(meta), indent=2, sort_keys=True))
    check_repository(repository)
    return target


def check_repository(repository: Path) -> dict[str, Any]:
    """Check a built repository is what one multi-model archive must hold; returns its summary."""
    models = sorted(p for p in repository.iterdir() if p.is_dir())
    if len(models) != 1:
        raise RepositoryError(f"{repository}: expected one model directory, found {[p.name for p in models]}")
    model = models[0]
    config = (model / CONFIG_FILE).read_text() if (model / CONFIG_FILE).is_file() else ""
    fields = parse_config(config, model / CONFIG_FILE)
    if fields["name"] != model.name:
        raise RepositoryError(f"{model / CONFIG_FILE}: name '{fields['name']}' differs from directory '{model.name}'")
    booster_path = model / VERSION / TRITON_MODEL_FILE
    num_feature = booster_num_features(_read_json(booster_path), booster_path)
    encoding = _read_json(model / ENCODING_FILE)
    if not fields["input_dims"] == [num_feature] == [len(encoding["features"])]:
        raise RepositoryError(
            f"{model}: input dims {fields['input_dims']}, booster features {num_feature} and "
            f"{len(encoding['features'])} encoded features must agree"
        )
    if fields["output_dims"] != encoding["output"]["shape"][1:]:
        raise RepositoryError(f"{model}: output dims {fields['output_dims']} differ from {ENCODING_FILE}")
    return {"model_name": model.name, "num_features": num_feature, **fields}


def parse_config(text: str, source: Path) -> dict[str, Any]:
    """The few fields of config.pbtxt the checks need (this module's own output format)."""

    def find(pattern: str) -> str | None:
        match = re.search(pattern, text)
        return match.group(1) if match else None

    name = find(r'(?m)^name: "([^"]+)"')
    backend = find(r'(?m)^backend: "([^"]+)"')
    model_type = find(r'key: "model_type" value: \{ string_value: "([^"]+)" \}')
    inputs = find(r'input \[\{ name: "' + INPUT_NAME + r'" data_type: TYPE_FP32 dims: \[ ([0-9 ,]+) \] \}\]')
    outputs = find(r'output \[\{ name: "' + OUTPUT_NAME + r'" data_type: TYPE_FP32 dims: \[ ([0-9 ,]+) \] \}\]')
    if not (name and backend == "fil" and model_type == "xgboost_json" and inputs and outputs):
        raise RepositoryError(f"{source}: not a FIL xgboost_json config with {INPUT_NAME}/{OUTPUT_NAME} (FP32)")
    return {
        "name": name,
        "backend": backend,
        "model_type": model_type,
        "input_dims": [int(d) for d in inputs.replace(",", " ").split()],
        "output_dims": [int(d) for d in outputs.replace(",", " ").split()],
    }


def write_archive(model_dir: Path, archive: Path) -> Path:
    """A reproducible model.tar.gz holding one model directory (sorted members, zero times and owners)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in [model_dir, *sorted(model_dir.rglob("*"))]:
            info = tarfile.TarInfo(path.relative_to(model_dir.parent).as_posix())
            info.mtime, info.uid, info.gid = 0, 0, 0
            if path.is_dir():
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                data = path.read_bytes()
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, io.BytesIO(data))
    compressed = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=compressed, mtime=0) as gz:
        gz.write(raw.getvalue())
    archive.parent.mkdir(parents=True, exist_ok=True)
    archive.write_bytes(compressed.getvalue())
    return archive


def instance_kind_for(instance_type: str) -> str:
    """KIND_GPU for SageMaker's GPU instance families (ml.g*, ml.p*), else KIND_CPU."""
    family = instance_type.split(".")[1] if instance_type.count(".") >= 2 else ""
    return "KIND_GPU" if family[:1] in ("g", "p") else "KIND_CPU"


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text())
    except FileNotFoundError:
        raise RepositoryError(f"{path}: file not found") from None
    except ValueError as exc:
        raise RepositoryError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise RepositoryError(f"{path}: expected a JSON object")
    return value


def _is_missing(value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, float) and math.isnan(value))
