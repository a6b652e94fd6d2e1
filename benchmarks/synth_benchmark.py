"""How long `cdk synth` of all stacks takes offline, against references measured in the same run.

Prints, for a few repetitions each (median):
- floor: `python -c "import aws_cdk"` (starting the jsii runtime, the least any synth pays);
- synth: `cdk synth --quiet` as `make synth` runs it (CDK_VALIDATION=false; cfn-lint runs in the tests instead);
- synth with CDK's built-in CloudFormation validation (the CDK default), for the cost of that choice.

Run from the repository root with the project's environment: `make bench`.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REPEATS = 3


def timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=REPO, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def median_of(command: list[str], env: dict[str, str]) -> float:
    timed(command, env)  # warm the file cache and the .build staging once
    return statistics.median(timed(command, env) for _ in range(REPEATS))


def main() -> int:
    cdk = shutil.which("cdk") or str(REPO / "node_modules" / ".bin" / "cdk")
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20", "SAGEMAKER_SUPPRESS_V2_WARNING": "1"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    with tempfile.TemporaryDirectory() as out:
        synth = [cdk, "synth", "--quiet", "--output", out]
        floor = median_of([sys.executable, "-c", "import aws_cdk"], env)
        fast = median_of(synth, {**env, "CDK_VALIDATION": "false"})
        full = median_of(synth, {**env, "CDK_VALIDATION": "true"})
    print(f"machine: {os.cpu_count()} cores; median of {REPEATS} runs after one warm-up")
    print(f"floor   python -c 'import aws_cdk'            {floor:6.2f} s")
    print(f"synth   cdk synth, all stacks (make synth)    {fast:6.2f} s   {fast / floor:5.1f}x floor")
    print(
        f"synth   with built-in CFN validation          {full:6.2f} s   {full / floor:5.1f}x floor, "
        f"{full / fast:.1f}x synth"
    )
    print(f"target  synth under 10 s: {'met' if fast < 10 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
