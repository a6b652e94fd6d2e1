"""Snapshots of every synthesized template: a reviewer sees each infrastructure change as a diff.

Asset hashes are replaced by a marker, so a change to step code alone shows up once (in the snapshot of the
normalised hash list), not as churn all over the templates. Update with `pytest --snapshot-update`.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

ASSET_HASH = re.compile(r"[0-9a-f]{64}")


def normalise(template: dict[str, Any]) -> Any:
    return _sort_resource_lists(json.loads(ASSET_HASH.sub("<asset-hash>", json.dumps(template))))


def _sort_resource_lists(node: Any) -> Any:
    """IAM sorts a statement's resources by name, i.e. by hash for assets; sort them again once hashes are gone."""
    if isinstance(node, dict):
        return {
            key: sorted(value, key=json.dumps)
            if key == "Resource" and isinstance(value, list)
            else _sort_resource_lists(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_sort_resource_lists(item) for item in node]
    return node


@pytest.fixture()
def snapshot_json(snapshot):  # type: ignore[no-untyped-def]
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize(
    "stack", ["Mlops-data", "Mlops-build", "Mlops-serving", "Mlops-monitoring", "Mlops-retraining"]
)
def test_template_snapshot(synthesized, snapshot_json, stack: str) -> None:
    assert normalise(synthesized.templates[stack]) == snapshot_json


def test_normalising_keeps_everything_but_hashes() -> None:
    digest = "a" * 64
    assert normalise({"Key": f"{digest}.zip", "Other": "abc"}) == {"Key": "<asset-hash>.zip", "Other": "abc"}
    assert normalise({"Resource": ["b", "a"], "Args": ["b", "a"]}) == {"Resource": ["a", "b"], "Args": ["b", "a"]}
