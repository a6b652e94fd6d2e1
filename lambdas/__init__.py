"""Lambda handlers, one folder each; every folder is deployed as its own asset, with the shared modules."""

from __future__ import annotations

from pathlib import Path

LAMBDAS = Path(__file__).resolve().parent
# Modules every handler may import (e.g. the readiness gate both approval paths apply), copied into each asset.
SHARED = LAMBDAS / "shared"
# Step-library modules the handlers import too: the package metadata's encoding, one module for writers and readers.
FROM_STEP_LIBRARY = (LAMBDAS.parent / "pipeline_code" / "metadata_codec.py",)


def shared_files() -> dict[str, Path]:
    """The modules every handler's asset carries besides its own, by file name: lambdas/shared/ and
    FROM_STEP_LIBRARY."""
    files = {p.name: p for p in sorted(SHARED.glob("*.py")) if p.name != "__init__.py"}
    files.update({p.name: p for p in FROM_STEP_LIBRARY})
    return files
