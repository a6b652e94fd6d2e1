"""Fixtures: a CLI runner for the two command groups, one real measurement per session, a synthetic profile."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from mlops.cli import cost as cost_cli
from mlops.cli import rightsize as rightsize_cli
from mlops.cli.main import EXIT_USAGE, _Parser
from mlops.errors import UserError
from mlops.rightsizing.capacity import Profile
from mlops.rightsizing.catalogue import Catalogue, load_catalogue


def run_cli(argv: Sequence[str]) -> int:
    """Like mlops.cli.main, with only this issue's command groups registered."""
    parser = _Parser(prog="mlops")
    groups = parser.add_subparsers(dest="group", required=True, parser_class=_Parser)
    rightsize_cli.register(groups)
    cost_cli.register(groups)
    args = parser.parse_args(list(argv))
    try:
        return int(args.handler(args) or 0)
    except UserError as exc:
        sys.stderr.write(f"mlops: error: {exc}\n")
        return EXIT_USAGE


@pytest.fixture()
def cli() -> Callable[[Sequence[str]], int]:
    return run_cli


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture()
def profile() -> Profile:
    """A model like the sample one on an idle core: ~4 ms CPU a request, ~6 ms one at a time."""
    return Profile(service_ms=4.0, base_p50_ms=5.0, base_p99_ms=8.0, parallel_efficiency=0.9)


@pytest.fixture(scope="session")
def measured_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One real `mlops rightsize --json` run: the sample model behind the local endpoint, short bounded phases."""
    out = tmp_path_factory.mktemp("rightsize") / "run.json"
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = run_cli(["rightsize", "--rps", "20", "--p99-ms", "2000", "--duration", "0.5", "--json"])
    assert code == 0
    result = json.loads(buffer.getvalue())
    out.write_text(json.dumps(result))
    result["_path"] = str(out)
    return result


@pytest.fixture(scope="session")
def measured_profile(measured_run: dict) -> Profile:
    return rightsize_cli.load_profile(Path(measured_run["_path"]))
