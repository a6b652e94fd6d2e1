"""How long `mlops demo` takes end to end (`--fast` as CI runs it, and the default as `make demo` runs it).

Each run is a fresh process, as a user starts it: import, synth of the twin's assembly, the first pipeline run,
the replay with its retraining, the report. References measured in the same run:
- floor: `python -c "import aws_cdk"` (the jsii runtime start that any synth pays);
- one `mlops pipeline run` on the same data (the demo runs the pipeline twice, plus everything around it).
The budget of `make demo` (once `make setup` has run) is 2 minutes on the project's 2-core machine.

Run from the repository root with the project's environment: `python benchmarks/demo_benchmark.py [--fast-only]`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BUDGET_S = 120.0


def timed(command: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, env=env, check=False, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):
        sys.stderr.write(done.stderr[-3000:])
        raise SystemExit(f"{' '.join(command[:4])}... exited {done.returncode}")
    return seconds, done.stdout


def main() -> int:
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20", "SAGEMAKER_SUPPRESS_V2_WARNING": "1"}
    env["CDK_VALIDATION"] = "false"
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    python = sys.executable
    mlops = [python, "-m", "mlops.cli"]  # the `mlops` entry point
    with tempfile.TemporaryDirectory(prefix="demo-bench-") as scratch:
        root = Path(scratch)
        floor, _ = timed([python, "-c", "import aws_cdk"], env)
        data = root / "credit.csv"
        timed([*mlops, "data", "export", "--out", str(data)], env)
        pipeline, _ = timed(
            [*mlops, "pipeline", "run", "--data", str(data), "--target", "default",
             "--out", str(root / "pipeline"), "--tracking-uri", ""],
            env,
        )  # fmt: skip
        print(f"floor (import aws_cdk)          {floor:6.1f} s")
        print(f"one `mlops pipeline run`        {pipeline:6.1f} s")
        modes = [["--fast"]] if "--fast-only" in sys.argv else [["--fast"], []]
        for mode in modes:
            seconds, stdout = timed([*mlops, "demo", *mode, "--json", "--out", str(root / "demo")], env)
            result = json.loads(stdout.strip().splitlines()[-1])
            label = "`" + " ".join(["mlops", "demo", *mode]) + "`"
            ratios = f"{seconds / floor:5.1f}x floor, {seconds / pipeline:4.1f}x one pipeline run"
            print(
                f"{label:<32}{seconds:6.1f} s  = {ratios}, {seconds / BUDGET_S:4.0%} of the {BUDGET_S:.0f} s budget;"
                f" completed={result['completed']},"
                f" steps={result['steps']}, requests={result['requests']}, failed={result['failed_requests']}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
