"""The platform synthesized for the twin: production settings except a 1 s pipeline poll (moto's Wait sleeps)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Synthesized, cdk_context, synth_app


@pytest.fixture(scope="session")
def twin_assembly(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    context = cdk_context()
    context["platform"] = {**context["platform"], "retraining_poll_seconds": 1}
    out: Path = tmp_path_factory.mktemp("twin-cdk.out")
    return synth_app(out, context)
