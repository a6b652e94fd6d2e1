"""Drift benchmark (not a test): the numpy drift core against a read floor, scipy and Evidently, in one run.

    PYTHONPATH=. python benchmarks/drift_benchmark.py [--evidently-python /tmp/evidently-venv/bin/python]

Prints, for synthetic 1,000,000 rows x 50 float64 features (10 of them shifted): the floor (`arr.sum()` of
the window), drift_core's full report, `scipy.stats.ks_2samp` per feature, Evidently's DataDriftPreset (in its
own environment, on a slice, scaled), `mlops drift check` against `pandas.read_csv` on a CSV of the window,
the peak RSS of the streaming path, and (with --layer) the unzipped size of a numpy + drift_core Lambda layer.
Timings are the best of --repeat runs; ratios come from this one run. Temporary files live in --tmp and are
deleted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import drift_core  # noqa: E402


def best_of(repeat: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def make_data(rows: int, features: int, shifted: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Baseline and window, shape (features, rows): every feature's values contiguous, as columns arrive."""
    rng = np.random.default_rng(seed)
    base = rng.standard_normal((features, rows))
    cur = rng.standard_normal((features, rows))
    # Shifted features: mean moves by 0.1 .. 1.0 baseline standard deviations.
    cur[:shifted] += np.linspace(0.1, 1.0, shifted)[:, None]
    return base, cur


def columns(arr: np.ndarray) -> dict[str, np.ndarray]:
    return {f"f{i}": arr[i] for i in range(arr.shape[0])}


def full_report(baseline: drift_core.Baseline, cur: np.ndarray) -> drift_core.DriftReport:
    return drift_core.compute_drift(baseline, columns(cur))


# A child forked from this process (which holds ~1 GB of arrays) inherits its RSS high-water mark, so the
# measured command is started by a small launcher process and its peak RSS read there with os.wait4.
_LAUNCHER = """
import json, os, subprocess, sys
proc = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(proc.pid, 0)
with open(sys.argv[1], "w") as out:
    json.dump({"rc": os.waitstatus_to_exitcode(status), "maxrss_kb": usage.ru_maxrss}, out)
"""


def run_rss(argv: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MB (of exactly that command) and stdout of a child process."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    with tempfile.TemporaryDirectory() as tmp:
        stats = Path(tmp) / "rusage.json"
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-c", _LAUNCHER, str(stats), *argv], capture_output=True, env=env, cwd=REPO
        )
        seconds = time.perf_counter() - start
        result = json.loads(stats.read_text())
    if result["rc"] != 0 or proc.returncode != 0:
        raise RuntimeError(f"{argv[:4]} failed: {proc.stderr.decode()[-500:]}")
    return seconds, result["maxrss_kb"] / 1024.0, proc.stdout.decode()


def write_csv(arr: np.ndarray, path: Path) -> None:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    table = pa.table({f"f{i}": arr[i] for i in range(arr.shape[0])})
    pacsv.write_csv(table, path)


def section_core(args: argparse.Namespace, base: np.ndarray, cur: np.ndarray) -> dict[str, float]:
    rows, features = cur.shape[1], cur.shape[0]
    floor = best_of(max(args.repeat, 5), cur.sum)
    start = time.perf_counter()
    baseline = drift_core.build_baseline(columns(base))
    build = time.perf_counter() - start
    report = full_report(baseline, cur)
    core = best_of(args.repeat, lambda: full_report(baseline, cur))
    bins = min(a.edges.size + 1 for a in baseline.features.values() if hasattr(a, "edges"))
    print(f"data: {rows:,} rows x {features} float64 features, {args.shifted} shifted (0.1 .. 1.0 sd)")
    print(f"read floor (arr.sum() of the window)          {floor:9.4f} s")
    print(
        f"drift_core full report (moments, >= {bins - 1}-bin histograms, KS, PSI, mean shift)"
        f" {core:9.4f} s = {core / floor:5.1f}x floor"
    )
    print(f"  (baseline build from {rows:,} rows, not in the ratio: {build:.2f} s)")
    section_kll(base, build)
    print(f"  drifted features found: {len(report.drifted_features)} -> {report.drifted_features}")
    from scipy.stats import ks_2samp

    start = time.perf_counter()
    worst = 0.0
    for i in range(features):
        exact = ks_2samp(base[i], cur[i]).statistic
        f = report.features[f"f{i}"]
        worst = max(worst, abs(exact - f.ks) - f.ks_error_bound)
    scipy_s = time.perf_counter() - start
    print(
        f"scipy.stats.ks_2samp per feature              {scipy_s:9.4f} s = {scipy_s / floor:7.1f}x floor;"
        f" drift_core is {scipy_s / core:6.1f}x faster"
    )
    print(f"  KS outside the stated bound by at most {max(worst, 0.0):.2e} (0 = always within ks_error_bound)")
    return {"floor": floor, "core": core, "scipy": scipy_s, "baseline": build}


def section_kll(base: np.ndarray, build: float) -> None:
    """The Model Monitor sketch's share of the baseline build: the KLL sketches alone, fed as NumericAccumulator
    feeds them (blocks of 2**18 values), against one read pass of the same baseline data."""
    from drift_core.kll import KLLSketch

    read = best_of(5, base.sum)
    start = time.perf_counter()
    sketches = [KLLSketch() for _ in range(base.shape[0])]
    for sketch, feature in zip(sketches, base, strict=True):
        for block in range(0, feature.size, 1 << 18):
            sketch.update(feature[block : block + (1 << 18)])
    kll = time.perf_counter() - start
    worst = max(s.rank_error_bound / s.n for s in sketches)
    print(f"baseline read pass (arr.sum() of the baseline) {read:9.4f} s")
    print(f"  baseline build (bins, moments, KLL sketch)   {build:9.4f} s = {build / read:7.1f}x read pass")
    print(
        f"  of which KLL sketches (k=2048, c=0.64)      {kll:9.4f} s = {kll / read:7.1f}x read pass"
        f" ({kll / build:.0%} of the build); rank error bound <= {worst:.3%} of n"
    )


def section_evidently(args: argparse.Namespace, base: np.ndarray, cur: np.ndarray, core_full: float) -> None:
    python = Path(args.evidently_python)
    if not python.exists():
        print(f"Evidently: skipped ({python} not found; see benchmarks/README_drift.md)")
        return
    n = args.evidently_rows
    ref_slice, cur_slice = np.ascontiguousarray(base[:, :n]), np.ascontiguousarray(cur[:, :n])
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        ref_path, cur_path = Path(tmp) / "ref.npy", Path(tmp) / "cur.npy"
        np.save(ref_path, ref_slice)
        np.save(cur_path, cur_slice)
        script = REPO / "benchmarks" / "evidently_reference.py"
        out = subprocess.run(
            [str(python), str(script), str(ref_path), str(cur_path)],
            capture_output=True,
            check=True,
            text=True,
        ).stdout
    ev = json.loads(out.strip().splitlines()[-1])
    slice_baseline = drift_core.build_baseline(columns(ref_slice))
    core_slice = best_of(args.repeat, lambda: full_report(slice_baseline, cur_slice))
    scaled = ev["seconds"] * cur.shape[1] / n
    print(
        f"Evidently 0.7 DataDriftPreset, own venv (pandas<3), {n:,}-row slice: {ev['seconds']:.2f} s;"
        f" drift_core on the same slice {core_slice:.4f} s -> {ev['seconds'] / core_slice:,.0f}x faster"
    )
    print(
        f"  Evidently scaled linearly to {cur.shape[1]:,} rows: ~{scaled:,.0f} s ="
        f" {scaled / core_full:,.0f}x drift_core's full-size report (estimate, not run)"
    )


def section_csv(args: argparse.Namespace, base: np.ndarray, cur: np.ndarray) -> None:
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        csv = Path(tmp) / "window.csv"
        write_csv(cur, csv)
        size_mb = csv.stat().st_size / 1e6
        baseline_dir = Path(tmp) / "baseline"
        drift_core.write_baseline(drift_core.build_baseline(columns(base)), baseline_dir)
        py = sys.executable
        read = f"import pandas as pd; pd.read_csv({str(csv)!r})"
        pandas_wall, pandas_rss, _ = run_rss([py, "-c", read])
        check = [py, "-m", "mlops.cli", "drift", "check", "--baseline", str(baseline_dir), "--data", str(csv)]
        cli_wall, cli_rss, cli_out = run_rss([*check, "--json"])
        drifted = len(json.loads(cli_out)["drifted_features"])
        print(
            f"CSV {cur.shape[1]:,} x {cur.shape[0]} ({size_mb:,.0f} MB): pandas.read_csv"
            f" {pandas_wall:.2f} s wall (peak RSS {pandas_rss:,.0f} MB);"
            f" `mlops drift check` {cli_wall:.2f} s wall = {cli_wall / pandas_wall:.2f}x pandas,"
            f" peak RSS {cli_rss:,.0f} MB, {drifted} drifted"
        )


def section_rss(args: argparse.Namespace) -> None:
    """Peak RSS of `mlops drift check` on files of growing row counts (same columns): flat = O(1) in rows."""
    rng = np.random.default_rng(1)
    feats = args.rss_features
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        baseline_dir = Path(tmp) / "baseline"
        base = rng.standard_normal((feats, 200_000))
        drift_core.write_baseline(drift_core.build_baseline(columns(base)), baseline_dir)
        results = []
        for rows in args.rss_rows:
            csv = Path(tmp) / f"window_{rows}.csv"
            _write_csv_in_parts(csv, rows, feats, rng)
            argv = [sys.executable, "-m", "mlops.cli", "drift", "check"]
            wall, rss, _ = run_rss([*argv, "--baseline", str(baseline_dir), "--data", str(csv), "--json"])
            results.append((rows, csv.stat().st_size / 1e6, wall, rss))
            csv.unlink()
        for rows, size_mb, wall, rss in results:
            print(
                f"streaming check, {rows:>11,} rows x {feats} ({size_mb:,.0f} MB): {wall:7.2f} s,"
                f" peak RSS {rss:6.1f} MB"
            )
        if len(results) > 1:
            growth = results[-1][3] - results[0][3]
            print(
                f"  RSS growth from {results[0][0]:,} to {results[-1][0]:,} rows: {growth:+.1f} MB"
                " (CSV parsed in 4 MB chunks; memory is O(features x bins), not O(rows))"
            )


def _write_csv_in_parts(path: Path, rows: int, feats: int, rng: np.random.Generator) -> None:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    part = 1_000_000
    with pacsv.CSVWriter(path, pa.schema([(f"f{i}", pa.float64()) for i in range(feats)])) as writer:
        for start in range(0, rows, part):
            n = min(part, rows - start)
            block = rng.standard_normal((feats, n))
            writer.write_table(pa.table({f"f{i}": block[i] for i in range(feats)}))


def section_layer(args: argparse.Namespace) -> None:
    target = Path(args.tmp) / "drift_layer"
    shutil.rmtree(target, ignore_errors=True)
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--target", str(target / "python")]
    pip += ["--platform", "manylinux2014_x86_64", "--only-binary=:all:", "--python-version", "3.12", "numpy"]
    subprocess.run(pip, check=True)
    shutil.copytree(REPO / "drift_core", target / "python" / "drift_core")
    # Pruning what numpy never loads at run time: tests, bytecode caches, type stubs, C headers, f2py.
    # (Checked: numpy, numpy.linalg/fft/random/ma/polynomial and drift_core import and run after this.)
    for pattern in ("**/tests", "**/__pycache__", "numpy/f2py", "numpy/_core/include", "numpy/_pyinstaller"):
        for path in list((target / "python").glob(pattern)):
            shutil.rmtree(path, ignore_errors=True)
    for stub in list(target.rglob("*.pyi")):
        stub.unlink()
    total = sum(p.stat().st_size for p in target.rglob("*") if p.is_file())
    du = subprocess.run(["du", "-sh", str(target)], capture_output=True, text=True).stdout.split()[0]
    version = next((target / "python").glob("numpy-*.dist-info")).name
    print(
        f"Lambda layer (numpy for py3.12 manylinux2014_x86_64 + drift_core, pruned): {total / 1e6:.1f} MB"
        f" unzipped (du -sh: {du}); {version}"
    )
    shutil.rmtree(target, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=50)
    parser.add_argument("--shifted", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--evidently-python", default="/tmp/evidently-venv/bin/python")
    parser.add_argument("--evidently-rows", type=int, default=20_000)
    parser.add_argument("--rss-rows", type=int, nargs="*", default=[1_000_000, 10_000_000])
    parser.add_argument("--rss-features", type=int, default=10)
    parser.add_argument("--skip", nargs="*", default=[], choices=["evidently", "csv", "rss"])
    parser.add_argument("--layer", action="store_true", help="also measure the Lambda layer (needs pip)")
    parser.add_argument("--tmp", default=tempfile.gettempdir())
    args = parser.parse_args()
    base, cur = make_data(args.rows, args.features, args.shifted)
    figures = section_core(args, base, cur)
    if "evidently" not in args.skip:
        section_evidently(args, base, cur, figures["core"])
    if "csv" not in args.skip:
        section_csv(args, base, cur)
    del base, cur
    if "rss" not in args.skip and args.rss_rows:
        section_rss(args)
    if args.layer:
        section_layer(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
