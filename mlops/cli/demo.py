"""`mlops demo`: the whole loop in the offline twin, with progress on stderr and a drift report.

Exit codes: 0 the story completed; 1 it did not (the reasons on stderr, and in the JSON); 2 bad input, one line
naming the option (raised as UserError, printed by mlops.cli).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from mlops.errors import UserError
from mlops.twin.story import defaults
from mlops.user_input import dumps, output_dir

EXIT_INCOMPLETE = 1
DEFAULT_OUT = Path(".mlops/demo")
MIN_STEPS, MAX_STEPS = 4, 200
MAX_BALANCE_INCREASE = 5000.0  # the data's balances reach ~2,650: more than this is no longer the same market
MAX_LABEL_DELAY = 12  # the drift function joins ground truth with predictions of its 24 h lookback (1 h steps)


def register(groups: argparse._SubParsersAction) -> None:
    demo = groups.add_parser("demo", help="the whole loop offline: train, serve, drift, alarm, retrain, redeploy")
    demo.add_argument("--seed", type=int, default=7, help="seed of the traffic and the drift story (default 7)")
    demo.add_argument("--steps", type=int, default=None, help="time steps of one drift-check period (12; --fast 8)")
    demo.add_argument(
        "--drift-share", type=float, default=defaults.DRIFT_SHARE, help="income rises by this share (0.4: x1.4)"
    )
    demo.add_argument(
        "--balance-increase",
        type=float,
        default=defaults.BALANCE_INCREASE,
        help=f"every balance rises by this much at unchanged risk (default {defaults.BALANCE_INCREASE:g}; 0: none)",
    )
    demo.add_argument(
        "--label-delay",
        type=int,
        default=defaults.LABEL_DELAY,
        help=f"steps until a request's ground truth arrives (default {defaults.LABEL_DELAY}; 0: at once)",
    )
    demo.add_argument("--out", type=Path, default=DEFAULT_OUT, help="a run folder per invocation is made in here")
    demo.add_argument("--fast", action="store_true", help="fewer steps and requests (CI)")
    demo.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    demo.set_defaults(handler=_run)


def _validate(args: argparse.Namespace) -> None:
    if args.seed < 0:
        raise UserError(f"--seed: must be >= 0 (got {args.seed})")
    if args.steps is not None and not MIN_STEPS <= args.steps <= MAX_STEPS:
        raise UserError(f"--steps: must be between {MIN_STEPS} and {MAX_STEPS} (got {args.steps})")
    if not (math.isfinite(args.drift_share) and 0.05 <= args.drift_share <= 5.0):
        raise UserError(f"--drift-share: must be between 0.05 and 5 (got {args.drift_share})")
    if not (math.isfinite(args.balance_increase) and 0.0 <= args.balance_increase <= MAX_BALANCE_INCREASE):
        raise UserError(
            f"--balance-increase: must be between 0 and {MAX_BALANCE_INCREASE:g} (got {args.balance_increase:g})"
        )
    if not 0 <= args.label_delay <= MAX_LABEL_DELAY:
        raise UserError(f"--label-delay: must be between 0 and {MAX_LABEL_DELAY} (got {args.label_delay})")
    output_dir(args.out, "--out")


def _run(args: argparse.Namespace) -> int:
    _validate(args)
    from mlops.twin.story.demo import DemoError, DemoSettings, run_demo, stderr_progress
    from mlops.twin.story.report import timeline_lines

    settings = DemoSettings.for_run(
        args.out,
        seed=args.seed,
        steps=args.steps,
        drift_share=args.drift_share,
        balance_increase=args.balance_increase,
        fast=args.fast,
        label_delay=args.label_delay,
    )
    try:
        result = run_demo(settings, stderr_progress)
    except DemoError as exc:
        print(f"mlops demo: {exc}", file=sys.stderr)
        return EXIT_INCOMPLETE
    for line in timeline_lines(result):
        print(line)
    if not result.completed:
        print(f"mlops demo: the story did not complete: {'; '.join(result.reasons)}", file=sys.stderr)
    if args.json:
        print(dumps(result.to_json()))
    return 0 if result.completed else EXIT_INCOMPLETE
