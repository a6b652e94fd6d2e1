"""The one synth with CDK's built-in CloudFormation validation on (it costs ~12 s, so only here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import synth_app


@pytest.mark.slow
def test_synth_passes_builtin_cloudformation_validation(tmp_path: Path) -> None:
    synthesized = synth_app(tmp_path, validation=True)
    assert {"Mlops-data", "Mlops-build"} <= set(synthesized.templates)
