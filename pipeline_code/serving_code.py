"""The serving code inside model.tar.gz: the container contract of the SageMaker framework images, in one place.

The scikit-learn and XGBoost framework containers import the user module named by ``SAGEMAKER_PROGRAM`` from the
directory ``SAGEMAKER_SUBMIT_DIRECTORY`` names (sagemaker-containers ``_server.start`` ->
``_modules.import_module(env.module_dir, env.module_name)``; ``_files.download_and_extract`` downloads an
``s3://`` location and copies a local directory; https://github.com/aws/sagemaker-containers). A model created
with network isolation has no network and no credentials, so an ``s3://`` submit directory cannot be downloaded
("Run Training and Inference Containers in Internet-Free Mode",
https://docs.aws.amazon.com/sagemaker/latest/dg/mkt-algo-model-internet-free.html). The SageMaker Python SDK's
answer is the one used here: the code travels inside model.tar.gz under ``code/`` and the submit directory is
``/opt/ml/model/code`` (``sagemaker.model.Model._script_mode_env_vars`` with network isolation, and
``sagemaker.utils.repack_model``). Multi-model containers put each model's ``<model dir>/code`` on PYTHONPATH
(sagemaker-inference-toolkit ``DefaultHandlerService.initialize``).

The training scripts call :func:`write_serving_code` on their model directory, which SageMaker tars as
model.tar.gz; the pipeline definition, the serving stack and the offline registry set :func:`serving_environment`.
No ``requirements.txt`` is packed: installing it needs the network an isolated container does not have.

Ships inside the training containers (Python 3.8/3.9): standard library only.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

PROGRAM_VARIABLE = "SAGEMAKER_PROGRAM"
SUBMIT_DIRECTORY_VARIABLE = "SAGEMAKER_SUBMIT_DIRECTORY"
SERVING_PROGRAM = "inference.py"
CODE_DIR = "code"  # the folder of model.tar.gz that holds the serving code
CONTAINER_MODEL_DIR = "/opt/ml/model"  # where SageMaker extracts model.tar.gz in a serving container
SUBMIT_DIRECTORY = CONTAINER_MODEL_DIR + "/" + CODE_DIR
PACKAGE = "pipeline_code"
PACKAGE_DIR = Path(__file__).resolve().parent


def serving_environment() -> dict[str, str]:
    """The container environment of every model served from a model.tar.gz of this project."""
    return {PROGRAM_VARIABLE: SERVING_PROGRAM, SUBMIT_DIRECTORY_VARIABLE: SUBMIT_DIRECTORY}


def serving_code_files(package_dir: Path = PACKAGE_DIR) -> dict[str, Path]:
    """``code/``-relative name -> source file: the serving program and every module of this package it imports.

    Computed from the import statements (transitively), so a new import in inference.py travels with the model.
    Imported modules keep their package path (``pipeline_code/<module>.py``) so the same import resolves with
    ``code/`` on sys.path, as the containers put it.
    """
    files = {SERVING_PROGRAM: package_dir / SERVING_PROGRAM}
    pending = [package_dir / SERVING_PROGRAM]
    while pending:
        for module in _package_imports(pending.pop()):
            name = PACKAGE + "/" + module + ".py"
            if name not in files:
                files[name] = package_dir / (module + ".py")
                pending.append(files[name])
    if len(files) > 1:
        files[PACKAGE + "/__init__.py"] = package_dir / "__init__.py"
    return files


def write_serving_code(model_dir: Path, package_dir: Path = PACKAGE_DIR) -> Path:
    """Copy the serving code into ``<model_dir>/code`` (replacing what is there); returns that folder."""
    code_dir = Path(model_dir) / CODE_DIR
    if code_dir.exists():
        shutil.rmtree(code_dir)
    for name, source in sorted(serving_code_files(package_dir).items()):
        target = code_dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    return code_dir


def _package_imports(path: Path) -> list[str]:
    """Names of this package's modules that the file imports (``from pipeline_code[.x] import y``, ``import``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    modules = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # `from pipeline_code import common` imports the module `common`; `from pipeline_code.x import y` is x.
            names = [node.module + "." + alias.name for alias in node.names] + [node.module]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if len(parts) >= 2 and parts[0] == PACKAGE and (path.parent / (parts[1] + ".py")).is_file():
                modules.append(parts[1])
    return sorted(set(modules))
