"""Write preprocessed rows to the SageMaker Feature Group (online store, which replicates to the offline store).

The record identifier is a content hash of the row, so re-running the step on the same data overwrites records
instead of duplicating them. Throttling is retried by botocore's adaptive retry mode.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any, Protocol

import pandas as pd

RECORD_ID = "record_id"
EVENT_TIME = "event_time"


class FeatureStoreRuntime(Protocol):
    def put_record(self, **kwargs: Any) -> Any: ...


def record_id(values: list[str]) -> str:
    return hashlib.sha256("\x1f".join(values).encode()).hexdigest()[:32]


def to_records(table: pd.DataFrame, event_time: str) -> list[list[dict[str, str]]]:
    """Each row as a Feature Store record; missing values are left out, as the API requires."""
    records = []
    for row in table.itertuples(index=False):
        values = {col: val for col, val in zip(table.columns, row)}
        present = {k: str(v) for k, v in values.items() if not (isinstance(v, float) and math.isnan(v))}
        fields = [{"FeatureName": k, "ValueAsString": v} for k, v in present.items()]
        ident = record_id([f"{k}={present.get(k, '')}" for k in table.columns])
        fields += [
            {"FeatureName": RECORD_ID, "ValueAsString": ident},
            {"FeatureName": EVENT_TIME, "ValueAsString": event_time},
        ]
        records.append(fields)
    return records


def ingest_features(
    table: pd.DataFrame, feature_group_name: str, event_time: str, client: FeatureStoreRuntime | None = None
) -> int:
    if client is None:
        import boto3
        from botocore.config import Config

        client = boto3.client(
            "sagemaker-featurestore-runtime", config=Config(retries={"mode": "adaptive", "max_attempts": 10})
        )
    records = to_records(table, event_time)
    for record in records:
        client.put_record(FeatureGroupName=feature_group_name, Record=record)
    return len(records)
