#!/usr/bin/env python3
"""CDK entry point: load the typed config, instantiate the platform's stacks, add cdk-nag."""

from __future__ import annotations

import sys

import aws_cdk as cdk

from stacks.config import ConfigError, config_from_app_context
from stacks.platform import add_guards, add_platform


def main() -> None:
    app = cdk.App()
    try:
        config = config_from_app_context(app.node.try_get_context)
    except ConfigError as exc:
        sys.stderr.write(f"cdk.json / -c: {exc}\n")
        raise SystemExit(2) from None
    add_platform(app, config)
    add_guards(app)
    app.synth()


if __name__ == "__main__":
    main()
