"""Synthesize the platform for the offline twin (outside the tests, e.g. for `mlops demo`).

The same app as `app.py` (cdk-nag included), with the twin's two differences: asset bundling is skipped (the
drift layer then stages drift_core/ as it is; the twin imports it from there) and the retraining loop polls the
pipeline every second (moto's Step Functions engine really sleeps in Wait states). Retries keep AWS's intervals:
the twin scales the engine's sleep between attempts instead (mlops/twin/emulators/retry_clock.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
TWIN_POLL_SECONDS = 1


def twin_context(repo: Path = REPO) -> dict[str, Any]:
    """cdk.json's context with the twin's overrides."""
    context: dict[str, Any] = json.loads((repo / "cdk.json").read_text())["context"]
    platform = {**context.get("platform", {}), "retraining_poll_seconds": TWIN_POLL_SECONDS}
    return {**context, "platform": platform, "aws:cdk:bundling-stacks": []}


def synth_twin(outdir: Path, context: dict[str, Any] | None = None) -> Path:
    """Write the twin's cloud assembly into `outdir` and return it (load it with mlops.twin.templates.Assembly)."""
    import aws_cdk as cdk

    from platform_config.platform import config_from_app_context
    from stacks.platform import add_guards, add_platform

    outdir.mkdir(parents=True, exist_ok=True)
    # CDK's own CloudFormation validation repeats what cfn-lint checks in the tests and costs ~12 s a synth.
    app = cdk.App(outdir=str(outdir), context=context or twin_context(), builtin_cloud_formation_validation=False)
    add_platform(app, config_from_app_context(app.node.try_get_context))
    add_guards(app)
    app.synth()
    return outdir
