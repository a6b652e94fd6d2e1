"""`mlops rightsize`: measure the model's inference code locally and recommend the cheapest serving config.

Exit codes: 0 a configuration meets the SLO; 1 none does (printed, not an error); 2 bad input (one line naming
the flag or file, raised as UserError and printed by mlops.cli).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

from contracts import serving as modes
from mlops.errors import UserError
from mlops.user_input import check_model_dir, display_path, dumps, number, read_json, read_json_object

EXIT_NO_FIT = 1
BUSY_WARNING = 0.8  # the load test got less than this share of a core: latency figures are inflated


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "rightsize",
        help="load-test the model locally and recommend the cheapest SageMaker serving config for a traffic SLO",
        description="Measure the real inference code behind the local endpoint (127.0.0.1, bounded), then price "
        "every catalogue instance type and serverless for the traffic and latency SLO.",
    )
    parser.add_argument("--rps", type=_POSITIVE, required=True, help="average requests per second")
    parser.add_argument("--p99-ms", type=_POSITIVE, required=True, help="latency SLO: p99 in milliseconds")
    parser.add_argument(
        "--peak-factor", type=number(1.0, 1000.0), default=2.0, help="peak traffic = rps x this (default 2)"
    )
    parser.add_argument(
        "--peak-hours", type=number(0.0, 24.0), default=4.0, help="hours per day at the peak (default 4)"
    )
    parser.add_argument("--region", help="price region (default: the config file's region)")
    parser.add_argument("--model-dir", type=Path, help="model.joblib + model_meta.json (default: the sample model)")
    parser.add_argument("--measured", type=Path, help="reuse a saved measurement (a --json output or its 'measured')")
    parser.add_argument(
        "--gpu-speedup",
        type=number(0.0, 1000.0, low_inclusive=False),
        default=1.0,
        help="measured GPU speedup (default 1: none)",
    )
    parser.add_argument("--parallel-efficiency", type=_fraction, help="override the measured parallel efficiency")
    parser.add_argument("--max-utilisation", type=_fraction, default=0.7, help="headroom: planned busy share (0.7)")
    parser.add_argument("--min-instances", type=int, default=1, help="lowest instance count (default 1)")
    parser.add_argument("--max-instances", type=int, default=100, help="highest instance count (default 100)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent load-test clients (1-16)")
    parser.add_argument("--duration", type=number(0.5, 30.0), default=4.0, help="seconds per load-test phase (0.5-30)")
    parser.add_argument("--max-requests", type=int, default=5000, help="request cap per phase")
    parser.add_argument("--catalogue", type=Path, help="instance catalogue JSON (default data/instance_catalogue.json)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--apply", action="store_true", help="write the choice into the platform config")
    parser.add_argument("--config", type=Path, help="with --apply: a stage file to update instead of cdk.json")
    parser.add_argument("--serverless", action="store_true", help="with --apply: apply serverless when cheaper")
    parser.add_argument(
        "--force", action="store_true", help="with --apply: also lower a stage file's endpoint_min_instances"
    )
    parser.set_defaults(handler=run)


_POSITIVE = number(0.0, low_inclusive=False)
_fraction = number(0.0, 1.0, low_inclusive=False)


def run(args: argparse.Namespace) -> int:
    from mlops.rightsizing.capacity import Assumptions, Traffic, recommend
    from mlops.rightsizing.catalogue import CATALOGUE_PATH, load_catalogue

    _check_args(args)
    catalogue = load_catalogue(args.catalogue or CATALOGUE_PATH)
    config_path = args.config or Path("cdk.json")
    region = args.region or _config_region(config_path) or "us-east-1"
    catalogue.require_region(region)
    profile = _profile(args)
    traffic = Traffic(args.rps, args.p99_ms, args.peak_factor, args.peak_hours)
    assume = Assumptions(
        max_utilisation=min(args.max_utilisation, 0.99),
        min_instances=args.min_instances,
        max_instances=args.max_instances,
    )
    try:
        rec = recommend(catalogue, region, profile, traffic, assume)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    result = _result(rec, profile, traffic, assume, catalogue, region)
    if args.apply:
        result["applied"] = _apply(args, rec, config_path)
    if args.json:
        sys.stdout.write(dumps(result) + "\n")
    else:
        sys.stdout.write(render(result) + "\n")
    return 0 if rec.choice is not None else EXIT_NO_FIT


def _check_args(args: argparse.Namespace) -> None:
    if not 1 <= args.min_instances <= args.max_instances <= 100:
        raise UserError("--min-instances and --max-instances must satisfy 1 <= min <= max <= 100")
    if not 1 <= args.clients <= 16:
        raise UserError(f"--clients must be within 1..16, got {args.clients}")
    if not 10 <= args.max_requests <= 100_000:
        raise UserError(f"--max-requests must be within 10..100000, got {args.max_requests}")
    if args.config is not None and not args.apply:
        raise UserError("--config is only used with --apply")
    if args.serverless and not args.apply:
        raise UserError("--serverless is only used with --apply")
    if args.force and not args.apply:
        raise UserError("--force is only used with --apply")
    if args.measured is not None and args.model_dir is not None:
        raise UserError("--measured and --model-dir exclude each other: a saved measurement names its model")


def _config_region(path: Path) -> str | None:
    from mlops.project_config import cdk_platform_context

    if not path.exists():
        return None  # no config: the default region applies (--apply reports the missing file itself)
    # A stage file names its region at the top; cdk.json in its platform context.
    region = read_json_object(path, "config file").get("region") or cdk_platform_context(path).get("region")
    return region if isinstance(region, str) else None


def _profile(args: argparse.Namespace) -> Any:
    from mlops.rightsizing.measure import LoadLimits, measure, payloads_for, sample_model

    if args.measured is not None:
        return load_profile(args.measured, args.gpu_speedup, args.parallel_efficiency)
    limits = LoadLimits(args.clients, args.duration, args.max_requests, efficiency_seconds=min(1.0, args.duration / 2))
    if args.model_dir is not None:
        check_model_dir(args.model_dir)
        bodies, payload = payloads_for(args.model_dir)
        return measure(args.model_dir, bodies, limits, args.parallel_efficiency, args.gpu_speedup, payload)
    with tempfile.TemporaryDirectory(prefix="rightsize-") as tmp:
        model_dir, bodies = sample_model(Path(tmp) / "model")
        profile = measure(model_dir, bodies, limits, args.parallel_efficiency, args.gpu_speedup)
    profile.details["model_dir"] = "sample model: logistic-regression pipeline fitted on ISLR Default (2,000 rows)"
    return profile


def load_profile(path: Path, gpu_speedup: float = 1.0, efficiency: float | None = None) -> Any:
    """A Profile from a saved `--json` output (its `measured`) or a bare `measured` object."""
    import dataclasses

    from mlops.rightsizing.capacity import Profile

    data = read_json(path, "measurement file")
    data = data.get("measured", data) if isinstance(data, dict) else data
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a JSON object with the measured figures")
    names = {f.name for f in dataclasses.fields(Profile)} - {"details"}
    for key in ("service_ms", "base_p50_ms", "base_p99_ms"):
        value = data.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise UserError(f"{path}: field '{key}' must be a positive number")
    values = {k: data[k] for k in names if k in data}
    if gpu_speedup != 1.0:
        values["gpu_speedup"] = gpu_speedup
    if efficiency is not None:
        values["parallel_efficiency"] = efficiency
    details = {k: v for k, v in data.items() if k not in names and k != "per_core_rps"}
    details["reused_from"] = str(path)
    return Profile(**values, details=details)


def _apply(args: argparse.Namespace, rec: Any, path: Path) -> dict[str, Any]:
    from mlops.rightsizing.apply import apply_platform, current_platform

    if args.serverless and rec.serverless_cheaper:
        s = rec.serverless
        updates: dict[str, Any] = {
            "serving_mode": modes.SERVERLESS,
            "serverless_memory_mb": s.memory_mb,
            "serverless_max_concurrency": s.max_concurrency,
        }
    elif rec.choice is None:
        raise UserError("--apply: no configuration meets the SLO, nothing to write")
    else:
        c = rec.choice
        updates = {
            "serving_mode": modes.REALTIME,
            "endpoint_instance_type": c.instance_type,
            "endpoint_min_instances": c.instance_count,
            "endpoint_max_instances": c.max_instance_count,
            "invocations_per_instance_target": c.invocations_per_instance_target,
        }
    before = current_platform(path)
    changed = apply_platform(path, updates, force=args.force)
    diff = {key: {"from": before.get(key), "to": value} for key, value in changed.items()}
    return {"file": str(path), "values": updates, "changed": sorted(changed), "diff": diff}


def _result(rec: Any, profile: Any, traffic: Any, assume: Any, catalogue: Any, region: str) -> dict[str, Any]:
    choice = rec.choice
    dates = sorted({p.retrieved for spec in catalogue.instances.values() for p in spec.prices.values()})
    best_per_family: dict[str, Any] = {}
    for option in sorted((o for o in rec.options if o.meets_slo), key=lambda o: o.monthly_cost_usd):
        best_per_family.setdefault(option.instance_type.split(".")[1], option)
    return {
        "instance_type": choice.instance_type if choice else None,
        "instance_count": choice.instance_count if choice else None,
        "max_instance_count": choice.max_instance_count if choice else None,
        "invocations_per_instance_target": choice.invocations_per_instance_target if choice else None,
        "gpu": choice.gpu if choice else False,
        "monthly_cost_usd": round(choice.monthly_cost_usd, 2) if choice else None,
        "predicted_p99_ms": round(choice.predicted_p99_ms, 2) if choice else None,
        "meets_slo": choice is not None,
        "gpu_reason": rec.gpu_reason,
        "serverless": {**rec.serverless.to_dict(), "cheaper": rec.serverless_cheaper},
        "region": region,
        "traffic": {
            "rps": traffic.rps,
            "peak_factor": traffic.peak_factor,
            "peak_rps": traffic.peak_rps,
            "peak_hours_per_day": traffic.peak_hours_per_day,
            "p99_ms": traffic.p99_ms,
        },
        "measured": profile.to_dict(),
        "assumptions": {
            **assume.to_dict(),
            "workers_per_instance": "one model-server worker per vCPU (the scikit-learn container's default)",
            "per_core_speed": "every ml.* family's core taken as fast as this machine's (not measured there)",
            "gpu": "a GPU instance counts as the CPU capacity of its vCPUs unless --gpu-speedup is given",
            "inferentia": "inf2 counts as CPU only: scikit-learn models cannot be compiled for Inferentia",
            "queueing": "M/M/c (Erlang C) wait added to the unloaded p99; conservative for steady service times",
            "month_hours": 730,
        },
        "candidates": [o.to_dict() for o in best_per_family.values()],
        "rejected": {o.instance_type: o.reason for o in rec.options if not o.meets_slo},
        "catalogue": {
            "path": display_path(catalogue.path),
            "version": catalogue.version,
            "retrieved": dates,
            "disclaimer": catalogue.disclaimer,
        },
    }


def _num(value: Any) -> str:
    return f"{value:.1f}" if isinstance(value, int | float) else "?"


def render(r: dict[str, Any]) -> str:
    m, t, s = r["measured"], r["traffic"], r["serverless"]
    lines = [
        f"measured    {m.get('model_dir', 'model')} on {m.get('host', 'this machine')}",
        f"            one at a time: p50 {m['base_p50_ms']:.1f} ms, p99 {m['base_p99_ms']:.1f} ms; "
        f"{m.get('loaded_clients', '?')} clients: {m.get('loaded_throughput_rps', '?')} req/s, "
        f"p99 {_num(m.get('loaded_p99_ms'))} ms",
        f"            CPU per request {m['service_ms']:.2f} ms = {m['per_core_rps']:.0f} req/s per core; "
        f"parallel efficiency {m['parallel_efficiency']:.2f} ({m.get('parallel_efficiency_source', 'saved')})",
    ]
    busy = m.get("loaded_cpu_busy")
    # Under concurrent load the process should keep about a core busy; much less means other processes (or waits
    # in the network stack) stretched the measured latencies.
    if isinstance(busy, int | float) and busy < BUSY_WARNING:
        lines.append(
            f"warning     under load the process used only {busy:.2f} of a core (a busy machine or network waits): "
            "latencies are inflated, so the recommendation errs on the safe side"
        )
    lines += [
        f"traffic     {t['rps']:g} req/s average, peak {t['peak_rps']:g} req/s (x{t['peak_factor']:g}) for "
        f"{t['peak_hours_per_day']:g} h/day; SLO p99 <= {t['p99_ms']:g} ms; region {r['region']}",
    ]
    if r["instance_type"]:
        lines.append(
            f"choice      {r['instance_type']} x {r['instance_count']} (auto scaling {r['instance_count']}.."
            f"{r['max_instance_count']}, target {r['invocations_per_instance_target']} invocations/instance/minute): "
            f"${r['monthly_cost_usd']:,.2f}/month, predicted p99 at the peak {r['predicted_p99_ms']:.1f} ms"
        )
    else:
        lines.append("choice      none: no instance configuration meets the SLO")
    lines.append(f"gpu         {r['gpu_reason']}")
    if s["meets_slo"]:
        verdict = "cheaper: consider serving_mode=serverless" if s["cheaper"] else "not cheaper"
        lines.append(
            f"serverless  {s['memory_mb']} MB, max concurrency {s['max_concurrency']}: ${s['monthly_cost_usd']:,.2f}"
            f"/month, p99 {s['predicted_p99_ms']:.0f} ms: {verdict} (no data capture on serverless: drift "
            "monitoring then has no input)"
        )
    else:
        lines.append(f"serverless  does not fit: {s['reason']}")
    lines.append("candidates  cheapest per family that meets the SLO:")
    for c in r["candidates"]:
        lines.append(
            f"            {c['instance_type']:<17} {c['vcpu']:>3} vCPU  "
            f"x{c['instance_count']}..{c['max_instance_count']:<3}"
            f" ${c['monthly_cost_usd']:>10,.2f}/month  p99 {c['predicted_p99_ms']:7.1f} ms"
            f"{'  GPU' if c['gpu'] else ''}"
        )
    a = r["assumptions"]
    lines += [
        f"assumptions planned utilisation <= {a['max_utilisation']:.0%}; +{a['network_overhead_ms']:g} ms network; "
        f"{a['workers_per_instance']}; {a['per_core_speed']}; {a['gpu']}; {a['inferentia']}; {a['queueing']}; "
        "730-hour month",
        f"prices      {r['catalogue']['path']} v{r['catalogue']['version']}, retrieved "
        f"{', '.join(r['catalogue']['retrieved'])}: list prices, not live; refresh them before a real decision",
    ]
    if "applied" in r:
        ap = r["applied"]
        values = ", ".join(f"{k}={v}" for k, v in ap["values"].items())
        lines.append(f"applied     {ap['file']} platform: {values}")
        lines += [f"            {key}: {d['from']} -> {d['to']}" for key, d in ap["diff"].items()]
    return "\n".join(lines)
