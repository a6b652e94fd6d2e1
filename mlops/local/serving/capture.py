"""Data capture in SageMaker's format and S3 layout, written to a local folder.

Each captured invocation is one JSON line::

    {"captureData": {"endpointInput": {...}, "endpointOutput": {...}},
     "eventMetadata": {"eventId": "...", "inferenceTime": "2026-01-01T10:00:00Z"}, "eventVersion": "0"}

under ``<root>/<endpoint>/<variant>/yyyy/mm/dd/hh/<mm>-<ss>-<mmm>-<uuid>.jsonl`` (hour of the inference time,
UTC), as SageMaker lays out ``s3://<bucket>/<prefix>/``. Requests only append to an in-memory buffer; a
background thread serialises and writes it, so capture adds no file I/O to a request's latency.

A write that fails (disk full, folder removed) loses nothing: the events stay buffered and the next flush
retries them; the thread survives any error. The buffer is bounded (``max_pending``): beyond it new events are
dropped, counted in ``dropped``, and a warning is logged, so a broken disk never grows the server's memory
without bound.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

EVENT_VERSION = "0"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CaptureConfig:
    root: Path
    endpoint_name: str = "local-endpoint"
    variant_name: str = "AllTraffic"
    sampling_percent: float = 100.0
    flush_interval_s: float = 1.0
    max_buffered: int = 1000  # a flush starts early when this many events wait
    max_pending: int = 100_000  # the buffer's bound while writes fail; more events are dropped and counted


@dataclass(frozen=True)
class _Event:
    input_body: bytes
    input_type: str
    output_body: bytes
    output_type: str
    event_id: str
    time: datetime


def _encoding(content_type: str) -> str:
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "text/csv":
        return "CSV"
    if media.endswith("json"):
        return "JSON"
    return "BASE64"


def _channel(mode: str, body: bytes, content_type: str) -> dict[str, str]:
    encoding = _encoding(content_type)
    data = base64.b64encode(body).decode("ascii") if encoding == "BASE64" else body.decode("utf-8", "replace")
    return {"observedContentType": content_type, "mode": mode, "data": data, "encoding": encoding}


def to_record(event: _Event) -> dict[str, object]:
    return {
        "captureData": {
            "endpointInput": _channel("INPUT", event.input_body, event.input_type),
            "endpointOutput": _channel("OUTPUT", event.output_body, event.output_type),
        },
        "eventMetadata": {
            "eventId": event.event_id,
            "inferenceTime": event.time.strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        "eventVersion": EVENT_VERSION,
    }


class DataCapture:
    """Buffered writer; ``offer`` is called on every successful invocation and samples deterministically."""

    def __init__(self, config: CaptureConfig) -> None:
        if not 0.0 <= config.sampling_percent <= 100.0:
            raise ValueError(f"capture sampling percent must be within 0..100, got {config.sampling_percent}")
        self.config = config
        self._lock = threading.Lock()
        self._buffer: list[_Event] = []
        self._seen = 0
        self.dropped = 0  # events not captured because the buffer was full (writes failing)
        self.write_errors = 0
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="data-capture", daemon=True)
        self._thread.start()

    def offer(self, input_body: bytes, input_type: str, output_body: bytes, output_type: str) -> bool:
        """Buffer the invocation if sampled; return whether it was."""
        with self._lock:
            before = self._seen * self.config.sampling_percent // 100
            self._seen += 1
            # Exactly sampling_percent of invocations over any long run, without randomness in tests.
            if self._seen * self.config.sampling_percent // 100 == before:
                return False
            if len(self._buffer) >= self.config.max_pending:
                self.dropped += 1
                if self.dropped == 1 or self.dropped % 1000 == 0:
                    log.warning("data capture: buffer full (%d events), %d dropped", len(self._buffer), self.dropped)
                return False
            self._buffer.append(
                _Event(input_body, input_type, output_body, output_type, str(uuid.uuid4()), datetime.now(UTC))
            )
            full = len(self._buffer) >= self.config.max_buffered
        if full:
            self._wake.set()
        return True

    def flush(self) -> list[Path]:
        """Write everything buffered now; return the files written. Events whose write failed go back to the
        front of the buffer (in order) for the next flush."""
        with self._lock:
            events, self._buffer = self._buffer, []
        written, unwritten = self._write(events)
        if unwritten:
            with self._lock:
                self._buffer = unwritten + self._buffer
        return written

    def close(self) -> None:
        self._stopped.set()
        self._wake.set()
        self._thread.join(timeout=5.0)
        self.flush()

    def _run(self) -> None:
        while not self._stopped.is_set():
            self._wake.wait(self.config.flush_interval_s)
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # never let the capture thread die while the server keeps answering
                log.exception("data capture: flush failed; retrying at the next interval")

    def _write(self, events: list[_Event]) -> tuple[list[Path], list[_Event]]:
        by_hour: dict[str, list[_Event]] = {}
        for event in events:
            by_hour.setdefault(event.time.strftime("%Y/%m/%d/%H"), []).append(event)
        written = []
        base = self.config.root / self.config.endpoint_name / self.config.variant_name
        unwritten: list[_Event] = []
        for hour, group in by_hour.items():
            first = group[0].time
            name = f"{first:%M-%S}-{first.microsecond // 1000:03d}-{uuid.uuid4()}.jsonl"
            path = base / hour / name
            lines = "".join(json.dumps(to_record(event), separators=(",", ":")) + "\n" for event in group)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(lines, encoding="utf-8")
            except OSError as exc:
                with contextlib.suppress(OSError):  # no partial file: the retry writes the whole group again
                    path.unlink(missing_ok=True)
                self.write_errors += 1
                log.warning("data capture: cannot write %s (%s); %d events kept for retry", path, exc, len(group))
                unwritten.extend(group)
                continue
            written.append(path)
        return written, unwritten
