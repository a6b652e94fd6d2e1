"""The code the SageMaker images run keeps to their Python: 3.9 (scikit-learn 1.2-1), 3.10 (XGBoost 3.0-5).

No interpreter of those versions can be had on this machine (docs/container-parity.md), so the check is static:
vermin finds the oldest Python each file runs on, standard-library APIs and keyword arguments included. Ruff's
py38 target only checks syntax: `zip(..., strict=True)` parses on 3.9 and raises TypeError when called there.
Sources: docker/1.2-1/base/Dockerfile.cpu of aws/sagemaker-scikit-learn-container (PYTHON_VERSION=3.9) and
docker/3.0-5/base/Dockerfile.cpu of aws/sagemaker-xgboost-container (PYTHON_VERSION=3.10).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

# The oldest Python among the images that run these folders (the step library zip ships both).
IMAGE_PYTHON = "3.9"
SHIPPED = ("pipeline_code", "drift_core", "contracts")


def test_the_shipped_code_runs_on_the_images_python() -> None:
    vermin = Path(sys.executable).parent / "vermin"
    options = ["--no-tips", "--violations", "--eval-annotations", "--no-parse-comments", f"--target={IMAGE_PYTHON}-"]
    checked = subprocess.run([vermin, *options, *SHIPPED], cwd=REPO, capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
