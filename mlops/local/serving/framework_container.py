"""How a SageMaker framework container (scikit-learn, XGBoost) starts a model, played offline.

Every place the twin loads a model the way SageMaker would (the endpoint, batch transform) goes through
:func:`start_container`, so it gets the code the container would get, or fails where the container would:

1. model.tar.gz is extracted to the model directory (``/opt/ml/model`` in the container).
2. The user module is ``SAGEMAKER_PROGRAM`` from the directory ``SAGEMAKER_SUBMIT_DIRECTORY`` names
   (sagemaker-containers ``_server.start`` -> ``_modules.import_module(env.module_dir, env.module_name)``, and
   ``_files.download_and_extract``: an ``s3://`` URI is downloaded, a local directory is used as it is;
   https://github.com/aws/sagemaker-containers). A local directory exists only if it is inside the model
   directory; the image itself carries no user code.
3. With network isolation the container has no network and no credentials ("Run Training and Inference
   Containers in Internet-Free Mode", https://docs.aws.amazon.com/sagemaker/latest/dg/mkt-algo-model-internet-free.html;
   CreateModel ``EnableNetworkIsolation``: "No inbound or outbound network calls can be made to or from the model
   container"), so an ``s3://`` submit directory cannot be downloaded: the container never becomes healthy
   (an endpoint fails its health check, a transform job fails). That is :class:`ContainerStartError` here.

Without isolation an ``s3://`` submit directory is fetched with the ``fetch`` callable the caller gives (the
twin's S3); this project's models all run isolated.
"""

from __future__ import annotations

import tarfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from pipeline_code.common import DataError, safe_extract
from pipeline_code.serving_code import CONTAINER_MODEL_DIR, PROGRAM_VARIABLE, SUBMIT_DIRECTORY_VARIABLE

Fetch = Callable[[str, Path], None]  # (s3 URI, local file) -> downloads the object


class ContainerStartError(Exception):
    """The container would not start (its health check would fail); the message names the model and variable."""


@dataclass(frozen=True)
class ContainerDefinition:
    """What CreateModel gives the container: the model name, its artifact and environment, and isolation."""

    model_name: str
    model_data_url: str
    environment: Mapping[str, str] = field(default_factory=dict)
    network_isolation: bool = False  # CreateModel's default


@dataclass(frozen=True)
class StartedContainer:
    model_dir: Path  # the extracted model.tar.gz (the container's /opt/ml/model)
    program: Path  # the inference script the container imports


def start_container(
    definition: ContainerDefinition, archive: Path, work_dir: Path, fetch: Fetch | None = None
) -> StartedContainer:
    """Extract ``archive`` (the model's model.tar.gz) under ``work_dir`` and find the code the container runs."""
    model_dir = work_dir / "model"
    model_dir.mkdir(parents=True, exist_ok=True)
    try:
        safe_extract(archive, model_dir)
    except (DataError, tarfile.TarError, OSError) as exc:
        message = f"model {definition.model_name}: cannot extract {definition.model_data_url}: {exc}"
        raise ContainerStartError(message) from exc
    return StartedContainer(model_dir, _program(definition, model_dir, work_dir, fetch))


def _program(definition: ContainerDefinition, model_dir: Path, work_dir: Path, fetch: Fetch | None) -> Path:
    name = definition.model_name
    program = definition.environment.get(PROGRAM_VARIABLE, "")
    if not program:
        raise ContainerStartError(f"model {name}: {PROGRAM_VARIABLE} is not set: the container has no inference code")
    submit = definition.environment.get(SUBMIT_DIRECTORY_VARIABLE, "")
    if submit.startswith("s3://"):
        code_dir = _downloaded(definition, submit, work_dir, fetch)
    else:
        code_dir = _inside_model(name, submit, model_dir)
    path = code_dir / program
    if not path.is_file():
        raise ContainerStartError(
            f"model {name}: {SUBMIT_DIRECTORY_VARIABLE}={submit} holds no {program} (model.tar.gz has no "
            f"code/{program}: a package registered before the serving code was packed into the artifact; retrain it)"
        )
    return path


def _inside_model(name: str, submit: str, model_dir: Path) -> Path:
    """A local submit directory: only what model.tar.gz put under /opt/ml/model exists in the container."""
    path = PurePosixPath(submit)
    root = PurePosixPath(CONTAINER_MODEL_DIR)
    if not submit or (path != root and root not in path.parents) or ".." in path.parts:
        raise ContainerStartError(
            f"model {name}: {SUBMIT_DIRECTORY_VARIABLE}={submit or '(unset)'} is not a folder of the model artifact "
            f"({CONTAINER_MODEL_DIR}/...): the container has no inference code there"
        )
    return model_dir.joinpath(*path.relative_to(root).parts)


def _downloaded(definition: ContainerDefinition, submit: str, work_dir: Path, fetch: Fetch | None) -> Path:
    if definition.network_isolation:
        raise ContainerStartError(
            f"model {definition.model_name}: {SUBMIT_DIRECTORY_VARIABLE}={submit} is an S3 location, but the model "
            f"runs with network isolation (no network, no credentials): the container cannot download its code and "
            f"fails its health check. Pack the code into model.tar.gz under code/ and set "
            f"{SUBMIT_DIRECTORY_VARIABLE}={CONTAINER_MODEL_DIR}/code"
        )
    if fetch is None:
        raise ContainerStartError(f"model {definition.model_name}: no S3 to download {SUBMIT_DIRECTORY_VARIABLE}")
    archive = work_dir / "sourcedir.tar.gz"
    code_dir = work_dir / "code"
    fetch(submit, archive)
    code_dir.mkdir(parents=True, exist_ok=True)
    try:
        safe_extract(archive, code_dir)
    except (DataError, tarfile.TarError) as exc:
        message = f"model {definition.model_name}: {SUBMIT_DIRECTORY_VARIABLE}={submit}: {exc}"
        raise ContainerStartError(message) from exc
    return code_dir
