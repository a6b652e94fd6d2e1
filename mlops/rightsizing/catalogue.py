"""The instance and service price catalogue: ``data/instance_catalogue.json``, versioned with the code.

Every price carries its ``source`` and ``retrieved`` date; loading fails if one does not. Prices are list
prices transcribed from AWS's pricing pages, never fetched live: the loaded catalogue says so in ``disclaimer``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops.errors import UserError
from mlops.user_input import read_json

CATALOGUE_PATH = Path(__file__).resolve().parents[2] / "data" / "instance_catalogue.json"
HOURS_PER_MONTH = 730.0  # AWS's own convention for monthly estimates
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class CatalogueError(UserError):
    """The catalogue file is malformed, or lacks an instance, service or region; the message names it."""


@dataclass(frozen=True)
class Price:
    usd: float
    source: str
    retrieved: str
    note: str = ""


@dataclass(frozen=True)
class InstanceSpec:
    name: str
    vcpu: int
    memory_gib: float
    gpus: int
    accelerator: str | None
    # Sustained share of each vCPU a burstable (t2/t3) instance may use without CPU credits; None when not burstable.
    burstable_baseline: float | None
    prices: dict[str, Price]
    # False for types SageMaker offers for jobs but not for real-time endpoints (ml.t3); right-sizing skips them.
    realtime_hosting: bool = True

    @property
    def family(self) -> str:
        return self.name.split(".")[1]

    @property
    def gpu(self) -> bool:
        return self.gpus > 0


@dataclass(frozen=True)
class Catalogue:
    path: Path
    version: str
    currency: str
    disclaimer: str
    regions: tuple[str, ...]
    serverless_memory_sizes_mb: tuple[int, ...]
    serverless_max_concurrency: int
    instances: dict[str, InstanceSpec]
    services: dict[str, dict[str, Price]]
    service_units: dict[str, str]

    def instance(self, name: str) -> InstanceSpec:
        if name not in self.instances:
            raise CatalogueError(
                f"{self.path}: instance type '{name}' is not in the catalogue "
                f"(known: {', '.join(sorted(self.instances))})"
            )
        return self.instances[name]

    def hourly(self, name: str, region: str) -> Price:
        spec = self.instance(name)
        if region not in spec.prices:
            raise CatalogueError(
                f"{self.path}: no price for instance type '{name}' in region '{region}' "
                f"(priced regions: {', '.join(sorted(spec.prices))})"
            )
        return spec.prices[region]

    def service(self, key: str, region: str) -> Price:
        if key not in self.services:
            raise CatalogueError(f"{self.path}: service price '{key}' is not in the catalogue")
        if region not in self.services[key]:
            raise CatalogueError(
                f"{self.path}: no price for '{key}' in region '{region}' "
                f"(priced regions: {', '.join(sorted(self.services[key]))})"
            )
        return self.services[key][region]

    def require_region(self, region: str) -> None:
        if region not in self.regions:
            raise CatalogueError(
                f"{self.path}: region '{region}' is not priced in the catalogue (priced: {', '.join(self.regions)})"
            )


def load_catalogue(path: Path | str = CATALOGUE_PATH) -> Catalogue:
    path = Path(path)
    data = read_json(path, "catalogue file")
    if not isinstance(data, dict) or data.get("schema") != 1:
        raise CatalogueError(f'{path}: expected a JSON object with "schema": 1')
    try:
        instances = {name: _instance(path, name, raw) for name, raw in data["instances"].items()}
        services = {key: _prices(path, f"services.{key}", raw["prices"]) for key, raw in data["services"].items()}
        units = {key: str(raw["unit"]) for key, raw in data["services"].items()}
        return Catalogue(
            path=path,
            version=str(data["version"]),
            currency=str(data["currency"]),
            disclaimer=str(data["disclaimer"]),
            regions=tuple(data["regions"]),
            serverless_memory_sizes_mb=tuple(int(m) for m in data["serverless_memory_sizes_mb"]),
            serverless_max_concurrency=int(data["serverless_max_concurrency"]),
            instances=instances,
            services=services,
            service_units=units,
        )
    except KeyError as exc:
        raise CatalogueError(f"{path}: missing key {exc}") from None
    except (TypeError, ValueError, AttributeError) as exc:
        raise CatalogueError(f"{path}: malformed catalogue: {exc}") from None


def _instance(path: Path, name: str, raw: dict[str, Any]) -> InstanceSpec:
    baseline = raw.get("burstable_baseline")
    return InstanceSpec(
        name=name,
        vcpu=int(raw["vcpu"]),
        memory_gib=float(raw["memory_gib"]),
        gpus=int(raw["gpus"]),
        accelerator=raw.get("accelerator"),
        burstable_baseline=None if baseline is None else float(baseline),
        prices=_prices(path, f"instances.{name}", raw["prices"]),
        realtime_hosting=bool(raw.get("realtime_hosting", True)),
    )


def _prices(path: Path, where: str, raw: dict[str, Any]) -> dict[str, Price]:
    prices = {}
    for region, entry in raw.items():
        field = f"{where}.prices.{region}"
        if not isinstance(entry, dict):
            raise CatalogueError(f"{path}: '{field}' must be an object with usd, source and retrieved")
        for key in ("usd", "source", "retrieved"):
            if entry.get(key) in (None, ""):
                raise CatalogueError(f"{path}: '{field}' has no '{key}' (every price needs a source and a date)")
        if not _DATE.match(str(entry["retrieved"])):
            raise CatalogueError(f"{path}: '{field}.retrieved' must be a YYYY-MM-DD date, got {entry['retrieved']!r}")
        usd = entry["usd"]
        if isinstance(usd, bool) or not isinstance(usd, int | float) or usd < 0:
            raise CatalogueError(f"{path}: '{field}.usd' must be a non-negative number, got {usd!r}")
        prices[region] = Price(float(usd), str(entry["source"]), str(entry["retrieved"]), str(entry.get("note", "")))
    return prices
