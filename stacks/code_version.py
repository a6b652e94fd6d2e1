"""Which code a synth or a local run is built from: the git commit and whether the checkout has local changes.

The SageMaker pipeline's governance step records it in every model's lineage, so it is fixed at synth time.
Where there is no `.git` (CodeBuild checks sources out as a zip), CodeBuild's resolved source version is the
commit; CDK context (`-c code_commit=... -c code_dirty=false`) overrides both, which tests use to keep the
synthesized templates independent of the commit they run on. Unknown stays "unknown": lineage with an unknown
commit is incomplete, and such a model cannot be approved.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
UNKNOWN = "unknown"


def git_state(repo: Path = REPO) -> dict[str, Any]:
    """Commit and dirty flag of the code's checkout; "unknown" outside a git checkout or without git."""
    try:
        commit = _git(repo, "rev-parse", "HEAD")
        # --no-optional-locks: never take index.lock, so this read does not race a concurrent commit.
        dirty = bool(_git(repo, "--no-optional-locks", "status", "--porcelain"))
    except (OSError, subprocess.SubprocessError):
        built_from = os.environ.get("CODEBUILD_RESOLVED_SOURCE_VERSION", "")
        if built_from:  # a CodeBuild source checkout is the commit as fetched: nothing local to be dirty
            return {"commit": built_from, "dirty": False}
        return {"commit": UNKNOWN, "dirty": None}
    return {"commit": commit, "dirty": dirty}


def code_version(try_get_context: Callable[[str], Any], repo: Path = REPO) -> dict[str, Any]:
    """The synth's code version: CDK context `code_commit`/`code_dirty` when given, else `git_state`."""
    commit = try_get_context("code_commit")
    if commit is None:
        return git_state(repo)
    dirty = try_get_context("code_dirty")
    return {"commit": str(commit), "dirty": str(dirty).lower() in ("true", "1", "yes")}


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=20, check=True)
    return done.stdout.strip()
