"""feature_ingest.py: batches, retries of throttling/5xx/connection errors with backoff, a named failed batch."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline_code.feature_ingest import IngestError, RetryPolicy, ingest_features, is_retryable, to_records
from tests.pipeline.conftest import mixed_frame

pytestmark = pytest.mark.container


class ClientError(Exception):
    """Shaped like botocore's ClientError: the error code and HTTP status in `response`."""

    def __init__(self, code: str, status: int) -> None:
        super().__init__(f"An error occurred ({code}) when calling the PutRecord operation")
        self.response = {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}


class EndpointConnectionError(Exception):
    pass


class FlakyClient:
    """Fails the n-th put_record calls listed in `failures` with the given error, records the rest."""

    def __init__(self, failures: dict[int, Exception]) -> None:
        self.failures = failures
        self.calls = 0
        self.records: list[Any] = []

    def put_record(self, **kwargs: Any) -> None:
        self.calls += 1
        if self.calls in self.failures:
            raise self.failures[self.calls]
        self.records.append(kwargs["Record"])


def _policy(sleeps: list[float], attempts: int = 4) -> RetryPolicy:
    return RetryPolicy(max_attempts=attempts, base_delay=1.0, max_delay=8.0, sleep=sleeps.append, jitter=lambda: 1.0)


def test_throttling_5xx_and_connection_errors_are_retried_with_growing_delays() -> None:
    sleeps: list[float] = []
    client = FlakyClient(
        {
            2: ClientError("ThrottlingException", 400),
            3: ClientError("InternalFailure", 500),
            4: EndpointConnectionError("Could not connect"),
        }
    )
    table = mixed_frame(rows=10)
    count = ingest_features(table, "fg", "2026-01-01T00:00:00Z", client, batch_size=3, retry=_policy(sleeps))
    assert count == 10 and len(client.records) == 10
    assert sleeps == [1.0, 2.0, 4.0]  # exponential backoff for the one record that failed three times
    assert client.records == to_records(table, "2026-01-01T00:00:00Z")  # same records, same content-hash ids


def test_the_last_failed_attempt_names_the_batch_and_rows() -> None:
    sleeps: list[float] = []
    throttled = {n: ClientError("ThrottlingException", 400) for n in range(8, 20)}
    client = FlakyClient(throttled)
    with pytest.raises(IngestError, match=r"Feature Group 'fg': batch 2 \(rows 6-8\) failed at row 7 after 3 attempt"):
        ingest_features(mixed_frame(rows=10), "fg", "t", client, batch_size=3, retry=_policy(sleeps, attempts=3))
    assert sleeps == [1.0, 2.0] and len(client.records) == 7


def test_a_validation_error_is_not_retried() -> None:
    sleeps: list[float] = []
    client = FlakyClient({1: ClientError("ValidationException", 400)})
    with pytest.raises(IngestError, match=r"batch 5 \(rows 100-102\) failed at row 100 after 1 attempt.*Validation"):
        ingest_features(
            mixed_frame(rows=3), "fg", "t", client, batch_size=3, retry=_policy(sleeps), first_row=100, first_batch=5
        )
    assert sleeps == []


def test_retryable_errors_are_classified() -> None:
    assert is_retryable(ClientError("ThrottlingException", 400))
    assert is_retryable(ClientError("Anything", 503)) and is_retryable(ClientError("Anything", 429))
    assert is_retryable(ConnectionResetError()) and is_retryable(EndpointConnectionError())
    assert not is_retryable(ClientError("ValidationException", 400)) and not is_retryable(ValueError("x"))


def test_delay_is_capped_and_jitter_spreads_half_of_it() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=8.0, jitter=lambda: 0.0)
    assert [policy.delay(a) for a in (1, 2, 3, 4, 5, 6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
