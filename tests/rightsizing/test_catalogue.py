"""The price catalogue: every price has a source and a date; missing instances and regions are clear errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from mlops.rightsizing.catalogue import CATALOGUE_PATH, Catalogue, CatalogueError, load_catalogue

FAMILIES = ("t3", "m5", "m6i", "c5", "c6i", "c7i", "g4dn", "g5", "inf2")


def _price_entries(data: dict) -> list[tuple[str, dict]]:
    entries = []
    for name, spec in data["instances"].items():
        entries += [(f"instances.{name}.{region}", p) for region, p in spec["prices"].items()]
    for key, service in data["services"].items():
        entries += [(f"services.{key}.{region}", p) for region, p in service["prices"].items()]
    return entries


def test_every_price_has_a_source_and_a_date() -> None:
    data = json.loads(CATALOGUE_PATH.read_text())
    entries = _price_entries(data)
    assert len(entries) > 90
    for where, price in entries:
        assert price["source"].strip(), where
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", price["retrieved"]), where
        assert isinstance(price["usd"], int | float) and price["usd"] >= 0, where
    assert "not fetched live" in data["disclaimer"].lower() or "not fetched live" in data["disclaimer"]


def test_catalogue_covers_the_issue_families_and_serverless(catalogue: Catalogue) -> None:
    families = {spec.family for spec in catalogue.instances.values()}
    assert set(FAMILIES) <= families
    assert {spec.family for spec in catalogue.instances.values() if spec.gpu} == {"g4dn", "g5"}
    assert catalogue.serverless_memory_sizes_mb == (1024, 2048, 3072, 4096, 5120, 6144)
    assert catalogue.hourly("ml.m5.large", "us-east-1").usd == pytest.approx(0.115)


def test_missing_instance_or_region_is_a_clear_error(catalogue: Catalogue) -> None:
    with pytest.raises(CatalogueError, match=r"instance type 'ml\.x9\.large' is not in the catalogue"):
        catalogue.hourly("ml.x9.large", "us-east-1")
    with pytest.raises(CatalogueError, match=r"no price for instance type 'ml\.m5\.large' in region 'eu-west-3'"):
        catalogue.hourly("ml.m5.large", "eu-west-3")
    with pytest.raises(CatalogueError, match="region 'eu-west-3' is not priced"):
        catalogue.require_region("eu-west-3")


def test_a_price_without_source_fails_loading(tmp_path: Path) -> None:
    data = json.loads(CATALOGUE_PATH.read_text())
    del data["instances"]["ml.c5.large"]["prices"]["us-east-1"]["source"]
    path = tmp_path / "catalogue.json"
    path.write_text(json.dumps(data))
    with pytest.raises(CatalogueError, match=r"instances\.ml\.c5\.large\.prices\.us-east-1' has no 'source'"):
        load_catalogue(path)


def test_missing_region_on_the_command_line_exits_2(cli, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    saved = tmp_path / "measured.json"
    saved.write_text(json.dumps({"service_ms": 4, "base_p50_ms": 5, "base_p99_ms": 8}))
    code = cli(["rightsize", "--rps", "10", "--p99-ms", "100", "--measured", str(saved), "--region", "ap-south-9"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "region 'ap-south-9' is not priced" in err
