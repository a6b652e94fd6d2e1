"""--apply: writes only serving keys, keeps the rest and the formatting, validates before writing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mlops.errors import UserError
from mlops.rightsizing.apply import apply_platform
from tests.conftest import REPO

REALTIME = {
    "serving_mode": "realtime",
    "endpoint_instance_type": "ml.c6i.xlarge",
    "endpoint_min_instances": 2,
    "endpoint_max_instances": 6,
    "invocations_per_instance_target": 4200,
}
STAGE = {
    "account": "222222222222",
    "region": "us-east-1",
    "manual_approval": False,
    "smoke_test": True,
    "platform": {"endpoint_instance_type": "ml.m5.large", "endpoint_min_instances": 1, "endpoint_max_instances": 2},
}


@pytest.fixture()
def cdk_json(tmp_path: Path) -> Path:
    path = tmp_path / "cdk.json"
    shutil.copy(REPO / "cdk.json", path)
    return path


def test_cdk_json_platform_gets_the_values_and_keeps_everything_else(cdk_json: Path) -> None:
    before = json.loads(cdk_json.read_text())
    changed = apply_platform(cdk_json, REALTIME)
    after = json.loads(cdk_json.read_text())
    assert changed == REALTIME
    platform = after["context"]["platform"]
    assert {k: platform[k] for k in REALTIME} == REALTIME
    # Existing keys keep their values and order; the rest of the file is untouched.
    assert list(platform)[: len(before["context"]["platform"])] == list(before["context"]["platform"])
    assert {k: v for k, v in after["context"].items() if k != "platform"} == {
        k: v for k, v in before["context"].items() if k != "platform"
    }
    assert cdk_json.read_text() == json.dumps(after, indent=2) + "\n"
    assert [p.name for p in cdk_json.parent.iterdir()] == ["cdk.json"]  # no temporary file left behind
    assert apply_platform(cdk_json, REALTIME) == {}  # idempotent


def test_invalid_values_are_refused_and_the_file_is_untouched(cdk_json: Path) -> None:
    original = cdk_json.read_text()
    with pytest.raises(UserError, match="endpoint_instance_type"):
        apply_platform(cdk_json, {**REALTIME, "endpoint_instance_type": "c6i.xlarge"})
    with pytest.raises(UserError, match="endpoint_max_instances"):
        apply_platform(cdk_json, {**REALTIME, "endpoint_max_instances": 1})
    with pytest.raises(UserError, match="only serving keys"):
        apply_platform(cdk_json, {"min_accuracy": 0.5})
    assert cdk_json.read_text() == original


def test_stage_file_platform_mapping_is_updated_on_top_of_cdk_json(tmp_path: Path, cdk_json: Path) -> None:
    stage = tmp_path / "staging.json"
    stage.write_text(json.dumps(STAGE, indent=2) + "\n")
    serverless = {"serving_mode": "serverless", "serverless_memory_mb": 1024, "serverless_max_concurrency": 20}
    apply_platform(stage, serverless, cdk_json=cdk_json)
    data = json.loads(stage.read_text())
    assert data["platform"] == {**STAGE["platform"], **serverless}
    assert {k: data[k] for k in ("account", "region", "manual_approval", "smoke_test")} == {
        k: STAGE[k] for k in ("account", "region", "manual_approval", "smoke_test")
    }
    with pytest.raises(UserError, match=r"staging\.json: not written: config key 'serverless_memory_mb'"):
        apply_platform(stage, {"serverless_memory_mb": 1000}, cdk_json=cdk_json)


def test_missing_or_broken_config_file_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="config file not found"):
        apply_platform(tmp_path / "nope.json", REALTIME)
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(UserError, match="invalid JSON"):
        apply_platform(broken, REALTIME)
