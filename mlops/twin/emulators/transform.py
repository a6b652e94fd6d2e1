"""Runs a batch transform job that (moto's) SageMaker accepted: moto records the job but scores nothing.

The model starts as the framework container would (mlops.local.serving.framework_container: the container definition of
the job's model, or of the package it names, with the model's network isolation), then every object under the
input prefix is split into records and scored, and the results are written where SageMaker writes them
(CreateTransformJob, botocore's service model):

- ``SplitType`` "Line": a record is one line. ``BatchStrategy`` "MultiRecord" fits as many records in one request
  as ``MaxPayloadInMB`` (default 6) allows; "SingleRecord" sends one. The API documents no default: unset is
  taken as one record per request.
- ``TransformOutput.S3OutputPath``: "For every S3 object used as input ... stores the transformed data with an .out
  suffix"; ``AssembleWith`` "Line" adds a newline after every transformed record. "Batch transform doesn't upload
  partially processed objects": an object is written only once all of its records are scored.

A container that cannot start, or a record the model fails on, fails the job (status "Failed", FailureReason).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

from moto.sagemaker.models import sagemaker_backends

from mlops.local.serving.framework_container import ContainerStartError, start_container
from mlops.local.serving.handler import ModelHandler, ModelLoadError
from mlops.twin.emulators.model_containers import ModelRequests, download

DEFAULT_MAX_PAYLOAD_MB = 6


class Cloud(Protocol):
    """What the transform needs of the twin (TwinCloud has it): boto3 clients of the moto session, and where."""

    account: str
    region: str

    def client(self, service: str) -> Any: ...


@dataclass
class TransformResult:
    job_name: str
    status: str  # "Completed" | "Failed"
    failure_reason: str = ""
    outputs: list[str] = field(default_factory=list)  # s3:// URIs of the .out objects
    records: int = 0


class LocalTransform:
    def __init__(self, cloud: Cloud, models: ModelRequests, work_dir: Path) -> None:
        self.cloud = cloud
        self.models = models
        self.work_dir = work_dir

    def run(self, job_name: str) -> TransformResult:
        sagemaker, s3 = self.cloud.client("sagemaker"), self.cloud.client("s3")
        job = sagemaker.describe_transform_job(TransformJobName=job_name)
        result = TransformResult(job_name, "Completed")
        try:
            handler = self._start(sagemaker, s3, job)
            for key, body in self._inputs(s3, job):
                result.outputs.append(self._transform(s3, job, handler, key, body, result))
        except (ContainerStartError, ModelLoadError, TransformFailed) as exc:
            result.status, result.failure_reason = "Failed", str(exc)  # objects done before stay written
        self._set_status(job_name, result)
        return result

    def _start(self, sagemaker: Any, s3: Any, job: dict[str, Any]) -> ModelHandler:
        definition = self.models.container(sagemaker, job["ModelName"])
        work = self.work_dir / job["TransformJobName"]
        work.mkdir(parents=True, exist_ok=True)
        archive = work / "model.tar.gz"
        download(s3, definition.model_data_url, archive)
        started = start_container(definition, archive, work, lambda uri, path: download(s3, uri, path))
        return ModelHandler(started.model_dir, started.program)

    def _inputs(self, s3: Any, job: dict[str, Any]) -> list[tuple[str, bytes]]:
        source = urlparse(job["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"])
        prefix = source.path.lstrip("/")
        listed = s3.list_objects_v2(Bucket=source.netloc, Prefix=prefix).get("Contents", [])
        return [
            (obj["Key"], s3.get_object(Bucket=source.netloc, Key=obj["Key"])["Body"].read())
            for obj in sorted(listed, key=lambda o: o["Key"])
        ]

    def _transform(
        self, s3: Any, job: dict[str, Any], handler: ModelHandler, key: str, body: bytes, result: TransformResult
    ) -> str:
        spec_in, spec_out = job["TransformInput"], job["TransformOutput"]
        content_type = spec_in.get("ContentType", "text/csv")
        accept = spec_out.get("Accept", content_type)
        records = [line for line in body.decode("utf-8").splitlines() if line.strip()]
        outputs = []
        for batch in _batches(records, job.get("BatchStrategy"), job.get("MaxPayloadInMB", DEFAULT_MAX_PAYLOAD_MB)):
            try:
                response = handler.invoke("\n".join(batch).encode(), content_type, accept)
            except Exception as exc:
                raise TransformFailed(f"{key}: the model failed on a record: {exc}") from exc
            outputs.append(response.body.decode("utf-8").rstrip("\n"))
            result.records += len(batch)
        joiner = "\n" if spec_out.get("AssembleWith") == "Line" else ""
        text = joiner.join(outputs) + joiner
        source_prefix = urlparse(spec_in["DataSource"]["S3DataSource"]["S3Uri"]).path.lstrip("/")
        target = urlparse(spec_out["S3OutputPath"])
        out_key = f"{target.path.strip('/')}/{key.removeprefix(source_prefix).lstrip('/')}.out".lstrip("/")
        s3.put_object(Bucket=target.netloc, Key=out_key, Body=text.encode("utf-8"))
        return f"s3://{target.netloc}/{out_key}"

    def _set_status(self, job_name: str, result: TransformResult) -> None:
        """moto leaves every job "Completed"; the twin records what the run did."""
        backend = sagemaker_backends[self.cloud.account][self.cloud.region]
        job = backend.transform_jobs[job_name]
        job.transform_job_status = result.status
        job.failure_reason = result.failure_reason


class TransformFailed(Exception):
    """A record could not be scored: the job fails, and no output of that object is written."""


def _batches(records: list[str], strategy: str | None, max_payload_mb: int) -> list[list[str]]:
    if strategy != "MultiRecord":
        return [[record] for record in records]
    limit = max(max_payload_mb, 1) * 1024 * 1024
    batches: list[list[str]] = []
    size = 0
    for record in records:
        length = len(record.encode("utf-8")) + 1
        if not batches or size + length > limit:
            batches.append([])
            size = 0
        batches[-1].append(record)
        size += length
    return batches
