"""The code version a synth records: git, CodeBuild's source version, or CDK context."""

from __future__ import annotations

from pathlib import Path

import pytest

from stacks.code_version import code_version, git_state


def test_outside_a_checkout_codebuild_names_the_commit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CODEBUILD_RESOLVED_SOURCE_VERSION", raising=False)
    assert git_state(tmp_path) == {"commit": "unknown", "dirty": None}
    monkeypatch.setenv("CODEBUILD_RESOLVED_SOURCE_VERSION", "c" * 40)
    assert git_state(tmp_path) == {"commit": "c" * 40, "dirty": False}


def test_context_overrides_git() -> None:
    context = {"code_commit": "a" * 40, "code_dirty": "false"}
    assert code_version(context.get) == {"commit": "a" * 40, "dirty": False}
    assert code_version({"code_commit": "b" * 40, "code_dirty": True}.get)["dirty"] is True
    assert len(code_version({}.get)["commit"]) == 40  # this checkout's HEAD
