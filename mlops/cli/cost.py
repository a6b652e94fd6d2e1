"""`mlops cost`: itemised monthly cost estimate of the synthesized architecture, with its assumptions.

Exit codes: 0 success; 2 bad input (missing templates, unknown region or instance type), one line on stderr.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

from mlops.errors import UserError
from mlops.user_input import display_path, dumps, number

# Flags for every usage assumption, named after the Usage field.
_FLAGS = {
    "pipeline_runs_per_month": "pipeline executions per month",
    "job_minutes": "billed minutes per pipeline processing/training job",
    "monitor_job_minutes": "billed minutes per monitoring job",
    "endpoint_scale_out_share": "share of the month the endpoint runs at its maximum count (0-1)",
    "serverless_requests_per_month": "requests per month to a serverless endpoint",
    "serverless_seconds_per_request": "billed seconds per serverless request",
    "lambda_invocations_per_month": "invocations per month of each unscheduled Lambda function",
    "lambda_seconds": "seconds per Lambda invocation",
    "state_machine_executions_per_month": "executions per month of each state machine",
    "s3_gb_per_bucket": "GB stored per bucket",
    "s3_puts_per_bucket": "PUT/LIST requests per bucket per month",
    "feature_rows_per_run": "records written to the online feature store per pipeline run",
    "feature_reads_per_month": "online feature store reads per month",
    "online_store_gb": "GB in the online feature store",
}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "cost",
        help="monthly cost estimate of the synthesized stacks (itemised, with assumptions)",
        description="Price the resources in cdk.out/*.template.json with the instance catalogue and stated usage.",
    )
    parser.add_argument("--cdk-out", type=Path, default=Path("cdk.out"), help="synthesized templates (cdk.out)")
    parser.add_argument("--region", help="price region (default: cdk.json's platform region)")
    parser.add_argument("--catalogue", type=Path, help="price catalogue JSON (default data/instance_catalogue.json)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    from mlops.rightsizing.cost import Usage

    defaults = Usage()
    for name, text in _FLAGS.items():
        flag = "--" + name.replace("_", "-")
        parser.add_argument(
            flag, type=number(0.0), default=getattr(defaults, name), help=f"{text} (default %(default)s)"
        )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from mlops.rightsizing.catalogue import CATALOGUE_PATH, load_catalogue
    from mlops.rightsizing.cost import Usage, estimate, load_templates

    if args.endpoint_scale_out_share > 1:
        raise UserError(f"--endpoint-scale-out-share must be within 0..1, got {args.endpoint_scale_out_share:g}")
    usage = Usage(**{f.name: getattr(args, f.name) for f in fields(Usage)})
    templates = load_templates(args.cdk_out)
    catalogue = load_catalogue(args.catalogue or CATALOGUE_PATH)
    region, fallback = _config_defaults()
    result = estimate(templates, catalogue, args.region or region, usage, fallback)
    data = result.to_dict()
    data["catalogue"] = {
        "path": display_path(catalogue.path),
        "version": catalogue.version,
        "disclaimer": catalogue.disclaimer,
    }
    data["templates"] = str(args.cdk_out)
    if args.json:
        sys.stdout.write(dumps(data) + "\n")
    else:
        sys.stdout.write(render(data) + "\n")
    return 0


def _config_defaults() -> tuple[str, str]:
    """Region and endpoint instance type from cdk.json's platform config (the synthesized app's config)."""
    from mlops.project_config import load_project_config

    config = load_project_config()
    return config.region, config.endpoint_instance_type


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:g}"


def render(d: dict[str, Any]) -> str:
    lines = [f"monthly cost estimate, {d['region']}, from {d['templates']} (USD, 730-hour month)", ""]
    width = max((len(i["resource"]) for i in d["items"]), default=10)
    for i in d["items"]:
        lines.append(f"{i['monthly_usd']:>10,.2f}  {i['item']:<30} {i['resource']:<{width}}  {i['assumption']}")
    lines += [f"{'-' * 10}", f"{d['total_monthly_usd']:>10,.2f}  total", ""]
    if d["unpriced_resources"]:
        counts = ", ".join(f"{t} x{n}" for t, n in d["unpriced_resources"].items())
        lines.append(f"not priced (no standing charge, usage negligible here): {counts}")
    lines.append("assumptions: " + ", ".join(f"{k}={_number(v)}" for k, v in d["usage_assumptions"].items()))
    lines += [f"note: {n}" for n in d["notes"]]
    lines.append(f"prices: {d['catalogue']['path']} v{d['catalogue']['version']}: {d['catalogue']['disclaimer']}")
    return "\n".join(lines)
