"""Issue #16's acceptance on four seeds: `mlops demo --json` on the default seed (7) and three others.

For each seed, a fresh process as a user starts it, then one table row: when the drift began, when the accuracy
alarm (ground truth, `label_delay` steps late) and the estimated-accuracy alarm fired, when retraining started and
which alarms started it, the champion's and the new model's served accuracy on the drifted traffic with their 95%
Wilson intervals, whether the intervals are apart, failed requests, alarms on features the story does not move,
and the wall time. Reference measured in the same run: `python -c "import aws_cdk"` (the floor any synth pays).

Run from the repository root: `python benchmarks/demo_story_seeds.py [--fast] [--seeds 7,1,2,3]`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mlops.twin.story.traffic import UNSHIFTED_FEATURES  # noqa: E402


def run(command: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, env=env, check=False, capture_output=True, text=True)
    return time.perf_counter() - started, done


def served(value: dict[str, Any] | None) -> str:
    if not value:
        return "-"
    return f"{value['accuracy']:.3f} [{value['ci95'][0]:.3f},{value['ci95'][1]:.3f}] n={value['requests']}"


def row(seed: int, seconds: float, result: dict[str, Any]) -> tuple[str, bool]:
    champion, new_model = result["champion_served_accuracy"], result["new_model_served_accuracy"]
    apart = bool(champion and new_model and champion["ci95"][1] < new_model["ci95"][0])
    quiet = not [a for a in result["alarms"] if a["feature"] in UNSHIFTED_FEATURES]
    warned = [s for s in (result["accuracy_alarm_step"], result["estimated_accuracy_alarm_step"]) if s]
    started = result["retraining_started_step"]
    in_order = bool(warned and started and result["drift_started_step"] <= min(warned) <= started)
    ok = bool(
        result["completed"] and apart and quiet and in_order and new_model
        and new_model["accuracy"] > result["min_accuracy"] and result["failed_requests"] == 0
    )  # fmt: skip
    trigger = ",".join(name.removeprefix("Mlops-monitoring-")[:26] for name in result["retraining_trigger"]) or "-"
    text = (
        f"{seed:>4} {result['drift_started_step']:>5} {result['accuracy_alarm_step'] or '-':>5} "
        f"{result['estimated_accuracy_alarm_step'] or '-':>5} {started or '-':>5}  {trigger:<40} "
        f"{served(champion):<32} {served(new_model):<32} {'yes' if apart else 'NO':<5} {result['failed_requests']:>6} "
        f"{'yes' if quiet else 'NO':<6} {seconds:6.1f}  {'ok' if ok else 'FAILED'}"
    )
    return text, ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="run `mlops demo --fast` (CI's size)")
    parser.add_argument("--seeds", default="7,1,2,3", help="comma-separated seeds (default 7,1,2,3)")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20", "SAGEMAKER_SUPPRESS_V2_WARNING": "1"}
    env["CDK_VALIDATION"] = "false"
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    mlops = [sys.executable, "-c", "import sys; from mlops.cli.main import main; sys.exit(main(sys.argv[1:]))"]
    floor, _ = run([sys.executable, "-c", "import aws_cdk"], env)
    mode = ["--fast"] if args.fast else []
    print(
        f"`mlops demo {' '.join([*mode, '--json'])}` per seed (A_min from each run's JSON); "
        f"floor (import aws_cdk) {floor:.1f} s"
    )
    print(f"{'seed':>4} {'drift':>5} {'acc':>5} {'est':>5} {'retr':>5}  {'retraining trigger':<40} "
          f"{'champion served accuracy':<32} {'new model served accuracy':<32} {'apart':<5} {'failed':>6} "
          f"{'quiet':<6} {'wall s':>6}")  # fmt: skip
    failures = 0
    with tempfile.TemporaryDirectory(prefix="demo-seeds-") as scratch:
        for seed in seeds:
            out = Path(scratch) / f"seed-{seed}"
            seconds, done = run([*mlops, "demo", *mode, "--seed", str(seed), "--json", "--out", str(out)], env)
            lines = done.stdout.strip().splitlines()
            if done.returncode not in (0, 1) or not lines:
                print(f"{seed:>4} exited {done.returncode}: {done.stderr.strip().splitlines()[-1:]}")
                failures += 1
                continue
            result = json.loads(lines[-1])
            text, ok = row(seed, seconds, result)
            print(text, flush=True)
            if not ok:
                failures += 1
                print(f"     reasons: {result['reasons']}")
    print(f"{len(seeds) - failures}/{len(seeds)} seeds meet the acceptance; wall times are of this machine, now")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
