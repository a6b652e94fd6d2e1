"""One real pipeline run per session (ISLR Default, registered in a moto registry), and a prior-only copy of it.

The prior-only run is the real run folder with its model replaced by a DummyClassifier(most_frequent) pipeline
in the same artifact contract (model.joblib + model_meta.json, packed as model.tar.gz) and re-evaluated on the
same holdout set: its accuracy equals the majority-class accuracy (0.9665), above A_min (0.85).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import joblib
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.pipeline import Pipeline

from mlops.governance import package
from mlops.local.pipeline import LocalRunResult, run_local_pipeline
from mlops.local.registry import LocalRegistry
from pipeline_code import evaluate
from pipeline_code.tables import read_table_dir
from platform_config.platform import load_config

CONFIG = load_config()


@dataclass
class Run:
    result: LocalRunResult
    folder: Path
    package: dict[str, Any]  # describe_model_package of the registered package


@pytest.fixture(scope="session")
def real_run(demo_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> Run:
    root = tmp_path_factory.mktemp("governance")
    folder = root / "pipeline"
    with LocalRegistry(CONFIG.region, CONFIG.account) as registry:
        result = run_local_pipeline(
            demo_csv, "default", CONFIG, folder, tracking_uri=f"sqlite:///{root / 'mlflow.db'}", registry=registry
        )
        assert result.model_package_arn, result.message
        described = boto3.client("sagemaker", region_name=CONFIG.region).describe_model_package(
            ModelPackageName=result.model_package_arn
        )
    return Run(result, folder, described)


@pytest.fixture(scope="session")
def prior_only_run(real_run: Run, tmp_path_factory: pytest.TempPathFactory, demo_csv: Path) -> Path:
    folder = tmp_path_factory.mktemp("prior-only") / "pipeline"
    shutil.copytree(real_run.folder, folder)
    model_dir = folder / "train" / "model"
    meta = json.loads((model_dir / "model_meta.json").read_text())
    train = read_table_dir(folder / "preprocess" / "train")
    model = Pipeline([("classifier", DummyClassifier(strategy="most_frequent"))])
    model.fit(train[meta["features"]], train[meta["target"]].astype(str))
    joblib.dump(model, model_dir / "model.joblib")
    meta.update(algorithm="dummy_most_frequent", hyperparameters={"strategy": "most_frequent"})
    (model_dir / "model_meta.json").write_text(json.dumps(meta))
    with tarfile.open(folder / "train" / "output" / "model.tar.gz", "w:gz") as tar:
        for item in sorted(model_dir.iterdir()):
            tar.add(item, arcname=item.name)
    evaluation_dir = folder / "evaluate" / "evaluation"
    shutil.rmtree(folder / "evaluate" / "model")
    (folder / "evaluate" / "model").mkdir()
    shutil.copy(folder / "train" / "output" / "model.tar.gz", folder / "evaluate" / "model" / "model.tar.gz")
    quiet = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        evaluate.main(
            ["--model-dir", str(folder / "evaluate" / "model"), "--test-dir", str(folder / "preprocess" / "test"),
             "--output-dir", str(evaluation_dir)],
            quiet,
        )  # fmt: skip
    governance = package.prepare(folder, demo_csv, CONFIG)
    package.finalize(folder, governance, CONFIG, None)
    return folder
