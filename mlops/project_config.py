"""The CLI reads the same typed config as `cdk synth`: defaults, overridden by cdk.json's `platform` context."""

from __future__ import annotations

import json
from pathlib import Path

from mlops.errors import UserError
from stacks.config import CONTEXT_KEY, ConfigError, PlatformConfig, load_config


def load_project_config(cdk_json: Path = Path("cdk.json")) -> PlatformConfig:
    context = {}
    if cdk_json.exists():
        try:
            context = json.loads(cdk_json.read_text()).get("context", {}).get(CONTEXT_KEY, {})
        except json.JSONDecodeError as exc:
            raise UserError(f"{cdk_json}: invalid JSON at line {exc.lineno}: {exc.msg}") from None
    try:
        return load_config(context)
    except ConfigError as exc:
        raise UserError(f"{cdk_json}: {exc}") from None
