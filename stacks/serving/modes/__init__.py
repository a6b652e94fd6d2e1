"""One construct per serving mode, by the `serving_mode` config value (docs/serving-modes.md)."""

from __future__ import annotations

from contracts import serving as modes
from platform_config.platform import ConfigError, PlatformConfig
from stacks.serving.modes.asynchronous import AsyncMode
from stacks.serving.modes.base import MODE_CONSTRUCT_ID, ModeProps, ServingMode
from stacks.serving.modes.multi_model import MultiModelMode
from stacks.serving.modes.realtime import RealtimeMode
from stacks.serving.modes.serverless import ServerlessMode
from stacks.serving.modes.triton import TritonMode

MODES: dict[str, type[ServingMode]] = {
    modes.REALTIME: RealtimeMode,
    modes.SERVERLESS: ServerlessMode,
    modes.ASYNC: AsyncMode,
    modes.MULTI_MODEL: MultiModelMode,
    modes.TRITON: TritonMode,
}

__all__ = ["MODES", "MODE_CONSTRUCT_ID", "ModeProps", "ServingMode", "mode_class"]


def mode_class(config: PlatformConfig) -> type[ServingMode]:
    """The construct of the configured serving mode; an unknown mode is a config error naming the allowed ones."""
    try:
        return MODES[config.serving_mode]
    except KeyError:
        raise ConfigError(
            f"config key 'serving_mode': unknown serving mode {config.serving_mode!r} (allowed: {', '.join(MODES)})"
        ) from None
