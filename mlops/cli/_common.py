"""Helpers that more than one command-group module uses (command modules do not import each other)."""

from __future__ import annotations

from pathlib import Path


def display_path(path: Path) -> str:
    """Relative to the working directory when inside it: shorter, and the same on every checkout."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
