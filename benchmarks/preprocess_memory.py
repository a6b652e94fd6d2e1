"""Preprocess/baseline memory benchmark (not a test): peak RSS stays flat as the input grows past the chunk size.

    PYTHONPATH=. python benchmarks/preprocess_memory.py [--chunk-rows 20000] [--multiples 5,20,50]

For each multiple m, an input of m x chunk-rows rows like ISLR Default (the real rows, resampled with noise on
the numeric columns) is written as CSV files of 2 x chunk-rows rows in a temporary folder. Then, each in a fresh
process whose peak RSS (ru_maxrss) comes from `os.wait4` on exactly that process:
- preprocess.py --chunk-rows N --train-shards 4 (both passes; Parquet shards out),
- baseline.py --chunk-rows N on the train shards,
- for contrast, `pandas.read_csv` of all the files at once (what the steps did before: memory grows with the data).
The floor is the same process importing the step's modules and doing nothing. Ratios are against the smallest
input, in this run. Temporary files are deleted.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mlops.local.sample_data import load_dataset  # noqa: E402

FLOOR = "import pandas, pyarrow.parquet, numpy, drift_core, pipeline_code.preprocess, pipeline_code.baseline"
WHOLE = (
    "import sys, pathlib, pandas as pd; "
    "frame = pd.concat([pd.read_csv(p) for p in sorted(pathlib.Path(sys.argv[1]).glob('*.csv'))]); print(len(frame))"
)


def make_input(folder: Path, rows: int, file_rows: int, seed: int) -> int:
    """ISLR Default rows resampled with 5% multiplicative noise on balance and income; returns the bytes written."""
    base = load_dataset("ISLR", "Default")
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    written = 0
    for index, start in enumerate(range(0, rows, file_rows)):
        n = min(file_rows, rows - start)
        part = base.iloc[rng.integers(0, len(base), n)].reset_index(drop=True)
        for column in ("balance", "income"):
            part[column] = (part[column] * rng.normal(1.0, 0.05, n)).clip(lower=0).round(4)
        path = folder / f"raw-{index:04d}.csv"
        part.to_csv(path, index=False)
        written += path.stat().st_size
    return written


def peak_mb(args: list[str]) -> tuple[float, float]:
    """(peak RSS in MB, seconds) of one fresh Python process running `args`."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(args)} failed: {process.stderr.read().decode() if process.stderr else ''}")
    if process.stderr:
        process.stderr.close()
    return usage.ru_maxrss / 1024, seconds  # ru_maxrss is in KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chunk-rows", type=int, default=20_000)
    parser.add_argument("--multiples", default="5,20,50", help="input sizes as multiples of --chunk-rows")
    parser.add_argument("--tmp", type=Path, default=None, help="folder for the temporary inputs (default: system)")
    args = parser.parse_args()
    multiples = [int(m) for m in args.multiples.split(",")]
    chunk = args.chunk_rows
    print(
        f"machine: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}, "
        f"pandas {pd.__version__}; chunk {chunk:,} rows; files of {2 * chunk:,} rows"
    )
    floor, _ = peak_mb(["-c", FLOOR])
    print(f"floor (imports only): {floor:.0f} MB peak RSS")
    header = (
        f"{'input':>8} {'rows':>10} {'CSV MB':>7} | {'preprocess':>10} {'s':>5} | {'baseline':>8} {'s':>5} | "
        f"{'whole read_csv':>14}"
    )
    print(header)
    print("-" * len(header))
    results = []
    root = Path(tempfile.mkdtemp(prefix="preprocess-memory-", dir=args.tmp))
    try:
        for multiple in multiples:
            rows = multiple * chunk
            work = root / f"x{multiple}"
            size = make_input(work / "raw", rows, 2 * chunk, seed=multiple)
            common = ["--target", "default", "--chunk-rows", str(chunk)]
            raw, out, train = str(work / "raw"), str(work / "out"), str(work / "out" / "train")
            step = "pipeline_code.preprocess"
            pre, pre_s = peak_mb(["-m", step, "--input-dir", raw, "--output-dir", out, *common, "--train-shards", "4"])
            step = "pipeline_code.baseline"
            base, base_s = peak_mb(["-m", step, "--train-dir", train, "--output-dir", str(work / "baseline"), *common])
            whole, _ = peak_mb(["-c", WHOLE, str(work / "raw")])
            results.append((multiple, pre, base, whole))
            print(
                f"{str(multiple) + 'x':>8} {rows:>10,} {size / 1e6:>7.1f} | {pre:>8.0f}MB {pre_s:>5.1f} | "
                f"{base:>6.0f}MB {base_s:>5.1f} | {whole:>12.0f}MB"
            )
            shutil.rmtree(work)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    first = results[0]
    print(f"\npeak RSS ratios against the {first[0]}x input (input grows {multiples[-1] / multiples[0]:.0f}x):")
    for multiple, pre, base, whole in results:
        print(
            f"{str(multiple) + 'x':>8}  preprocess {pre / first[1]:.2f}   baseline {base / first[2]:.2f}   "
            f"whole read_csv {whole / first[3]:.2f}   (above the import floor: preprocess "
            f"{(pre - floor) / max(first[1] - floor, 1):.2f}, baseline {(base - floor) / max(first[2] - floor, 1):.2f})"
        )


if __name__ == "__main__":
    main()
