"""Delivery settings and per-stage config files, validated when the delivery app is synthesized.

`config/delivery.json` says where the pipeline lives and where its source comes from, and lists the stages in
deployment order. `config/stages/<stage>.json` holds one stage: its account and region (required), whether a person
approves before it deploys, whether the smoke test runs after it, and `platform`: overrides of the platform config
(`platform_config/platform.py`) for this stage only, on top of `cdk.json`'s `platform` context. An unknown key or a
missing required value fails the synth with a message naming the file and the key.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from platform_config.platform import ConfigError, PlatformConfig, load_config

CONFIG_DIR = Path(__file__).resolve().parents[1] / "config"
DELIVERY_FILE = "delivery.json"
STAGES_DIR = "stages"

_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")
_STAGE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,19}$")  # short: it is part of an IAM role name
_GITHUB_REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_CODECOMMIT_REPO = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
_BRANCH = re.compile(r"^[A-Za-z0-9._/-]{1,255}$")
_CONNECTION_ARN = re.compile(
    r"^arn:aws[a-z-]*:(codestar-connections|codeconnections):[a-z0-9-]+:\d{12}:connection/[\w-]+$"
)
_PIPELINE_NAME = re.compile(r"^[A-Za-z0-9.@_-]{1,100}$")


@dataclass(frozen=True)
class SourceSettings:
    provider: Literal["connection", "codecommit"]
    repository: str  # owner/name for a connection (GitHub, Bitbucket, GitLab); the repository name for CodeCommit
    branch: str
    connection_arn: str | None = None


@dataclass(frozen=True)
class DeliverySettings:
    pipeline_name: str
    account: str
    region: str
    source: SourceSettings
    stages: tuple[str, ...]


@dataclass(frozen=True)
class StageConfig:
    name: str
    account: str
    region: str
    manual_approval: bool  # a person approves in CodePipeline before this stage deploys
    smoke_test: bool  # the smoke test runs against this stage right after it deploys
    platform: PlatformConfig


@dataclass(frozen=True)
class DeliveryConfig:
    settings: DeliverySettings
    stages: tuple[StageConfig, ...]


def load_delivery_config(
    config_dir: Path = CONFIG_DIR, platform_context: Mapping[str, Any] | None = None
) -> DeliveryConfig:
    """Read and validate `delivery.json` and every stage file it lists."""
    settings = load_delivery_settings(config_dir / DELIVERY_FILE)
    stages = tuple(
        load_stage_config(config_dir / STAGES_DIR / f"{name}.json", platform_context) for name in settings.stages
    )
    _check_distinct_names(stages, config_dir / STAGES_DIR)
    return DeliveryConfig(settings, stages)


def load_delivery_settings(path: Path) -> DeliverySettings:
    data = _read(path)
    keys = _Keys(path, data)
    keys.only({"pipeline_name", "account", "region", "source", "stages"})
    source = keys.mapping("source")
    source_keys = _Keys(path, source, prefix="source.")
    source_keys.only({"provider", "repository", "branch", "connection_arn"})
    provider = source_keys.choice("provider", ("connection", "codecommit"))
    connection_arn = None
    if provider == "connection":
        connection_arn = source_keys.text("connection_arn", _CONNECTION_ARN, "a CodeConnections connection ARN")
    elif "connection_arn" in source:
        raise source_keys.error("connection_arn", "only used with provider 'connection'")
    repository_format = _GITHUB_REPO if provider == "connection" else _CODECOMMIT_REPO
    repository = source_keys.text("repository", repository_format, "owner/name for a connection, a name for CodeCommit")
    stages = keys.value("stages")
    if (
        not isinstance(stages, list)
        or not stages
        or not all(isinstance(s, str) and _STAGE_NAME.match(s) for s in stages)
    ):
        raise ConfigError(f"{path}: key 'stages': must be a non-empty list of stage names like 'staging'")
    if len(set(stages)) != len(stages):
        raise ConfigError(f"{path}: key 'stages': stage names must be unique")
    return DeliverySettings(
        pipeline_name=keys.text("pipeline_name", _PIPELINE_NAME, "1-100 letters, digits or . @ _ -"),
        account=keys.text("account", _ACCOUNT, "a 12-digit AWS account id"),
        region=keys.text("region", _REGION, "an AWS region such as us-east-1"),
        source=SourceSettings(
            provider, repository, source_keys.text("branch", _BRANCH, "a branch name"), connection_arn
        ),
        stages=tuple(stages),
    )


def load_stage_config(path: Path, platform_context: Mapping[str, Any] | None = None) -> StageConfig:
    """One stage: `cdk.json`'s platform context, then this file's `platform` overrides, then its account/region."""
    data = _read(path)
    keys = _Keys(path, data)
    keys.only({"account", "region", "manual_approval", "smoke_test", "platform"})
    account = keys.text("account", _ACCOUNT, "a 12-digit AWS account id")
    region = keys.text("region", _REGION, "an AWS region such as us-east-1")
    overrides = dict(keys.mapping("platform", required=False))
    for key in ("account", "region"):
        if key in overrides:
            # One place per value: the stage's environment is what the pipeline deploys to and checks.
            raise ConfigError(f"{path}: key 'platform.{key}': set '{key}' at the top level of the stage file")
    try:
        platform = load_config(platform_context, {**overrides, "account": account, "region": region})
    except ConfigError as exc:
        raise ConfigError(f"{path}: platform: {exc}") from None
    return StageConfig(
        name=path.stem,
        account=account,
        region=region,
        manual_approval=keys.flag("manual_approval"),
        smoke_test=keys.flag("smoke_test"),
        platform=platform,
    )


def _check_distinct_names(stages: tuple[StageConfig, ...], where: Path) -> None:
    # Resource names (pipeline, model package group, feature group) derive from project_name; two stages in one
    # account and region would fight over them.
    seen: dict[tuple[str, str, str], str] = {}
    for stage in stages:
        slot = (stage.account, stage.region, stage.platform.project_name)
        if slot in seen:
            raise ConfigError(
                f"{where}/{stage.name}.json: key 'platform.project_name': stages '{seen[slot]}' and '{stage.name}' "
                f"share account {stage.account} and region {stage.region}, so they need different project names"
            )
        seen[slot] = stage.name


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: invalid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object")
    return data


class _Keys:
    """Typed access to one JSON object whose errors name the file and the key."""

    def __init__(self, path: Path, data: Mapping[str, Any], prefix: str = "") -> None:
        self.path, self.data, self.prefix = path, data, prefix

    def error(self, key: str, why: str) -> ConfigError:
        return ConfigError(f"{self.path}: key '{self.prefix}{key}': {why}")

    def only(self, known: set[str]) -> None:
        for key in self.data:
            if key not in known:
                raise self.error(key, f"unknown key (known keys: {', '.join(sorted(known))})")

    def value(self, key: str) -> Any:
        if key not in self.data or self.data[key] in (None, ""):
            raise self.error(key, "missing required value")
        return self.data[key]

    def text(self, key: str, pattern: re.Pattern[str], why: str) -> str:
        value = self.value(key)
        if not isinstance(value, str) or not pattern.match(value):
            raise self.error(key, f"must be {why} (got {value!r})")
        return value

    def choice(self, key: str, options: tuple[str, ...]) -> Any:
        value = self.value(key)
        if value not in options:
            raise self.error(key, f"must be one of {', '.join(options)} (got {value!r})")
        return value

    def flag(self, key: str) -> bool:
        value = self.data.get(key, False)
        if not isinstance(value, bool):
            raise self.error(key, f"must be true or false (got {value!r})")
        return value

    def mapping(self, key: str, required: bool = True) -> Mapping[str, Any]:
        if not required and key not in self.data:
            return {}
        value = self.value(key) if required else self.data[key]
        if not isinstance(value, dict):
            raise self.error(key, "must be a JSON object")
        return value
