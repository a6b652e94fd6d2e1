"""The pipeline's code, shipped as CDK assets (no hand uploads).

- one file asset per processing script (SageMaker Processing takes a single script as `code`);
- a zip of the importable packages the scripts share (`pipeline_code/`, `contracts/`, `drift_core/`); the
  processing jobs put the zip itself on PYTHONPATH, which Python imports from directly (zipimport);
- a `sourcedir.tar.gz` archive, the layout the SageMaker framework containers expect for script mode: the
  training entry points, their requirements and the shared modules. There is no inference archive: training packs
  the serving code into model.tar.gz (pipeline_code/serving_code.py), since isolated models cannot download one.

The archives are built at synth time, byte-for-byte reproducible (sorted entries, zeroed times and owners), so
the asset hash, and with it the pipeline definition, changes only when the code does.
"""

from __future__ import annotations

import gzip
import io
import os
import tarfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from stacks.constructs.staging import package_files, stage_files

REPO = Path(__file__).resolve().parents[2]
PIPELINE_CODE = REPO / "pipeline_code"
DRIFT_CORE = REPO / "drift_core"
# The boundary contracts (stdlib only): the governance step writes the package metadata the approval Lambdas read.
CONTRACTS = REPO / "contracts"
BUILD_DIR = REPO / ".build"

PROCESSING_SCRIPTS = ("preprocess", "evaluate", "baseline", "governance")
# Modules the step scripts import at run time: all of pipeline_code, which holds only container code (the
# synth-time pipeline definition is pipeline_definition/, never shipped).
SHARED_MODULES = tuple(sorted(p.name for p in PIPELINE_CODE.glob("*.py")))
# The scikit-learn 1.2-1 training image has Python 3.9 without MLflow; the sagemaker-mlflow plugin resolves the
# tracking server ARN given as MLFLOW_TRACKING_URI. mlflow 2.x is the last line that supports Python 3.9.
TRAINING_REQUIREMENTS = "mlflow>=2.16,<3\nsagemaker-mlflow>=0.1,<0.2\n"


def script_id(name: str) -> str:
    """`package_triton` -> `PackageTriton`: the script asset's construct id and definition placeholder stem."""
    return "".join(part.capitalize() for part in name.split("_"))


class StepCode(Construct):
    """`extra_scripts`: processing scripts only some configurations run (e.g. package_triton for Triton serving)."""

    def __init__(
        self, scope: Construct, construct_id: str, *, extra_scripts: Sequence[str] = (), build_dir: Path = BUILD_DIR
    ) -> None:
        super().__init__(scope, construct_id)
        build_dir.mkdir(parents=True, exist_ok=True)
        self.scripts = {
            name: s3_assets.Asset(self, f"{script_id(name)}Script", path=str(PIPELINE_CODE / f"{name}.py"))
            for name in (*PROCESSING_SCRIPTS, *extra_scripts)
        }
        library_dir = _stage_library(build_dir)
        self.library = s3_assets.Asset(self, "StepLibrary", path=str(library_dir))
        training = {f"pipeline_code/{m}": (PIPELINE_CODE / m).read_bytes() for m in SHARED_MODULES}
        training.update({name: path.read_bytes() for name, path in package_files(CONTRACTS, REPO).items()})
        training["train.py"] = (PIPELINE_CODE / "train.py").read_bytes()
        # The XGBoost engine's entry point (the XGBoost framework container runs it in script mode).
        training["train_xgboost.py"] = (PIPELINE_CODE / "train_xgboost.py").read_bytes()
        training["requirements.txt"] = TRAINING_REQUIREMENTS.encode()
        self.training_source = s3_assets.Asset(
            self, "TrainingSource", path=str(write_tarball(build_dir / "training_source.tar.gz", training))
        )

    @property
    def library_file_name(self) -> str:
        """The zip's object name, which is also its file name inside the processing job."""
        return self.library.s3_object_key

    def all_assets(self) -> Iterable[s3_assets.Asset]:
        return [*self.scripts.values(), self.library, self.training_source]

    def grant_read(self, grantee: iam.IGrantable) -> None:
        """Read access to exactly these asset objects (asset.grant_read would open the whole asset bucket)."""
        stack = cdk.Stack.of(self)
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["s3:GetObject"],
            resource_arns=[
                stack.format_arn(
                    service="s3",
                    region="",
                    account="",
                    resource=a.s3_bucket_name,
                    resource_name=a.s3_object_key,
                )
                for a in self.all_assets()
            ],
        )


def _library_files() -> dict[str, Path]:
    files = {f"pipeline_code/{m}": PIPELINE_CODE / m for m in SHARED_MODULES}
    return {**files, **package_files(CONTRACTS, REPO), **package_files(DRIFT_CORE, REPO)}


def _stage_library(build_dir: Path) -> Path:
    return stage_files(build_dir, "step_library", _library_files())


def write_tarball(path: Path, files: dict[str, bytes]) -> Path:
    """A reproducible .tar.gz: sorted members, zero mtime/uid/gid, gzip header without a timestamp."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(files[name]), 0, 0o644
            tar.addfile(info, io.BytesIO(files[name]))
    compressed = io.BytesIO()
    with gzip.GzipFile(fileobj=compressed, mode="wb", mtime=0, filename="") as gz:
        gz.write(raw.getvalue())
    data = compressed.getvalue()
    if not path.exists() or path.read_bytes() != data:
        partial = path.with_suffix(f".{os.getpid()}.partial")
        partial.write_bytes(data)
        partial.replace(path)  # atomic, for the same reason as the library folder
    return path
