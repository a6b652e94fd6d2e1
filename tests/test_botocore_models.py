"""botocore's service models parsed once per process (mlops/botocore_models.py), as one session already shares them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import boto3
from botocore.loaders import Loader

from mlops.botocore_models import models_parsed_once

REPO = Path(__file__).resolve().parents[1]


def _sagemaker_model(session: boto3.Session) -> object:
    return session._session.get_component("data_loader").load_service_model("sagemaker", "service-2")


def test_two_sessions_share_one_parsed_model() -> None:
    with models_parsed_once():
        first, second = boto3.Session(region_name="us-east-1"), boto3.Session(region_name="us-east-1")
        assert _sagemaker_model(first) is _sagemaker_model(second)
        assert _sagemaker_model(first)["metadata"]["serviceId"] == "SageMaker"


def test_loaders_with_other_search_paths_do_not_share(tmp_path: Path) -> None:
    with models_parsed_once():
        default, other = Loader(), Loader(extra_search_paths=[str(tmp_path)])
        assert default.load_service_model("sqs", "service-2") is not other.load_service_model("sqs", "service-2")


def test_outside_the_block_each_session_parses_its_own() -> None:
    # In a process of its own: the test session itself runs inside the block (tests/conftest.py).
    script = """
import boto3
from mlops.botocore_models import models_parsed_once

def model(session):
    return session._session.get_component("data_loader").load_service_model("sqs", "service-2")

with models_parsed_once(), models_parsed_once():
    shared = model(boto3.Session()) is model(boto3.Session())
print(shared, model(boto3.Session()) is model(boto3.Session()))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, check=True)
    assert result.stdout.split() == ["True", "False"]
