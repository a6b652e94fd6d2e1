"""A model directory as the local endpoint loads it: what must be in it, and one line when it does not load.

Shared by `mlops serve` and `mlops rightsize` (both start the local endpoint on a user's folder).
"""

from __future__ import annotations

from pathlib import Path

from mlops.errors import UserError
from pipeline_code.common import first_line

MODEL_FILES = ("model.joblib", "model_meta.json")


def check_model_dir(model_dir: Path) -> None:
    if not model_dir.is_dir():
        raise UserError(f"model directory not found: {model_dir}")
    for name in MODEL_FILES:
        if not (model_dir / name).is_file():
            raise UserError(f"model directory {model_dir} has no {name}")


def model_load_error(exc: Exception) -> UserError:
    """One line for a model that does not load: its own cause named with its type (a corrupt joblib file fails
    with e.g. KeyError: 189, which alone says nothing)."""
    cause = exc.__cause__
    detail = f" ({type(cause).__name__}: a corrupt or incomplete model file?)" if cause is not None else ""
    return UserError(f"{first_line(exc).rstrip(': ')}{detail}")
