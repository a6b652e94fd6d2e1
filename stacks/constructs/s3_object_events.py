"""The EventBridge pattern of S3 "Object Created" events under a key prefix of one bucket: the drift function's
capture files and the batch transform's input files (the bucket must send its events to EventBridge)."""

from __future__ import annotations

from aws_cdk import aws_events as events

from contracts import events as ev


def object_created(bucket_name: str, key_prefix: str) -> events.EventPattern:
    return events.EventPattern(
        source=[ev.S3],
        detail_type=[ev.OBJECT_CREATED],
        detail={ev.BUCKET: {ev.NAME: [bucket_name]}, ev.OBJECT: {ev.KEY: [{"prefix": key_prefix}]}},
    )
