"""How long `cdk synth -c delivery=true` (the pipeline stack and every stage) takes offline, against references.

Prints, for a few repetitions each (median, after one warm-up):
- floor: `python -c "import aws_cdk"` (starting the jsii runtime, the least any synth pays);
- direct: `cdk synth --quiet`, the platform's stacks once (what `make synth` does);
- delivery: `cdk synth --quiet -c delivery=true`, as the pipeline's synth step runs it (CDK_VALIDATION=false:
  `make test` has run cfn-lint on every template just before);
- delivery with CDK's built-in CloudFormation validation (the CDK default), for the cost of that choice.

The acceptance bar: the delivery synth under 15 s. Run from the repository root:
`python benchmarks/delivery_synth_benchmark.py` with the project's environment (or `make setup` first).
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
TARGET_SECONDS = 15.0


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
    fast = {**env, "CDK_VALIDATION": "false"}
    load_before = os.getloadavg()[0]  # the machine may be shared: a busy one shows up here, not as a slow synth
    with tempfile.TemporaryDirectory() as out:
        synth = [cdk, "synth", "--quiet", "--output", out]
        floor = median_of([sys.executable, "-c", "import aws_cdk"], env)
        direct = median_of(synth, fast)
        delivery = median_of([*synth, "-c", "delivery=true"], fast)
        validated = median_of([*synth, "-c", "delivery=true"], {**env, "CDK_VALIDATION": "true"})
    load = f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after"
    print(f"machine: {os.cpu_count()} cores, {load}; median of {REPEATS} runs after one warm-up")
    print(f"floor     python -c 'import aws_cdk'                 {floor:6.2f} s")
    print(f"direct    cdk synth (platform stacks once)           {direct:6.2f} s   {direct / floor:5.1f}x floor")
    print(
        f"delivery  cdk synth -c delivery=true                 {delivery:6.2f} s   {delivery / floor:5.1f}x floor, "
        f"{delivery / direct:.1f}x direct"
    )
    print(
        f"delivery  with built-in CFN validation               {validated:6.2f} s   "
        f"{validated / delivery:5.1f}x delivery"
    )
    print(f"target    delivery synth under {TARGET_SECONDS:.0f} s: {'met' if delivery < TARGET_SECONDS else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
