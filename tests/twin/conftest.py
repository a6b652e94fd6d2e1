"""The platform synthesized for the twin: production settings except a 1 s pipeline poll and 1 s retry waits (moto's
Wait states and retries really sleep)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops.twin.synth import TWIN_POLL_SECONDS, TWIN_RETRY_SECONDS
from tests.conftest import Synthesized, cdk_context, synth_app


@pytest.fixture(scope="session")
def twin_assembly(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    context = cdk_context()
    platform = {**context["platform"], "retraining_poll_seconds": TWIN_POLL_SECONDS}
    context["platform"] = {**platform, "retraining_retry_seconds": TWIN_RETRY_SECONDS}
    out: Path = tmp_path_factory.mktemp("twin-cdk.out")
    return synth_app(out, context)
