"""Lineage pieces: git state, config and data fingerprints, and the registry metadata limits."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd

from mlops.governance import lineage
from pipeline_code import lineage_fields
from platform_config.platform import config_sha256, load_config


def test_git_state_of_this_checkout_and_outside_one(tmp_path: Path) -> None:
    here = lineage.git_state()
    assert len(here["commit"]) == 40 and isinstance(here["dirty"], bool)
    assert lineage.git_state(tmp_path) == {"commit": "unknown", "dirty": None}
    assert "code.commit" in lineage_fields.missing_fields({"code": lineage.git_state(tmp_path)})


def test_config_digest_follows_the_effective_config() -> None:
    config = load_config()
    assert config_sha256(config) == config_sha256(load_config())
    assert config_sha256(config) != config_sha256(replace(config, min_accuracy=0.9))


def test_data_fingerprint_counts_csv_rows_and_hashes_content(tmp_path: Path) -> None:
    data = tmp_path / "d.csv"
    data.write_text('a,b\n1,"two\nlines"\n\n3,x\n')
    first = lineage.data_fingerprint(data)
    assert first["rows"] == 2 and len(first["content_sha256"]) == 64
    data.write_text('a,b\n1,"two\nlines"\n\n3,y\n')
    assert lineage.data_fingerprint(data)["content_sha256"] != first["content_sha256"]
    folder = tmp_path / "many"
    folder.mkdir()
    for name in ("p1.csv", "p2.csv"):
        (folder / name).write_text("a\n1\n2\n")
    assert lineage.data_fingerprint(folder)["rows"] == 4
    pd.DataFrame({"a": [1, 2, 3]}).to_parquet(folder / "p3.parquet")
    assert lineage.data_fingerprint(folder)["rows"] == 7


def test_registry_metadata_values_are_strings_of_at_most_256_characters() -> None:
    document = {
        "code": {"commit": "a" * 40, "dirty": True},
        "data": {"location": "/very/" + "long/" * 80 + "data.csv", "rows": 10, "content_sha256": "h"},
        "training": {"hyperparameters": {f"p{i}": i for i in range(60)}},
    }
    metadata = lineage_fields.registry_metadata(document, {"ready": False, "failed": ["lineage"]})
    assert all(isinstance(v, str) and len(v) <= 256 for v in metadata.values())
    assert metadata["data_location"].endswith("/data.csv") and metadata["data_location"].startswith("...")
    assert metadata["git_dirty"] == "true" and metadata["lineage_complete"] == "false"
    assert metadata["readiness_verdict"] == "not_ready" and metadata["readiness_failed"] == "lineage"
    assert metadata["lineage_sha256"] == lineage_fields.sha256_json(document)


def test_registry_metadata_records_the_number_of_training_workers() -> None:
    workers = {"count": 2, "hosts": ["algo-1", "algo-2"], "rows_per_worker": [4000, 4000]}
    metadata = lineage_fields.registry_metadata({"training": {"engine": "xgboost", "workers": workers}}, {})
    assert metadata["training_workers"] == "2" and metadata["training_engine"].startswith("xgboost/")
    assert "training_workers" not in lineage_fields.registry_metadata({"training": {"engine": "sklearn"}}, {})
