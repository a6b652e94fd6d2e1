"""Data capture survives write errors: nothing lost, the thread lives on, the buffer stays bounded (issue #17)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from mlops.local.serving.capture import CaptureConfig, DataCapture


def _captured(root: Path) -> list[dict]:
    return [json.loads(line) for f in sorted(root.rglob("*.jsonl")) for line in f.read_text().splitlines()]


def _offer(capture: DataCapture, n: int) -> None:
    for i in range(n):
        capture.offer(f"{i},1".encode(), "text/csv", b'{"predictions": ["No"]}', "application/json")


def test_failed_write_keeps_the_events_and_a_later_flush_writes_them(tmp_path: Path) -> None:
    root = tmp_path / "capture"
    root.write_text("a file where the capture folder should be")  # every write fails (NotADirectoryError)
    capture = DataCapture(CaptureConfig(root=root, flush_interval_s=3600))
    try:
        _offer(capture, 5)
        assert capture.flush() == [] and capture.write_errors == 1
        root.unlink()  # the disk problem goes away
        _offer(capture, 2)
        assert len(capture.flush()) == 1
    finally:
        capture.close()
    inputs = [r["captureData"]["endpointInput"]["data"] for r in _captured(root)]
    assert inputs == [f"{i},1" for i in range(5)] + ["0,1", "1,1"]  # all 7, in order


def test_the_capture_thread_survives_errors_and_keeps_writing(tmp_path: Path) -> None:
    root = tmp_path / "capture"
    root.write_text("blocked")
    capture = DataCapture(CaptureConfig(root=root, flush_interval_s=0.05))
    try:
        _offer(capture, 3)
        deadline = time.monotonic() + 5
        while capture.write_errors == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert capture.write_errors >= 1
        root.unlink()
        while not list(root.rglob("*.jsonl")) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert capture._thread.is_alive()
    finally:
        capture.close()
    assert len(_captured(root)) == 3


def test_the_buffer_is_bounded_and_drops_are_counted(tmp_path: Path, caplog) -> None:
    root = tmp_path / "capture"
    root.write_text("blocked")
    capture = DataCapture(CaptureConfig(root=root, flush_interval_s=3600, max_buffered=10_000, max_pending=4))
    try:
        _offer(capture, 6)
        assert capture.dropped == 2 and len(capture._buffer) == 4
        assert "buffer full" in caplog.text
    finally:
        root.unlink()
        capture.close()
    assert len(_captured(root)) == 4
