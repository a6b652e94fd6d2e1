"""A build cache for what the SageMaker SDK computes (the pipeline definition, image URIs), at synth time and in
local pipeline runs.

Both are pure functions of their inputs and the SDK's version, but importing the SDK costs ~2 s of every process
that needs one (a synth, `mlops pipeline run`), building the definition ~1 s more. Results are kept under
.build/sdk-cache, keyed by a hash of the inputs, the SDK version and the builder's own source, so a process with
unchanged inputs never imports the SDK; any change of input, SDK or builder code recomputes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Callable, Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

CACHE_DIR = Path(__file__).resolve().parents[1] / ".build" / "sdk-cache"


def cached(
    kind: str,
    inputs: Any,
    compute: Callable[[], str],
    cache_dir: Path = CACHE_DIR,
    code: Sequence[Path] = (),
) -> str:
    """`code`: the source files `compute` runs; their content is part of the key, so editing the builder
    recomputes (without it, a changed builder would keep serving the old definition). Each file is named by its folder
    and name, so two packages' modules of one name never share a key entry."""
    if dataclasses.is_dataclass(inputs) and not isinstance(inputs, type):
        inputs = dataclasses.asdict(inputs)
    sources = {f"{p.parent.name}/{p.name}": hashlib.sha256(p.read_bytes()).hexdigest() for p in code}
    key_source = json.dumps(
        {"kind": kind, "inputs": inputs, "sdk": version("sagemaker"), "code": sources}, sort_keys=True
    )
    path = cache_dir / f"{kind}-{hashlib.sha256(key_source.encode()).hexdigest()[:32]}.txt"
    if path.exists():
        return path.read_text()
    value = compute()
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.partial")
        partial.write_text(value)
        partial.replace(path)  # atomic: parallel synths never read half a file
    except OSError:
        pass  # a read-only install: the value is right, only not kept for the next process
    return value
