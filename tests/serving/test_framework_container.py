"""The framework container contract offline: code from SAGEMAKER_SUBMIT_DIRECTORY, isolation, clear failures."""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

import pytest

from mlops.local.serving.framework_container import ContainerDefinition, ContainerStartError, start_container
from mlops.local.serving.handler import ModelHandler
from pipeline_code.serving_code import serving_environment

PACKAGE = "arn:aws:sagemaker:us-east-1:111111111111:model-package/mlops-models/3"
S3_SOURCE = {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "s3://assets/inference.tar.gz"}


def _archive(model_dir: Path, path: Path, with_code: bool = True) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for item in sorted(model_dir.iterdir()):
            if with_code or item.name != "code":
                tar.add(item, arcname=item.name)
    return path


def _definition(environment: dict[str, str], isolated: bool = True) -> ContainerDefinition:
    return ContainerDefinition(PACKAGE, "s3://artifacts/models/v3/model.tar.gz", environment, isolated)


def test_an_isolated_model_runs_the_serving_code_from_its_archive(model_v1: Path, tmp_path: Path) -> None:
    archive = _archive(model_v1, tmp_path / "model.tar.gz")
    started = start_container(_definition(serving_environment()), archive, tmp_path / "container")
    assert started.program == started.model_dir / "code" / "inference.py"
    handler = ModelHandler(started.model_dir, started.program)
    response = handler.invoke(b"No,1500.0,40000.0", "text/csv", "text/csv")
    label, probability = response.body.decode().strip().split(",")
    assert label in {"No", "Yes"} and 0.0 <= float(probability) <= 1.0


def test_the_code_comes_from_the_archive_not_from_this_repository(model_v1: Path, tmp_path: Path) -> None:
    model_dir = tmp_path / "model-src"
    shutil.copytree(model_v1, model_dir)
    program = model_dir / "code" / "inference.py"
    program.write_text(program.read_text() + "\nMARKER = 'from the archive'\n")
    started = start_container(
        _definition(serving_environment()), _archive(model_dir, tmp_path / "m.tar.gz"), tmp_path / "c"
    )
    handler = ModelHandler(started.model_dir, started.program)
    assert handler._fns.MARKER == "from the archive"


def test_an_isolated_model_with_an_s3_submit_directory_fails_to_start(model_v1: Path, tmp_path: Path) -> None:
    archive = _archive(model_v1, tmp_path / "model.tar.gz")
    fetched: list[str] = []
    with pytest.raises(ContainerStartError) as error:
        start_container(_definition(S3_SOURCE), archive, tmp_path / "c", lambda uri, _: fetched.append(uri))
    message = str(error.value)
    assert PACKAGE in message and "SAGEMAKER_SUBMIT_DIRECTORY=s3://assets/inference.tar.gz" in message
    assert "network isolation" in message and fetched == []  # no download is even attempted


def test_without_isolation_an_s3_submit_directory_is_downloaded(model_v1: Path, tmp_path: Path) -> None:
    source = tmp_path / "sourcedir.tar.gz"
    with tarfile.open(source, "w:gz") as tar:
        tar.add(model_v1 / "code" / "inference.py", arcname="inference.py")
    fetched: list[str] = []

    def fetch(uri: str, path: Path) -> None:
        fetched.append(uri)
        shutil.copy(source, path)

    archive = _archive(model_v1, tmp_path / "model.tar.gz", with_code=False)
    started = start_container(_definition(S3_SOURCE, isolated=False), archive, tmp_path / "c", fetch)
    assert fetched == [S3_SOURCE["SAGEMAKER_SUBMIT_DIRECTORY"]] and started.program.name == "inference.py"


def test_a_package_registered_before_code_was_packed_fails_clearly(model_v1: Path, tmp_path: Path) -> None:
    archive = _archive(model_v1, tmp_path / "model.tar.gz", with_code=False)
    with pytest.raises(ContainerStartError, match=r"mlops-models/3: SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code "):
        start_container(_definition(serving_environment()), archive, tmp_path / "c")


@pytest.mark.parametrize(
    ("environment", "fault"),
    [
        ({}, "SAGEMAKER_PROGRAM is not set"),
        ({"SAGEMAKER_PROGRAM": "inference.py"}, "SAGEMAKER_SUBMIT_DIRECTORY=(unset) is not a folder of the model"),
        (
            {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/code"},
            "SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/code is not a folder of the model",
        ),
        (
            {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/../code"},
            "is not a folder of the model",
        ),
    ],
)
def test_code_the_container_would_not_have_fails_to_start(
    model_v1: Path, tmp_path: Path, environment: dict[str, str], fault: str
) -> None:
    archive = _archive(model_v1, tmp_path / "model.tar.gz")
    with pytest.raises(ContainerStartError, match=f"model {PACKAGE}: ") as error:
        start_container(_definition(environment), archive, tmp_path / "c")
    assert fault in str(error.value)
