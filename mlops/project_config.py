"""The CLI reads the same typed config as `cdk synth`: defaults, overridden by cdk.json's `platform` context."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlops.errors import UserError
from mlops.user_input import read_json_object, require_object
from platform_config.platform import CONTEXT_KEY, ConfigError, PlatformConfig, load_config

CDK_JSON = Path("cdk.json")


def cdk_platform_context(cdk_json: Path = CDK_JSON) -> dict[str, Any]:
    """cdk.json's `context.platform` mapping; {} without a cdk.json. A cdk.json that is a folder, not UTF-8, not
    JSON, or whose root, `context` or `context.platform` is not an object is a UserError naming the file and key."""
    if not cdk_json.exists():
        return {}
    data = read_json_object(cdk_json, "config file")
    context = require_object(data.get("context", {}), f"{cdk_json}: key 'context'")
    return require_object(context.get(CONTEXT_KEY, {}), f"{cdk_json}: key 'context.{CONTEXT_KEY}'")


def load_project_config(cdk_json: Path = CDK_JSON) -> PlatformConfig:
    context = cdk_platform_context(cdk_json)
    try:
        return load_config(context)
    except ConfigError as exc:
        raise UserError(f"{cdk_json}: {exc}") from None
