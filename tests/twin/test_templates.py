"""The assembly loader: asset folders resolve to absolute paths whatever the working directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops.twin.templates import Assembly


def test_a_relative_output_folder_gives_absolute_asset_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "run" / "cdk.out"
    (out / "asset.abc").mkdir(parents=True)
    (out / "Mlops-data.template.json").write_text(json.dumps({"Resources": {}}))
    monkeypatch.chdir(tmp_path)
    assembly = Assembly.load(Path("run/cdk.out"))
    assert assembly.asset_dir({"S3Key": "abc.zip"}) == out / "asset.abc"
    assert assembly.asset_dir({"S3Key": "abc.zip"}).is_absolute()


def test_a_folder_without_templates_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"no \*\.template\.json"):
        Assembly.load(tmp_path)
