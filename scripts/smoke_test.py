#!/usr/bin/env python3
"""Post-deploy smoke test of one stage, run by the delivery pipeline in CodeBuild right after the stage deploys.

Reads everything from environment variables (the pipeline fills them from the stage's stack outputs):
- PIPELINE_NAME: the SageMaker Pipeline; it must be Active.
- ENDPOINT_NAME: the endpoint; it must reach InService and answer a CSV sample with one `label,probability` line
  per row, probabilities in [0, 1]. Checked when set, unless DEPLOYED_MODEL_PACKAGE_ARN says no model is deployed
  yet ("none": the stage has no approved model, so there is no endpoint) and REQUIRE_ENDPOINT is not "true".
- STAGE_REGION: the stage's region (default: the session's); SMOKE_TEST_ROLE_ARN: a role in the stage's account
  to assume first (the stage creates it; the pipeline may run in another account).
- SAMPLE_PAYLOAD_FILE (default: smoke_payload.csv next to this script), WAIT_SECONDS (default 900).

Exit codes: 0 healthy; 1 a check failed; 2 bad input (nothing to check, unreadable payload), one line on stderr.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from botocore.exceptions import BotoCoreError, ClientError

DEFAULT_PAYLOAD = Path(__file__).resolve().with_name("smoke_payload.csv")
NO_MODEL = "none"  # the serving stack's DeployedModelPackageArn before any model is approved
WAITING = frozenset({"Creating", "Updating", "SystemUpdating", "RollingBack"})
POLL_SECONDS = 30.0


class UsageError(ValueError):
    """Bad input to the smoke test itself (not an unhealthy stage)."""


class CheckFailed(RuntimeError):
    """The stage is not healthy; the message says what was seen."""


@dataclass(frozen=True)
class Settings:
    pipeline_name: str | None
    endpoint_name: str | None
    payload: str
    region: str | None
    role_arn: str | None
    wait_seconds: float

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        pipeline = env.get("PIPELINE_NAME") or None
        endpoint = env.get("ENDPOINT_NAME") or None
        no_model = env.get("DEPLOYED_MODEL_PACKAGE_ARN") == NO_MODEL
        if endpoint and no_model and env.get("REQUIRE_ENDPOINT", "").lower() != "true":
            endpoint = None  # nothing approved yet: the serving stack has no endpoint to check
        if not pipeline and not endpoint and not no_model:
            raise UsageError("set PIPELINE_NAME and/or ENDPOINT_NAME (the stage's stack outputs)")
        payload_file = Path(env.get("SAMPLE_PAYLOAD_FILE") or DEFAULT_PAYLOAD)
        try:
            payload = payload_file.read_text()
        except OSError as exc:
            raise UsageError(f"SAMPLE_PAYLOAD_FILE {payload_file}: {exc.strerror}") from None
        if not _rows(payload):
            raise UsageError(f"SAMPLE_PAYLOAD_FILE {payload_file}: no CSV rows")
        try:
            wait = float(env.get("WAIT_SECONDS") or 900)
        except ValueError:
            raise UsageError(f"WAIT_SECONDS: not a number: {env['WAIT_SECONDS']!r}") from None
        return cls(pipeline, endpoint, payload, env.get("STAGE_REGION") or None, env.get("SMOKE_TEST_ROLE_ARN"), wait)


def check_pipeline(sagemaker: Any, name: str) -> str:
    status = sagemaker.describe_pipeline(PipelineName=name)["PipelineStatus"]
    if status != "Active":
        raise CheckFailed(f"pipeline {name}: status {status}, expected Active")
    return f"pipeline {name}: Active"


def wait_in_service(sagemaker: Any, name: str, wait_seconds: float, sleep: Callable[[float], None] = time.sleep) -> str:
    """Wait while the endpoint is being created or updated (a deploy may still be rolling out); fail otherwise."""
    waited = 0.0
    while True:
        endpoint = sagemaker.describe_endpoint(EndpointName=name)
        status = endpoint["EndpointStatus"]
        if status == "InService":
            return f"endpoint {name}: InService"
        if status not in WAITING:
            reason = endpoint.get("FailureReason", "")
            raise CheckFailed(f"endpoint {name}: status {status}{', ' + reason if reason else ''}")
        if waited >= wait_seconds:
            raise CheckFailed(f"endpoint {name}: still {status} after {wait_seconds:.0f} s")
        sleep(POLL_SECONDS)
        waited += POLL_SECONDS


def check_invocation(runtime: Any, name: str, payload: str) -> str:
    """The sample rows in, one `label,probability` line per row out (pipeline_code/inference.py's CSV format)."""
    response = runtime.invoke_endpoint(EndpointName=name, ContentType="text/csv", Accept="text/csv", Body=payload)
    body = response["Body"].read().decode("utf-8")
    lines = _rows(body)
    expected = len(_rows(payload))
    if len(lines) != expected:
        raise CheckFailed(f"endpoint {name}: {len(lines)} predictions for {expected} rows: {body[:200]!r}")
    for line in lines:
        label, _, probability = line.partition(",")
        try:
            ok = bool(label) and 0.0 <= float(probability) <= 1.0
        except ValueError:
            ok = False
        if not ok:
            raise CheckFailed(f"endpoint {name}: not a 'label,probability' line: {line!r}")
    return f"endpoint {name}: {expected} rows -> {expected} predictions"


def run(
    settings: Settings, sagemaker: Any, runtime: Any, out: TextIO, sleep: Callable[[float], None] = time.sleep
) -> int:
    checks: list[Callable[[], str]] = []
    if settings.pipeline_name:
        checks.append(lambda: check_pipeline(sagemaker, settings.pipeline_name or ""))
    if settings.endpoint_name:
        endpoint = settings.endpoint_name
        checks.append(lambda: wait_in_service(sagemaker, endpoint, settings.wait_seconds, sleep))
        checks.append(lambda: check_invocation(runtime, endpoint, settings.payload))
    else:
        out.write("skip   endpoint: no approved model deployed in this stage yet\n")
    for check in checks:
        try:
            out.write(f"ok     {check()}\n")
        except (CheckFailed, ClientError, BotoCoreError) as exc:  # an API error (no such endpoint, denied) fails too
            out.write(f"FAILED {exc}\n")
            return 1
    return 0


def clients(settings: Settings) -> tuple[Any, Any]:
    """SageMaker control-plane and runtime clients in the stage's account (through its smoke-test role)."""
    import boto3

    session = boto3.Session(region_name=settings.region)
    if settings.role_arn:
        credentials = session.client("sts").assume_role(RoleArn=settings.role_arn, RoleSessionName="smoke-test")[
            "Credentials"
        ]
        session = boto3.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            region_name=settings.region,
        )
    return session.client("sagemaker"), session.client("sagemaker-runtime")


def main(env: Mapping[str, str] | None = None) -> int:
    try:
        settings = Settings.from_env(os.environ if env is None else env)
    except UsageError as exc:
        sys.stderr.write(f"smoke test: {exc}\n")
        return 2
    sagemaker, runtime = clients(settings)
    return run(settings, sagemaker, runtime, sys.stdout)


def _rows(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


if __name__ == "__main__":
    raise SystemExit(main())
