"""Stage a set of files as one asset folder, named by the hash of their names and content.

Used where an asset is assembled from several places of the repository (the step library; a Lambda handler's
folder plus the modules the handlers share). Staging is atomic (a temporary folder renamed into place), so
concurrent synths, as in parallel tests, never see a half-written folder, and the same content gives the same
folder, hence the same asset hash.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path


def stage_files(build_dir: Path, name: str, files: Mapping[str, Path]) -> Path:
    """Copy `files` (relative name -> source path) into `build_dir/<name>-<content hash>/` once."""
    digest = hashlib.sha256()
    for relative, path in sorted(files.items()):
        digest.update(relative.encode() + b"\0" + path.read_bytes() + b"\0")
    target = build_dir / f"{name}-{digest.hexdigest()[:16]}"
    if target.exists():
        return target
    build_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=build_dir))
    for relative, path in files.items():
        (staging / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, staging / relative)
    try:
        staging.rename(target)
    except OSError:  # another process staged the same content first
        shutil.rmtree(staging, ignore_errors=True)
    return target


def package_files(package: Path, root: Path) -> dict[str, Path]:
    """A package's modules (`*.py`, no caches) by their path relative to `root`, the folder that goes on sys.path."""
    return {
        path.relative_to(root).as_posix(): path
        for path in sorted(package.rglob("*.py"))
        if "__pycache__" not in path.parts
    }
