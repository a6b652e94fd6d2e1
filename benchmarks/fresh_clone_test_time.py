"""Issue #18 item 9: fresh clone to green `make test`, against a reference commit measured in the same run.

Clones the repository twice into temporary folders (the reference commit and HEAD), runs `make test` in each, one
after the other, exactly as the README writes it, and prints each wall time, pytest's own summary line and the
ratio HEAD / reference. uv's download cache and npm's cache are the machine's (warm after the first run), as on a
developer's machine; each clone builds its own venvs. The shell's environment is passed through unchanged (for
instance PYTHONDONTWRITEBYTECODE, which the Makefile now unexports).

Run from the repository root: `python benchmarks/fresh_clone_test_time.py [--reference COMMIT] [--order ref,head]`.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# main when issue #18's item 9 was taken up in session 6 (5 min 57 s quiet in session 5).
DEFAULT_REFERENCE = "b87abba"


def make_test(commit: str, root: Path) -> tuple[float, int, str]:
    clone = root / commit
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    subprocess.run(["git", "-C", str(clone), "checkout", "-q", commit], check=True)
    started = time.perf_counter()
    done = subprocess.run(["make", "test"], cwd=clone, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    summaries = re.findall(r"^=*\s*(\d+ (?:passed|failed).*? in [\d.]+s.*?)\s*=*$", done.stdout, re.MULTILINE)
    return seconds, done.returncode, " | ".join(summaries)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", default=DEFAULT_REFERENCE)
    parser.add_argument("--order", default="ref,head", help="which clone runs first (ref,head or head,ref)")
    args = parser.parse_args()
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()  # fmt: skip
    commits = {"ref": args.reference, "head": head}
    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else []
    print(f"fresh clone -> `make test`; load average before: {' '.join(load)}")
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="fresh-clone-") as tmp:
        for name in args.order.split(","):
            seconds, code, summary = make_test(commits[name], Path(tmp))
            results[name] = seconds
            print(f"{name:>4} {commits[name]}: {seconds:6.1f} s, exit {code}; {summary}", flush=True)
            if code != 0:
                print(f"{name}: make test failed", file=sys.stderr)
                return 1
    print(f"ratio head / reference: {results['head'] / results['ref']:.2f} (target: head under 180 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
