#!/usr/bin/env python3
"""CDK entry point: load the typed config, instantiate the platform's stacks (or the delivery pipeline), add cdk-nag.

`cdk synth` / `cdk deploy --all`: the platform's stacks directly, into one account.
`cdk synth -c delivery=true`: the self-mutating delivery pipeline, which deploys the stages in config/stages/.
"""

from __future__ import annotations

import sys

import aws_cdk as cdk

from platform_config.platform import ConfigError, config_from_app_context
from stacks.platform import add_guards, add_platform


def build(app: cdk.App) -> None:
    """Everything the app synthesizes, chosen by the `delivery` context flag (the tests call this too)."""
    if str(app.node.try_get_context("delivery")).lower() in ("true", "1", "yes"):
        from stacks.delivery_stack import add_delivery  # only the delivery app needs CDK Pipelines

        add_delivery(app)
    else:
        add_platform(app, config_from_app_context(app.node.try_get_context))
    add_guards(app)


def main() -> None:
    app = cdk.App()
    try:
        build(app)
    except ConfigError as exc:
        sys.stderr.write(f"cdk.json / -c / config/: {exc}\n")
        raise SystemExit(2) from None
    app.synth()


if __name__ == "__main__":
    main()
