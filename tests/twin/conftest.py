"""The platform synthesized for the twin: production settings except a 1 s pipeline poll (moto's Wait states really
sleep; its retries wait a scaled interval, mlops/twin/emulators/retry_clock.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops.twin.synth import TWIN_POLL_SECONDS
from tests.conftest import Synthesized, cdk_context, synth_app


@pytest.fixture(scope="session")
def twin_assembly(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    context = cdk_context()
    context["platform"] = {**context["platform"], "retraining_poll_seconds": TWIN_POLL_SECONDS}
    out: Path = tmp_path_factory.mktemp("twin-cdk.out")
    return synth_app(out, context)
