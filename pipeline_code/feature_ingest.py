"""Write preprocessed rows to the SageMaker Feature Group (online store, which replicates to the offline store).

The record identifier is a content hash of the row, so re-running the step on the same data overwrites records
instead of duplicating them. Rows go in batches (the unit a failure is reported by); each put is retried on
throttling, 5xx and connection errors with exponential backoff and jitter, so that many processing instances
writing at once slow down instead of failing. After the last attempt the error names the batch and the row.
"""

from __future__ import annotations

import hashlib
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import pandas as pd

from pipeline_code.common import DataError, first_line

RECORD_ID = "record_id"
EVENT_TIME = "event_time"
DEFAULT_BATCH_SIZE = 500

# Error codes of the Feature Store runtime (and AWS in general) that a later attempt can succeed on.
RETRYABLE_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "ServiceUnavailable",
        "InternalFailure",
        "InternalServerError",
        "RequestTimeout",
    }
)
# botocore's connection-level exceptions, matched by name so this module needs no botocore import.
RETRYABLE_EXCEPTIONS = frozenset(
    {"EndpointConnectionError", "ConnectionClosedError", "ReadTimeoutError", "ConnectTimeoutError", "HTTPClientError"}
)


class FeatureStoreRuntime(Protocol):
    def put_record(self, **kwargs: Any) -> Any: ...


class IngestError(DataError):
    """A batch could not be written; the message names the Feature Group, the batch, its rows and the cause."""


@dataclass
class RetryPolicy:
    max_attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 20.0
    sleep: Callable[[float], None] = time.sleep
    jitter: Callable[[], float] = field(default=random.random)

    def delay(self, attempt: int) -> float:
        """Before attempt `attempt + 1`: half the exponential step fixed, half random (spreads parallel writers)."""
        step = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return step / 2 + step / 2 * self.jitter()


def is_retryable(exc: BaseException) -> bool:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = str(response.get("Error", {}).get("Code", ""))
        status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        return code in RETRYABLE_CODES or status == 429 or status >= 500
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return True
    return any(cls.__name__ in RETRYABLE_EXCEPTIONS for cls in type(exc).__mro__)


def record_id(values: list[str]) -> str:
    return hashlib.sha256("\x1f".join(values).encode()).hexdigest()[:32]


def to_records(table: pd.DataFrame, event_time: str) -> list[list[dict[str, str]]]:
    """Each row as a Feature Store record; missing values are left out, as the API requires."""
    records = []
    for row in table.itertuples(index=False):
        values = {col: val for col, val in zip(table.columns, row)}
        present = {k: str(v) for k, v in values.items() if not _missing(v)}
        fields = [{"FeatureName": k, "ValueAsString": v} for k, v in present.items()]
        ident = record_id([f"{k}={present.get(k, '')}" for k in table.columns])
        fields += [
            {"FeatureName": RECORD_ID, "ValueAsString": ident},
            {"FeatureName": EVENT_TIME, "ValueAsString": event_time},
        ]
        records.append(fields)
    return records


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def default_client() -> FeatureStoreRuntime:
    import boto3
    from botocore.config import Config

    # One attempt per call: RetryPolicy owns the retries, so that their count and the final error are ours.
    return boto3.client("sagemaker-featurestore-runtime", config=Config(retries={"max_attempts": 1}))


def _put(
    client: FeatureStoreRuntime, feature_group_name: str, record: list[dict[str, str]], policy: RetryPolicy
) -> tuple[Exception, int] | None:
    """None when written, else the last error (after retrying what can be retried)."""
    for attempt in range(1, policy.max_attempts + 1):
        try:
            client.put_record(FeatureGroupName=feature_group_name, Record=record)
            return None
        except Exception as exc:  # classified below; anything else is reported with its batch
            if not is_retryable(exc) or attempt == policy.max_attempts:
                return exc, attempt
            policy.sleep(policy.delay(attempt))
    return None


def ingest_features(
    table: pd.DataFrame,
    feature_group_name: str,
    event_time: str,
    client: FeatureStoreRuntime | None = None,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    retry: RetryPolicy | None = None,
    first_row: int = 0,
    first_batch: int = 0,
) -> int:
    """Put every row of `table`; `first_row`/`first_batch` number rows and batches across a chunked input."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    client = client if client is not None else default_client()
    policy = retry or RetryPolicy()
    written = 0
    for start in range(0, len(table), batch_size):
        batch_number = first_batch + start // batch_size
        for offset, record in enumerate(to_records(table.iloc[start : start + batch_size], event_time)):
            failure = _put(client, feature_group_name, record, policy)
            if failure is not None:
                exc, attempts = failure
                first, last = first_row + start, first_row + min(start + batch_size, len(table)) - 1
                raise IngestError(
                    f"Feature Group '{feature_group_name}': batch {batch_number} (rows {first}-{last}) failed at "
                    f"row {first_row + start + offset} after {attempts} attempt(s): {type(exc).__name__}: "
                    f"{first_line(exc)}; the {first_row + written} rows before it were written"
                )
            written += 1
    return written


def batch_count(rows: int, batch_size: int) -> int:
    return -(-rows // batch_size)
