"""Monthly cost vs traffic of the candidate serving configurations, from one real measurement.

Measures the sample model behind the local endpoint (127.0.0.1, bounded), or reuses a saved measurement, then
prints, for a range of average traffic at one p99 SLO, the monthly cost of each candidate (auto-scaled instance
fleets and serverless) and the ratio of the cheapest GPU fleet to the cheapest CPU fleet in the same run.
With --chart it draws the same table as docs/cost_vs_traffic.png (needs matplotlib).

    PYTHONPATH=. python benchmarks/rightsizing_benchmark.py [--p99-ms 300] [--measured FILE] [--chart PNG]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from pathlib import Path

from mlops.cli.rightsize import load_profile
from mlops.rightsizing.capacity import Assumptions, Profile, Traffic, evaluate_instance, evaluate_serverless, recommend
from mlops.rightsizing.catalogue import load_catalogue
from mlops.rightsizing.measure import LoadLimits, measure, sample_model

CANDIDATES = ("ml.t2.medium", "ml.c6i.large", "ml.c6i.2xlarge", "ml.m5.xlarge", "ml.g4dn.xlarge", "ml.g5.xlarge")
TRAFFIC = (0.1, 0.3, 1, 3, 10, 30, 100, 300, 1000, 3000)


def _profile(args: argparse.Namespace) -> Profile:
    if args.measured:
        return load_profile(Path(args.measured))
    with tempfile.TemporaryDirectory(prefix="rightsize-bench-") as tmp:
        model_dir, bodies = sample_model(Path(tmp) / "model")
        profile = measure(model_dir, bodies, LoadLimits(duration_s=args.seconds))
    if args.save_measured:
        Path(args.save_measured).write_text(json.dumps({"measured": profile.to_dict()}, indent=2) + "\n")
    return profile


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--p99-ms", type=float, default=300.0)
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--seconds", type=float, default=4.0, help="seconds per load-test phase")
    parser.add_argument("--measured", help="reuse a saved measurement instead of measuring")
    parser.add_argument("--save-measured", help="write the measurement here (for --measured and the docs)")
    parser.add_argument("--chart", help="write the PNG chart here")
    args = parser.parse_args(argv)

    catalogue = load_catalogue()
    profile = _profile(args)
    assume = Assumptions()
    print(
        f"measured  CPU/request {profile.service_ms:.2f} ms ({profile.per_core_rps:.0f} req/s per core), one at a "
        f"time p99 {profile.base_p99_ms:.1f} ms, parallel efficiency {profile.parallel_efficiency:.2f}"
    )
    print(f"SLO       p99 <= {args.p99_ms:g} ms, peak x2 for 4 h/day, {args.region}; USD per month (- = cannot meet)")
    header = f"{'req/s':>7} " + " ".join(f"{c.removeprefix('ml.'):>13}" for c in CANDIDATES)
    print(f"{header} {'serverless':>11} {'choice':>16} {'GPU/CPU':>8}")
    series: dict[str, list[float]] = {c: [] for c in (*CANDIDATES, "serverless 1 GB")}
    choices = []
    for rps in TRAFFIC:
        traffic = Traffic(rps, args.p99_ms)
        costs = []
        for name in CANDIDATES:
            spec = catalogue.instance(name)
            option = evaluate_instance(spec, catalogue.hourly(name, args.region).usd, profile, traffic, assume)
            costs.append(option.monthly_cost_usd if option.meets_slo else math.nan)
            series[name].append(costs[-1])
        serverless = evaluate_serverless(catalogue, args.region, profile, traffic, assume)
        series["serverless 1 GB"].append(serverless.monthly_cost_usd if serverless.meets_slo else math.nan)
        rec = recommend(catalogue, args.region, profile, traffic, assume)
        choice = rec.choice
        choices.append(choice.monthly_cost_usd if choice else math.nan)
        label = f"{choice.instance_type.removeprefix('ml.')} x{choice.max_instance_count}" if choice else "-"
        gpu = min((o for o in rec.options if o.gpu and o.meets_slo), key=lambda o: o.monthly_cost_usd, default=None)
        ratio = f"{gpu.monthly_cost_usd / choice.monthly_cost_usd:8.1f}" if gpu and choice else f"{'-':>8}"
        cells = " ".join(f"{c:13,.2f}" if c == c else f"{'-':>13}" for c in costs)
        sv = f"{series['serverless 1 GB'][-1]:11,.2f}" if serverless.meets_slo else f"{'-':>11}"
        print(f"{rps:7g} {cells} {sv} {label:>16} {ratio}")
    if args.chart:
        _chart(Path(args.chart), series, choices, profile, args)
        print(f"chart     {args.chart}")
    return 0


def _chart(path: Path, series: dict[str, list[float]], choices: list[float], profile: Profile, args) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8.5, 5.2), dpi=110)
    for name, costs in series.items():
        style = "--" if "serverless" in name else ("-." if name.startswith(("ml.g4dn", "ml.g5")) else "-")
        ax.plot(TRAFFIC, costs, style, marker="o", markersize=3, linewidth=1.4, label=name.removeprefix("ml."))
    ax.plot(TRAFFIC, choices, color="black", linewidth=3, alpha=0.25, label="recommended (cheapest instances)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("average traffic (requests/s; peak = 2x for 4 h/day)")
    ax.set_ylabel("monthly cost (USD, on-demand list prices)")
    ax.set_title(
        f"Cost vs traffic at p99 <= {args.p99_ms:g} ms: sample scikit-learn model, "
        f"{profile.service_ms:.1f} ms CPU/request",
        fontsize=10,
    )
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fig.text(0.01, 0.01, "prices: data/instance_catalogue.json (retrieved 2024-12-01, not live)", fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
