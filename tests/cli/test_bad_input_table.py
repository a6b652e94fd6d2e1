"""Issue #17, table-driven: every bad input of the issue gets one line on stderr naming the file, column, flag or
key, exit 2, and never a traceback. One row per case; the rows run the real CLI in process (argparse included).
"""

from __future__ import annotations

import json
import shutil
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlops.cli import main as cli

LATIN1 = "café".encode("latin-1")  # b"caf\xe9": not UTF-8
BINARY = bytes(range(256)) * 8


@dataclass(frozen=True)
class World:
    """The files the rows point at, made once per session in a scratch folder."""

    root: Path
    csv: Path  # the real credit data (ISLR Default): default,student,balance,income
    run: Path  # a finished `mlops pipeline run` folder
    baseline: Path  # `mlops drift baseline` of the csv
    measured: Path  # a saved rightsize measurement

    def file(self, name: str, content: bytes | str) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        return path

    def folder(self, name: str) -> Path:
        path = self.root / name
        path.mkdir(parents=True, exist_ok=True)
        return path


def run_cli(argv: list[str]) -> int:
    """cli.main as a user meets it: argparse's SystemExit is the exit code, anything else a printed traceback."""
    try:
        return cli.main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    except Exception:  # what the console script would print: the failure the table must never show
        print(traceback.format_exc(), file=sys.stderr)
        return 1


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory, demo_csv: Path) -> World:
    root = tmp_path_factory.mktemp("bad-input")
    run = root / "run"
    assert run_cli(["pipeline", "run", "--data", str(demo_csv), "--target", "default", "--out", str(run),
                    "--tracking-uri", ""]) == 0  # fmt: skip
    assert run_cli(["drift", "baseline", "--data", str(demo_csv), "--out", str(root / "baseline")]) == 0
    measured = root / "measured.json"
    measured.write_text(json.dumps({"measured": {"service_ms": 2.0, "base_p50_ms": 3.0, "base_p99_ms": 5.0}}))
    return World(root, demo_csv, run, root / "baseline", measured)


def _corrupt_run(w: World) -> Path:
    run = w.root / "corrupt-run"
    if not run.exists():
        shutil.copytree(w.run, run)
        archive = run / "train" / "output" / "model.tar.gz"
        archive.write_bytes(archive.read_bytes()[:100])
    return run


def _corrupt_model(w: World) -> Path:
    model = w.folder("corrupt-model")
    shutil.copy(w.run / "train" / "model" / "model_meta.json", model)
    (model / "model.joblib").write_bytes((w.run / "train" / "model" / "model.joblib").read_bytes()[:189])
    return model


def _template_dir(w: World, name: str, content: bytes | str) -> str:
    w.file(f"{name}/stack.template.json", content)
    return str(w.root / name)


def _cdk_json(content: bytes | str | None) -> None:
    """cdk.json in the working directory (the test's own tmp folder): content, or a folder when None."""
    if content is None:
        Path("cdk.json").mkdir()
    else:
        Path("cdk.json").write_bytes(content if isinstance(content, bytes) else content.encode())


def _stage_file(w: World) -> str:
    stage = w.file("prod.json", (Path(__file__).parents[2] / "config" / "stages" / "prod.json").read_text())
    return str(stage)


def _duplicate_header(w: World) -> str:
    lines = w.csv.read_text().splitlines()
    return str(w.file("duplicate.csv", "\n".join(["default,student,balance,balance", *lines[1:]]) + "\n"))


def _all_nan_feature(w: World) -> str:
    lines = w.csv.read_text().splitlines()
    return str(w.file("empty-column.csv", "\n".join([lines[0] + ",notes", *(x + "," for x in lines[1:])]) + "\n"))


def _one_row(w: World) -> str:
    lines = w.csv.read_text().splitlines()
    return str(w.file("one-row.csv", "\n".join(lines[:2]) + "\n"))


A = ["--rps", "10", "--p99-ms", "100"]  # rightsize's required flags
Row = tuple[str, Callable[[World], list[str]], str]
ROWS: list[Row] = [
    # -- output paths: a file, under a file, not writable (every command with --out/--violations/--capture-dir)
    ("baseline --out is a file", lambda w: ["drift", "baseline", "--data", str(w.csv), "--out", str(w.csv)], "--out"),
    (
        "baseline --out under a file",
        lambda w: ["drift", "baseline", "--data", str(w.csv), "--out", f"{w.csv}/stats"],
        "is a file",
    ),
    (
        "baseline --out not writable",
        lambda w: ["drift", "baseline", "--data", str(w.csv), "--out", "/proc/mlops-out"],
        "not writable",
    ),
    (
        "check --violations is a file",
        lambda w: ["drift", "check", "--baseline", str(w.baseline), "--data", str(w.csv), "--violations", str(w.csv)],
        "--violations",
    ),
    (
        "pipeline --out under a file",
        lambda w: ["pipeline", "run", "--data", str(w.csv), "--target", "default", "--out", f"{w.csv}/run"],
        "--out",
    ),
    (
        "pipeline --tracking-uri under a file",
        lambda w: [
            "pipeline",
            "run",
            "--data",
            str(w.csv),
            "--target",
            "default",
            "--out",
            str(w.root / "t"),
            "--tracking-uri",
            f"sqlite:///{w.csv}/mlflow.db",
        ],
        "--tracking-uri",
    ),
    (
        "serve --capture-dir is a file",
        lambda w: ["serve", "--model-dir", str(w.run / "train" / "model"), "--capture-dir", str(w.csv)],
        "--capture-dir",
    ),
    (
        "serve --capture-dir not writable",
        lambda w: ["serve", "--model-dir", str(w.run / "train" / "model"), "--capture-dir", "/proc/mlops-capture"],
        "not writable",
    ),
    ("demo --out under a file", lambda w: ["demo", "--out", f"{w.csv}/demo"], "--out"),
    ("data export --out under a file", lambda w: ["data", "export", "--out", f"{w.csv}/x.csv"], "--out"),
    # -- non-UTF-8 or binary files given as CSV / JSON lines (drift commands)
    (
        "baseline on a binary file",
        lambda w: ["drift", "baseline", "--data", str(w.file("binary.csv", BINARY)), "--out", str(w.root / "b")],
        "binary.csv: a binary file",
    ),
    (
        "check on a latin-1 CSV",
        lambda w: [
            "drift",
            "check",
            "--baseline",
            str(w.baseline),
            "--data",
            str(w.file("latin1.csv", b"default,student,balance,income\nNo," + LATIN1 + b",1.0,2.0\n")),
        ],
        "latin1.csv: not UTF-8",
    ),
    (
        "check on a latin-1 JSON-lines file",
        lambda w: [
            "drift",
            "check",
            "--baseline",
            str(w.baseline),
            "--data",
            str(w.file("latin1.jsonl", b'{"student": "No"}\n{"student": "' + LATIN1 + b'"}\n')),
        ],
        "latin1.jsonl: not UTF-8",
    ),
    (
        "baseline on a binary JSON-lines file",
        lambda w: [
            "drift",
            "baseline",
            "--data",
            str(w.file("binary.jsonl", b'{"a": 1}\n' + BINARY)),
            "--out",
            str(w.root / "b"),
        ],
        "binary.jsonl: a binary file",
    ),
    # -- cdk.json: a list at the root or in context, latin-1, a folder
    (
        "cdk.json root is a list",
        lambda w: (_cdk_json("[1]"), ["pipeline", "run", "--data", str(w.csv), "--target", "default"])[1],
        "cdk.json: expected a JSON object, got a list",
    ),
    (
        "cdk.json context is a list",
        lambda w: (_cdk_json('{"context": [1]}'), ["cost", "--cdk-out", _template_dir(w, "ok-out", "{}")])[1],
        "cdk.json: key 'context'",
    ),
    (
        "cdk.json is latin-1",
        lambda w: (
            _cdk_json(b'{"context": {"platform": {"project_name": "' + LATIN1 + b'"}}}'),
            ["readiness", str(w.run)],
        )[1],
        "cdk.json: not UTF-8",
    ),
    (
        "cdk.json is a folder",
        lambda w: (_cdk_json(None), ["rightsize", *A, "--measured", str(w.measured), "--apply"])[1],
        "cdk.json: is a folder",
    ),
    # -- pipeline flags
    (
        "--features lists the target",
        lambda w: ["pipeline", "run", "--data", str(w.csv), "--target", "default", "--features", "balance,default"],
        "--features",
    ),
    # -- numeric flags: inf, nan, 1e308
    ("rightsize --rps inf", lambda w: ["rightsize", "--rps", "inf", "--p99-ms", "100"], "--rps"),
    ("rightsize --rps 1e308", lambda w: ["rightsize", "--rps", "1e308", "--p99-ms", "100"], "--rps"),
    ("rightsize --p99-ms inf --json", lambda w: ["rightsize", "--rps", "10", "--p99-ms", "inf", "--json"], "--p99-ms"),
    ("rightsize --peak-factor inf", lambda w: ["rightsize", *A, "--peak-factor", "inf"], "--peak-factor"),
    ("rightsize --peak-factor nan", lambda w: ["rightsize", *A, "--peak-factor", "nan"], "--peak-factor"),
    ("rightsize --gpu-speedup inf", lambda w: ["rightsize", *A, "--gpu-speedup", "inf"], "--gpu-speedup"),
    ("cost --job-minutes inf --json", lambda w: ["cost", "--job-minutes", "inf", "--json"], "--job-minutes"),
    (
        "drift check --sigma nan",
        lambda w: ["drift", "check", "--baseline", str(w.baseline), "--data", str(w.csv), "--sigma", "nan"],
        "--sigma",
    ),
    # -- rightsize files: junk or a folder
    (
        "rightsize --measured junk",
        lambda w: ["rightsize", *A, "--measured", str(w.file("junk.json", BINARY))],
        "junk.json: not UTF-8",
    ),
    ("rightsize --measured a folder", lambda w: ["rightsize", *A, "--measured", str(w.folder("m"))], "is a folder"),
    (
        "rightsize --catalogue junk",
        lambda w: ["rightsize", *A, "--measured", str(w.measured), "--catalogue", str(w.file("cat.json", "{junk"))],
        "cat.json: invalid JSON",
    ),
    (
        "rightsize --catalogue a folder",
        lambda w: ["rightsize", *A, "--measured", str(w.measured), "--catalogue", str(w.folder("c"))],
        "is a folder",
    ),
    # -- cost templates: junk, latin-1, a list
    (
        "cost on a junk template",
        lambda w: ["cost", "--cdk-out", _template_dir(w, "junk-out", "{junk")],
        "stack.template.json: invalid JSON",
    ),
    (
        "cost on a latin-1 template",
        lambda w: ["cost", "--cdk-out", _template_dir(w, "latin-out", b'{"a": "' + LATIN1 + b'"}')],
        "not UTF-8",
    ),
    ("cost on a list template", lambda w: ["cost", "--cdk-out", _template_dir(w, "list-out", "[]")], "got a list"),
    # -- corrupt models
    ("readiness on a corrupt model.tar.gz", lambda w: ["readiness", str(_corrupt_run(w))], "model.tar.gz"),
    (
        "serve a corrupt model",
        lambda w: ["serve", "--model-dir", str(_corrupt_model(w))],
        "corrupt or incomplete model file",
    ),
    # -- silent surprises made loud (the refused ones)
    (
        "pipeline on a duplicated header",
        lambda w: ["pipeline", "run", "--data", _duplicate_header(w), "--target", "default"],
        "column 'balance' appears twice",
    ),
    (
        "drift baseline on a duplicated header",
        lambda w: ["drift", "baseline", "--data", _duplicate_header(w), "--out", str(w.root / "b")],
        "column 'balance' appears twice",
    ),
    (
        "pipeline on an all-NaN feature",
        lambda w: ["pipeline", "run", "--data", _all_nan_feature(w), "--target", "default"],
        "feature column 'notes' has no values",
    ),
    (
        "drift check on a 1-row window",
        lambda w: ["drift", "check", "--baseline", str(w.baseline), "--data", _one_row(w)],
        "fewer than the 100",
    ),
    (
        "rightsize --apply lowers a stage's minimum",
        lambda w: ["rightsize", *A, "--measured", str(w.measured), "--apply", "--config", _stage_file(w)],
        "endpoint_min_instances from 2 to 1",
    ),
]


@pytest.fixture(autouse=True)
def _no_serving(monkeypatch: pytest.MonkeyPatch) -> None:
    """`mlops serve` that accepted its bad input would serve for ever: fail the row instead of hanging."""
    from mlops.local.serving import EndpointServer

    def started(self: EndpointServer) -> None:
        raise AssertionError("the server started: the bad input was accepted")

    monkeypatch.setattr(EndpointServer, "wait", started)


@pytest.mark.parametrize(("name", "argv", "named"), ROWS, ids=[row[0] for row in ROWS])
def test_bad_input_is_one_line_exit_2_naming_the_culprit(
    world: World,
    in_tmp_cwd: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    argv: Callable[[World], list[str]],
    named: str,
) -> None:
    code = run_cli(argv(world))
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    assert code == 2, err
    # `pipeline run` shows its steps' progress ("[preprocess] running") before the error line.
    lines = [line for line in err.splitlines() if not line.startswith("[")]
    assert len(lines) == 1 and named in lines[0], err
