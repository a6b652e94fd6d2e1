"""Delivery settings and per-stage config files: the shipped files load, and every error names the file and key."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from platform_config.platform import ConfigError
from platform_config.stages import CONFIG_DIR, load_delivery_config, load_stage_config


@pytest.fixture()
def config_dir(tmp_path: Path) -> Path:
    """A copy of the shipped config/ to edit."""
    return Path(shutil.copytree(CONFIG_DIR, tmp_path / "config"))


def _edit(path: Path, **changes: Any) -> None:
    data = json.loads(path.read_text())
    for dotted, value in changes.items():
        *parents, key = dotted.split("__")
        node = data
        for parent in parents:
            node = node[parent]
        if value is _DELETE:
            del node[key]
        else:
            node[key] = value
    path.write_text(json.dumps(data))


_DELETE = object()


def test_shipped_files_describe_staging_then_prod_in_their_own_accounts() -> None:
    delivery = load_delivery_config()
    staging, prod = delivery.stages
    assert (staging.name, prod.name) == ("staging", "prod")
    assert (staging.smoke_test, staging.manual_approval) == (True, False)
    assert (prod.smoke_test, prod.manual_approval) == (False, True)
    assert len({delivery.settings.account, staging.account, prod.account}) == 3
    # Per-stage sizes and schedules reach the platform config; the rest comes from cdk.json / the defaults.
    assert staging.platform.endpoint_instance_type == "ml.m5.large"
    assert (prod.platform.endpoint_instance_type, prod.platform.endpoint_max_instances) == ("ml.m5.xlarge", 8)
    assert prod.platform.drift_check_rate_minutes < staging.platform.drift_check_rate_minutes
    assert (prod.platform.account, prod.platform.region) == (prod.account, prod.region)


def test_cdk_json_platform_context_is_the_base_of_every_stage(config_dir: Path) -> None:
    delivery = load_delivery_config(config_dir, {"min_accuracy": 0.9, "endpoint_instance_type": "ml.c5.large"})
    assert all(stage.platform.min_accuracy == 0.9 for stage in delivery.stages)
    # A stage file's own value wins over the shared context.
    assert {stage.platform.endpoint_instance_type for stage in delivery.stages} == {"ml.m5.large", "ml.m5.xlarge"}


def test_one_account_everywhere_works_with_distinct_project_names(config_dir: Path) -> None:
    for name in ("staging", "prod"):
        _edit(config_dir / "stages" / f"{name}.json", account="111111111111", platform__project_name=f"mlops-{name}")
    delivery = load_delivery_config(config_dir)
    assert {stage.account for stage in delivery.stages} == {delivery.settings.account}
    assert [stage.platform.project_name for stage in delivery.stages] == ["mlops-staging", "mlops-prod"]


@pytest.mark.parametrize(
    ("file", "changes", "key"),
    [
        ("stages/prod.json", {"acount": "333333333333"}, "acount"),
        ("stages/prod.json", {"account": _DELETE}, "account"),
        ("stages/prod.json", {"region": ""}, "region"),
        ("stages/prod.json", {"account": "123"}, "account"),
        ("stages/prod.json", {"manual_approval": "yes"}, "manual_approval"),
        ("stages/prod.json", {"platform": ["not", "a", "mapping"]}, "platform"),
        ("stages/prod.json", {"platform__account": "333333333333"}, "platform.account"),
        ("stages/prod.json", {"platform__endpoint_instanse_type": "ml.m5.large"}, "endpoint_instanse_type"),
        ("stages/prod.json", {"platform__endpoint_min_instances": 0}, "endpoint_min_instances"),
        ("delivery.json", {"pipline_name": "x"}, "pipline_name"),
        ("delivery.json", {"account": _DELETE}, "account"),
        ("delivery.json", {"source__branch": _DELETE}, "source.branch"),
        ("delivery.json", {"source__connection_arn": _DELETE}, "source.connection_arn"),
        ("delivery.json", {"source__connection_arn": "arn:aws:s3:::bucket"}, "source.connection_arn"),
        ("delivery.json", {"source__repository": "no-owner"}, "source.repository"),
        ("delivery.json", {"source__provider": "github"}, "source.provider"),
        ("delivery.json", {"source__provider": "codecommit"}, "source.connection_arn"),
        ("delivery.json", {"source__token": "x"}, "source.token"),
        ("delivery.json", {"stages": []}, "stages"),
        ("delivery.json", {"stages": ["staging", "staging"]}, "stages"),
        ("delivery.json", {"stages": ["Staging"]}, "stages"),
    ],
)
def test_unknown_missing_or_invalid_values_name_the_file_and_key(
    config_dir: Path, file: str, changes: dict[str, Any], key: str
) -> None:
    _edit(config_dir / file, **changes)
    with pytest.raises(ConfigError, match=rf"{Path(file).name}.*'{key}'"):
        load_delivery_config(config_dir)


def test_codecommit_source_needs_a_repository_name_only(config_dir: Path) -> None:
    _edit(config_dir / "delivery.json", source__provider="codecommit", source__connection_arn=_DELETE)
    _edit(config_dir / "delivery.json", source__repository="mlops-platform")
    source = load_delivery_config(config_dir).settings.source
    assert (source.provider, source.repository, source.connection_arn) == ("codecommit", "mlops-platform", None)


def test_a_listed_stage_without_a_file_is_an_error(config_dir: Path) -> None:
    _edit(config_dir / "delivery.json", stages=["staging", "qa", "prod"])
    with pytest.raises(ConfigError, match=r"qa\.json: file not found"):
        load_delivery_config(config_dir)


def test_two_stages_in_one_account_and_region_need_different_project_names(config_dir: Path) -> None:
    for name in ("staging", "prod"):
        _edit(config_dir / "stages" / f"{name}.json", account="111111111111")
    with pytest.raises(ConfigError, match=r"prod\.json: key 'platform\.project_name'"):
        load_delivery_config(config_dir)


def test_invalid_json_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "staging.json"
    path.write_text("{")
    with pytest.raises(ConfigError, match=r"staging\.json: invalid JSON"):
        load_stage_config(path)
