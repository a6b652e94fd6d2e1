"""The local endpoint over HTTP: container contract, status codes, data capture, `mlops serve`."""

from __future__ import annotations

import argparse
import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlops.cli.serve import register, run
from mlops.errors import UserError
from mlops.local.serving import CaptureConfig, EndpointServer


@pytest.fixture
def server(model_v1: Path) -> Iterator[EndpointServer]:
    with EndpointServer.start(model_v1) as running:
        yield running


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url + "/invocations", data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_ping_and_unknown_route(server: EndpointServer) -> None:
    assert server.url.startswith("http://127.0.0.1:") and server.port > 0
    with urllib.request.urlopen(server.url + "/ping", timeout=5) as response:
        assert response.status == 200
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(server.url + "/nope", timeout=5)
    assert info.value.code == 404


def test_invocations_respect_content_type_and_accept(server: EndpointServer) -> None:
    status, headers, body = _post(
        server.url, b"No,2500,40000\nYes,10,20000", {"Content-Type": "text/csv", "Accept": "text/csv"}
    )
    assert status == 200 and headers["Content-Type"] == "text/csv"
    assert [line.split(",")[0] for line in body.decode().splitlines()] == ["Yes", "No"]
    assert headers["X-Amzn-Invoked-Production-Variant"] == "AllTraffic"

    record = {"student": "No", "balance": 2500, "income": 40000}
    status, headers, body = _post(
        server.url, json.dumps({"instances": [record]}).encode(), {"Content-Type": "application/json"}
    )
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert json.loads(body)["predictions"][0] == {
        "label": "Yes",
        "probability": pytest.approx(json.loads(body)["predictions"][0]["probability"]),
        "model_version": "v1",
    }


@pytest.mark.parametrize(
    ("body", "headers", "status", "fragment"),
    [
        (b"No,1", {"Content-Type": "text/csv"}, 400, "row 1 has 2 values"),
        (b"No,x,1", {"Content-Type": "text/csv"}, 400, "row 1, column 'balance'"),
        (b"", {"Content-Type": "text/csv"}, 400, "empty request body"),
        (b"No,1,1", {"Content-Type": "image/png"}, 415, "unsupported content type"),
        (b"No,1,1", {"Content-Type": "text/csv", "Accept": "application/xml"}, 406, "accept"),
    ],
)
def test_bad_requests_are_4xx_and_not_model_errors(
    server: EndpointServer, body: bytes, headers: dict[str, str], status: int, fragment: str
) -> None:
    code, response_headers, payload = _post(server.url, body, headers)
    assert code == status
    assert response_headers["Content-Type"] == "application/json"
    assert fragment in json.loads(payload)["message"]
    (blue,) = server.stats()
    assert blue.errors_4xx == 1 and blue.errors_5xx == 0


def test_capture_files_follow_sagemaker_format_and_layout(model_v1: Path, tmp_path: Path) -> None:
    capture = CaptureConfig(root=tmp_path, endpoint_name="ep", variant_name="AllTraffic", flush_interval_s=60)
    with EndpointServer.start(model_v1, capture=capture) as running:
        for index in range(3):
            _post(running.url, f"No,{1000 + index},40000".encode(), {"Content-Type": "text/csv"})
        _post(running.url, b"No,1", {"Content-Type": "text/csv"})  # 400: not captured
    files = list(tmp_path.rglob("*.jsonl"))
    assert len(files) == 1
    relative = files[0].relative_to(tmp_path).parts
    assert relative[:2] == ("ep", "AllTraffic")
    yyyy, mm, dd, hh = relative[2:6]
    assert len(yyyy) == 4 and len(mm) == len(dd) == len(hh) == 2 and len(relative) == 7
    lines = [json.loads(line) for line in files[0].read_text().splitlines()]
    assert len(lines) == 3
    first = lines[0]
    assert first["eventVersion"] == "0"
    assert set(first["eventMetadata"]) == {"eventId", "inferenceTime"}
    assert first["eventMetadata"]["inferenceTime"].startswith(f"{yyyy}-{mm}-{dd}T{hh}:")
    assert first["captureData"]["endpointInput"] == {
        "observedContentType": "text/csv",
        "mode": "INPUT",
        "data": "No,1000,40000",
        "encoding": "CSV",
    }
    output = first["captureData"]["endpointOutput"]
    assert output["mode"] == "OUTPUT" and output["encoding"] == "JSON"
    assert output["observedContentType"] == "application/json"
    assert json.loads(output["data"])["predictions"][0]["model_version"] == "v1"


def test_capture_sampling_percent(model_v1: Path, tmp_path: Path) -> None:
    capture = CaptureConfig(root=tmp_path, sampling_percent=25.0, flush_interval_s=60)
    with EndpointServer.start(model_v1, capture=capture) as running:
        for _ in range(20):
            _post(running.url, b"No,1000,40000", {"Content-Type": "text/csv"})
    lines = [line for path in tmp_path.rglob("*.jsonl") for line in path.read_text().splitlines()]
    assert len(lines) == 5


def _cli_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="group"))
    return parser.parse_args(["serve", *argv])


def test_serve_command_is_registered_with_defaults(tmp_path: Path) -> None:
    args = _cli_args("--model-dir", str(tmp_path), "--port", "0", "--capture-percent", "10")
    assert args.handler is run and args.port == 0 and args.capture_dir is None and args.capture_percent == 10


def test_serve_user_errors_name_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "absent"
    with pytest.raises(UserError, match="absent"):
        run(_cli_args("--model-dir", str(missing), "--port", "0"))
    with pytest.raises(UserError, match=r"no model\.joblib"):
        run(_cli_args("--model-dir", str(tmp_path), "--port", "0"))
    (tmp_path / "model.joblib").write_bytes(b"not a pickle")
    (tmp_path / "model_meta.json").write_text(json.dumps({"features": [], "numeric_features": []}))
    with pytest.raises(UserError, match=re.escape(str(tmp_path))):
        run(_cli_args("--model-dir", str(tmp_path), "--port", "0"))
