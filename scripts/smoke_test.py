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
- serving_mode "triton" (serving and data stack outputs set these): TRITON_LIVE_MODEL_PARAMETER, the SSM parameter the
  deploy function writes with the live TargetModel, and TRITON_MODEL_URL, the endpoint's archive prefix. The
  endpoint exists before any approval, so it must be InService in every state; with a live model, the sample rows
  are encoded with that model's feature_encoding.json (read from its archive, `triton_repository.encode_record`)
  and sent as a KServe v2 body with `TargetModel=<live model>`, and the answer must be `outputs[0]` `output__0`
  with one probability per row (one per class for a multi-class model) in [0, 1]. With no live model yet
  ("none") the invocation is reported as skipped, like the other modes before the first approval.

Exit codes: 0 healthy; 1 a check failed; 2 bad input (nothing to check, unreadable payload), one line on stderr.
"""

from __future__ import annotations

import io
import json
import math
import os
import sys
import tarfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from botocore.exceptions import BotoCoreError, ClientError

from contracts import serving as modes
from contracts.sentinels import NONE as NO_MODEL  # DeployedModelPackageArn before any model is approved

DEFAULT_PAYLOAD = Path(__file__).resolve().with_name("smoke_payload.csv")
REPO = Path(__file__).resolve().parents[1]  # pipeline_code.triton_repository (standard library only)
ENCODING_FILE = "feature_encoding.json"
WAITING = frozenset({"Creating", "Updating", "SystemUpdating", "RollingBack"})
POLL_SECONDS = 30.0


class UsageError(ValueError):
    """Bad input to the smoke test itself (not an unhealthy stage)."""


class CheckFailed(RuntimeError):
    """The stage is not healthy; the message says what was seen."""


class Skipped(RuntimeError):
    """A check that does not apply yet (reported as skipped, not failed)."""


@dataclass(frozen=True)
class Settings:
    pipeline_name: str | None
    endpoint_name: str | None
    payload: str
    region: str | None
    role_arn: str | None
    wait_seconds: float
    triton_live_model_parameter: str | None = None
    triton_model_url: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        pipeline = env.get("PIPELINE_NAME") or None
        endpoint = env.get("ENDPOINT_NAME") or None
        no_model = env.get("DEPLOYED_MODEL_PACKAGE_ARN") == NO_MODEL
        live_parameter = env.get("TRITON_LIVE_MODEL_PARAMETER") or None
        model_url = env.get("TRITON_MODEL_URL") or None
        if bool(live_parameter) != bool(model_url):
            raise UsageError(
                f"set both TRITON_LIVE_MODEL_PARAMETER and TRITON_MODEL_URL (serving_mode '{modes.TRITON}')"
            )
        if model_url and not model_url.startswith("s3://"):
            raise UsageError(f"TRITON_MODEL_URL: not an s3:// URL: {model_url!r}")
        # A Triton endpoint exists before the first approval: checked in every state (its live model may be "none").
        if endpoint and no_model and not live_parameter and env.get("REQUIRE_ENDPOINT", "").lower() != "true":
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
        region, role = env.get("STAGE_REGION") or None, env.get("SMOKE_TEST_ROLE_ARN")
        return cls(pipeline, endpoint, payload, region, role, wait, live_parameter, model_url)

    @property
    def triton(self) -> bool:
        return self.triton_live_model_parameter is not None


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


def live_target_model(ssm: Any, parameter: str) -> str:
    """The Triton endpoint's live TargetModel; Skipped while it is "none" (nothing approved yet)."""
    value = str(ssm.get_parameter(Name=parameter)["Parameter"]["Value"])
    if value == NO_MODEL:
        raise Skipped(f"no live Triton model yet ({parameter} is '{NO_MODEL}')")
    return value


def read_encoding(s3: Any, model_url: str, target_model: str) -> dict[str, Any]:
    """feature_encoding.json of the live archive `<model_url>/<target_model>` (one Triton model directory)."""
    bucket, _, prefix = model_url[len("s3://") :].partition("/")
    key = f"{prefix.strip('/')}/{target_model}" if prefix.strip("/") else target_model
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    try:
        with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as archive:
            for member in archive.getmembers():
                if member.isfile() and member.name.count("/") == 1 and member.name.endswith(f"/{ENCODING_FILE}"):
                    handle = archive.extractfile(member)
                    if handle is not None:
                        return dict(json.loads(handle.read()))
    except (tarfile.TarError, OSError, ValueError) as exc:
        raise CheckFailed(f"s3://{bucket}/{key}: not a readable Triton archive ({exc})") from None
    raise CheckFailed(f"s3://{bucket}/{key}: no <model>/{ENCODING_FILE} in the archive")


def triton_request(encoding: dict[str, Any], payload: str) -> tuple[str, int]:
    """The sample CSV rows (in the model's feature order) as a KServe v2 body of encoded features; (body, rows)."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from pipeline_code.triton_repository import encode_record

    names = [feature["name"] for feature in encoding["features"]]
    vectors = []
    for line in _rows(payload):
        values = line.split(",")
        if len(values) != len(names):
            raise CheckFailed(f"sample row {line!r}: {len(values)} values, the live model has {len(names)} features")
        vector = encode_record(encoding, dict(zip(names, values, strict=True)))
        if any(math.isnan(v) for v in vector):
            # JSON has no NaN: a sample row must not have missing values or categories unseen in training
            raise CheckFailed(f"sample row {line!r} encodes to a missing value (NaN) for the live model")
        vectors.append(vector)
    tensor = {"name": encoding["input"]["name"], "datatype": "FP32", "shape": [len(vectors), len(names)]}
    return json.dumps({"inputs": [{**tensor, "data": vectors}]}), len(vectors)


def check_triton_response(name: str, encoding: dict[str, Any], body: str, rows: int) -> str:
    """`outputs[0]` is the encoding's output tensor with one probability per row (per class) in [0, 1]."""
    try:
        output = json.loads(body)["outputs"][0]
    except (ValueError, KeyError, IndexError, TypeError):
        raise CheckFailed(f"endpoint {name}: no outputs[0] in the answer: {body[:200]!r}") from None
    expected = encoding["output"]["name"]
    width = int(encoding["output"]["shape"][1])
    if not isinstance(output, dict) or output.get("name") != expected:
        raise CheckFailed(f"endpoint {name}: outputs[0] is not '{expected}': {body[:200]!r}")
    if output.get("shape") != [rows, width]:
        raise CheckFailed(f"endpoint {name}: '{expected}' has shape {output.get('shape')}, expected {[rows, width]}")
    values = _flat(output.get("data"))
    if len(values) != rows * width:
        raise CheckFailed(f"endpoint {name}: {len(values)} values in '{expected}' for {rows} rows")
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
            raise CheckFailed(f"endpoint {name}: '{expected}' value {value!r} is not a probability in [0, 1]")
    return f"endpoint {name}: {rows} rows -> {rows} probabilities ('{expected}')"


def check_triton_invocation(
    ssm: Any, s3: Any, runtime: Any, name: str, parameter: str, model_url: str, payload: str
) -> str:
    """The live model (TargetModel) answers the sample rows, encoded as training encoded them."""
    target = live_target_model(ssm, parameter)
    encoding = read_encoding(s3, model_url, target)
    body, rows = triton_request(encoding, payload)
    response = runtime.invoke_endpoint(
        EndpointName=name, TargetModel=target, ContentType="application/json", Accept="application/json", Body=body
    )
    answer = response["Body"].read().decode("utf-8")
    return check_triton_response(name, encoding, answer, rows) + f" from TargetModel {target}"


def run(
    settings: Settings,
    sagemaker: Any,
    runtime: Any,
    out: TextIO,
    sleep: Callable[[float], None] = time.sleep,
    ssm: Any = None,
    s3: Any = None,
) -> int:
    checks: list[Callable[[], str]] = []
    if settings.pipeline_name:
        checks.append(lambda: check_pipeline(sagemaker, settings.pipeline_name or ""))
    if settings.endpoint_name:
        endpoint = settings.endpoint_name
        checks.append(lambda: wait_in_service(sagemaker, endpoint, settings.wait_seconds, sleep))
        if settings.triton:
            parameter, url = settings.triton_live_model_parameter or "", settings.triton_model_url or ""
            checks.append(lambda: check_triton_invocation(ssm, s3, runtime, endpoint, parameter, url, settings.payload))
        else:
            checks.append(lambda: check_invocation(runtime, endpoint, settings.payload))
    else:
        out.write("skip   endpoint: no approved model deployed in this stage yet\n")
    for check in checks:
        try:
            out.write(f"ok     {check()}\n")
        except Skipped as exc:
            out.write(f"skip   endpoint {settings.endpoint_name}: {exc}\n")
        except (CheckFailed, ClientError, BotoCoreError) as exc:  # an API error (no such endpoint, denied) fails too
            out.write(f"FAILED {exc}\n")
            return 1
    return 0


def clients(settings: Settings) -> tuple[Any, Any]:
    """SageMaker control-plane and runtime clients in the stage's account (through its smoke-test role)."""
    session = _session(settings)
    return session


def _session(settings: Settings) -> Any:
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
    return session


def main(env: Mapping[str, str] | None = None) -> int:
    try:
        settings = Settings.from_env(os.environ if env is None else env)
    except UsageError as exc:
        sys.stderr.write(f"smoke test: {exc}\n")
        return 2
    session = _session(settings)
    sagemaker, runtime = session.client("sagemaker"), session.client("sagemaker-runtime")
    if settings.triton:  # the live model's parameter and archive (the stage role reads only those)
        return run(settings, sagemaker, runtime, sys.stdout, ssm=session.client("ssm"), s3=session.client("s3"))
    return run(settings, sagemaker, runtime, sys.stdout)


def _flat(data: Any) -> list[Any]:
    if not isinstance(data, list):
        return [data]
    return [value for item in data for value in _flat(item)]


def _rows(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


if __name__ == "__main__":
    raise SystemExit(main())
