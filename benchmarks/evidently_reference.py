"""Evidently's data-drift report on the benchmark's arrays; runs in its own environment.

Evidently 0.7.x does not import with pandas 3, so the benchmark runs this script with the Python of a
separate virtualenv (pandas < 3, `pip install "evidently==0.7.*" "pandas<3"`), passing the data as .npy files,
and reads one JSON line back: {"seconds": ..., "drifted_columns": ...}.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
import pandas as pd


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("reference", help=".npy of shape (features, rows)")
    parser.add_argument("current", help=".npy of shape (features, rows)")
    args = parser.parse_args()
    from evidently import Report
    from evidently.presets import DataDriftPreset

    ref_arr, cur_arr = np.load(args.reference), np.load(args.current)
    names = [f"f{i}" for i in range(ref_arr.shape[0])]
    ref = pd.DataFrame(ref_arr.T, columns=names)
    cur = pd.DataFrame(cur_arr.T, columns=names)
    start = time.perf_counter()
    snapshot = Report([DataDriftPreset()]).run(current_data=cur, reference_data=ref)
    seconds = time.perf_counter() - start
    summary = snapshot.dict()["metrics"][0]["value"]
    sys.stdout.write(json.dumps({"seconds": seconds, "drifted_columns": summary.get("count")}) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
