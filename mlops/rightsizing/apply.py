"""``mlops rightsize --apply``: write the chosen serving values into the platform config, validated first.

Targets ``cdk.json``'s ``context.platform`` mapping, or a stage file's (``config/stages/<stage>.json``)
``platform`` mapping. Only serving keys that ``PlatformConfig`` knows are written; other keys keep their values
and order. The result is validated with ``platform_config.platform.load_config`` (for a stage file: on top of
``cdk.json``'s platform context, with the stage's account and region, as the delivery app does) before the file is
replaced atomically, so a failed validation leaves the file untouched.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlops.errors import UserError
from mlops.user_input import parse_json, read_text, require_object

MIN_KEY, MAX_KEY = "endpoint_min_instances", "endpoint_max_instances"
APPLY_KEYS = frozenset(
    {
        "serving_mode",
        "endpoint_instance_type",
        "endpoint_min_instances",
        "endpoint_max_instances",
        "invocations_per_instance_target",
        "serverless_memory_mb",
        "serverless_max_concurrency",
    }
)


def apply_platform(
    path: Path, updates: Mapping[str, Any], cdk_json: Path | None = None, *, force: bool = False
) -> dict[str, Any]:
    """Merge ``updates`` into the file's platform mapping; return the keys whose value changed (new values).

    A stage file's endpoint_min_instances is its availability floor (prod runs 2 instances so one can fail):
    lowering it is refused unless ``force``."""
    from platform_config.platform import ConfigError, load_config

    unknown = sorted(set(updates) - APPLY_KEYS)
    if unknown:
        raise UserError(f"--apply writes only serving keys, not {', '.join(unknown)}")
    text, data = _read(path)
    is_cdk_json = path.name == "cdk.json"
    if is_cdk_json:
        context = data.setdefault("context", {})
        if not isinstance(context, dict):
            raise UserError(f"{path}: 'context' must be a JSON object")
        platform = context.setdefault("platform", {})
    else:
        platform = data.setdefault("platform", {})
    if not isinstance(platform, dict):
        raise UserError(f"{path}: 'platform' must be a JSON object")
    changed = {k: v for k, v in updates.items() if platform.get(k) != v}
    if not is_cdk_json and not force:
        _refuse_lower_floor(path, platform, updates)
    platform.update(updates)
    try:
        if is_cdk_json:
            load_config(platform)
        else:
            base = _cdk_platform(cdk_json or Path("cdk.json"))
            stage_env = {k: data[k] for k in ("account", "region") if k in data}
            load_config(base, {**platform, **stage_env})
    except ConfigError as exc:
        raise UserError(f"{path}: not written: {exc}") from None
    indent = _indent(text)
    _write_atomically(path, json.dumps(data, indent=indent, ensure_ascii=False) + "\n")
    return changed


def _refuse_lower_floor(path: Path, platform: Mapping[str, Any], updates: Mapping[str, Any]) -> None:
    old, new = platform.get(MIN_KEY), updates.get(MIN_KEY)
    if isinstance(old, int) and isinstance(new, int) and new < old:
        old_max, new_max = platform.get(MAX_KEY, "?"), updates.get(MAX_KEY, platform.get(MAX_KEY, "?"))
        raise UserError(
            f"{path}: not written: would lower {MIN_KEY} from {old} to {new} (instances {old}..{old_max} -> "
            f"{new}..{new_max}); the stage's minimum is its availability floor, rerun with --force to lower it"
        )


def current_platform(path: Path) -> dict[str, Any]:
    """The platform mapping a config file holds now (cdk.json's context.platform or a stage file's platform)."""
    if not path.is_file():
        return {}
    if path.name == "cdk.json":
        return _cdk_platform(path)
    platform = _read(path)[1].get("platform", {})
    return dict(platform) if isinstance(platform, dict) else {}


def _read(path: Path) -> tuple[str, dict[str, Any]]:
    text = read_text(path, "config file")
    return text, require_object(parse_json(text, path), str(path))


def _cdk_platform(path: Path) -> dict[str, Any]:
    from mlops.project_config import cdk_platform_context

    return cdk_platform_context(path)


def _indent(text: str) -> int:
    # Keep the file's own indentation so that the diff shows only the changed values.
    for line in text.splitlines()[1:]:
        stripped = line.lstrip(" ")
        if stripped and len(stripped) < len(line):
            return len(line) - len(stripped)
    return 2


def _write_atomically(path: Path, text: str) -> None:
    mode = path.stat().st_mode & 0o777
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, mode)
        os.replace(temp, path)  # atomic on POSIX: readers see the old file or the new one, never half of it
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
