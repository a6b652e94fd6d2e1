"""The serving code travels inside model.tar.gz (code/), and that code alone serves the model.

An isolated SageMaker container cannot download an s3:// submit directory, so what the training job leaves in
its model directory is all the endpoint will have.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import tarfile
from pathlib import Path

import pytest

from mlops.local.pipeline import run_local_pipeline
from pipeline_code import serving_code
from pipeline_code.common import safe_extract
from platform_config.platform import load_config

# Runs with site disabled (so the editable install's finder, which maps `mlops` and `pipeline_code` to this
# repository, is not loaded) and only the third-party libraries plus the archive's code/ on the path.
_SERVE_FROM_ARCHIVE = """
import importlib.util, json, sys
assert importlib.util.find_spec("mlops") is None, "the repository is importable"
import inference
spec = importlib.util.find_spec("pipeline_code")
assert spec is None or spec.origin.startswith(sys.argv[1]), spec
model = inference.model_fn(sys.argv[2])
body = inference.input_fn(sys.argv[3], "text/csv")
print(inference.output_fn(inference.predict_fn(body, model), "application/json")[0])
"""


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_the_imports_of_the_serving_program_are_found_transitively(tmp_path: Path) -> None:
    _write(tmp_path / "__init__.py", "")
    _write(tmp_path / "inference.py", "import json\nfrom pipeline_code.helpers import scale\n")
    _write(tmp_path / "helpers.py", "from pipeline_code import units\nimport pipeline_code.unused_name\n")
    _write(tmp_path / "units.py", "import numpy\n")
    _write(tmp_path / "train.py", "from pipeline_code import helpers\n")  # not imported by inference.py
    files = serving_code.serving_code_files(tmp_path)
    assert files == {
        "inference.py": tmp_path / "inference.py",
        "pipeline_code/__init__.py": tmp_path / "__init__.py",
        "pipeline_code/helpers.py": tmp_path / "helpers.py",
        "pipeline_code/units.py": tmp_path / "units.py",
    }
    code = serving_code.write_serving_code(tmp_path / "model", tmp_path)
    assert sorted(p.relative_to(code).as_posix() for p in code.rglob("*.py")) == sorted(files)


def test_the_real_serving_program_is_packed_with_what_it_imports() -> None:
    files = serving_code.serving_code_files()
    assert files["inference.py"] == serving_code.PACKAGE_DIR / "inference.py"
    assert all(path.is_file() for path in files.values())
    assert serving_code.serving_environment() == {
        "SAGEMAKER_PROGRAM": "inference.py",
        "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
    }


@pytest.mark.slow
def test_a_local_run_archive_carries_its_serving_code_which_serves_without_the_repository(
    mixed_csv: Path, tmp_path: Path
) -> None:
    result = run_local_pipeline(mixed_csv, "default", load_config(), tmp_path / "run", min_accuracy=0.0)
    with tarfile.open(result.model_archive) as tar:
        names = set(tar.getnames())
    expected = {f"code/{name}" for name in serving_code.serving_code_files()}
    assert expected <= names and "code/inference.py" in names
    assert not any(name.endswith("requirements.txt") for name in names)  # pip has no network in the container

    model_dir = tmp_path / "opt-ml-model"
    model_dir.mkdir()
    safe_extract(Path(result.model_archive), model_dir)
    code_dir = model_dir / "code"
    libraries = sysconfig.get_paths()["purelib"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(code_dir), libraries])}
    completed = subprocess.run(
        [sys.executable, "-S", "-c", _SERVE_FROM_ARCHIVE, str(code_dir), str(model_dir), "1000.0,No,40000\n"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    (prediction,) = json.loads(completed.stdout)["predictions"]
    assert prediction["label"] in {"Yes", "No"} and 0.0 <= prediction["probability"] <= 1.0
