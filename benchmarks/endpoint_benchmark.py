"""Latency and throughput of the local endpoint in steady state and during a blue/green swap.

Prints p50/p99 latency and throughput for both phases and the ratio p99(swap)/p99(steady); the acceptance
bar is a ratio within 2x. Traffic goes to 127.0.0.1 only, from a bounded number of keep-alive clients, and
every phase has a time limit. Clients and server share this process (and its GIL), as in the twin.

    PYTHONPATH=. python benchmarks/endpoint_benchmark.py [--clients 4] [--steady-seconds 6] [--bake-seconds 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

from mlops.local.serving import BlueGreenPolicy, CaptureConfig, EndpointServer, RoutingType, TrafficRouting
from mlops.local.serving.loadgen import LoadReport, run_load
from mlops.local.serving.sample_model import FEATURES, load_default_data, write_model_dir

RATIO_LIMIT = 2.0


def _line(name: str, report: LoadReport) -> str:
    return (
        f"{name:<7} requests={len(report.samples):6d} failed={len(report.failures):3d} "
        f"p50={report.latency_ms(0.50):7.2f} ms  p99={report.latency_ms(0.99):7.2f} ms  "
        f"throughput={report.throughput():7.1f} req/s"
    )


def _swap(server: EndpointServer, bodies: list[bytes], new_model: Path, args: argparse.Namespace) -> LoadReport:
    """Load from before the deploy call until it ends; report only requests sent during the deployment."""
    policy = BlueGreenPolicy(
        TrafficRouting(RoutingType.CANARY, wait_interval_s=args.bake_seconds, canary_percent=10.0),
        termination_wait_s=args.bake_seconds,
    )
    stop = threading.Event()
    box: list[LoadReport] = []
    limit = args.bake_seconds * 2 + 30.0
    loader = threading.Thread(
        target=lambda: box.append(
            run_load(server.url, bodies, clients=args.clients, duration_s=limit, max_requests=200_000, stop=stop)
        )
    )
    loader.start()
    time.sleep(0.5)
    started = time.monotonic()
    result = server.deploy(new_model, policy).wait(limit)
    ended = time.monotonic()
    time.sleep(0.2)
    stop.set()
    loader.join(limit + 30.0)
    print(f"swap    deployment {result.status.value} in {ended - started:.2f} s: {result.reason}")
    return box[0].window(started, ended)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--steady-seconds", type=float, default=6.0)
    parser.add_argument("--bake-seconds", type=float, default=2.0)
    parser.add_argument("--no-capture", action="store_true", help="serve without data capture")
    args = parser.parse_args(argv)

    data = load_default_data(rows=400)
    bodies = [",".join(str(v) for v in row).encode() for row in data[FEATURES].head(200).itertuples(index=False)]
    with tempfile.TemporaryDirectory(prefix="endpoint-bench-") as tmp:
        root = Path(tmp)
        v1 = write_model_dir(root / "v1", "v1", data, c=1.0)
        v2 = write_model_dir(root / "v2", "v2", data, c=0.05)
        capture = None if args.no_capture else CaptureConfig(root=root / "capture", sampling_percent=100.0)
        with EndpointServer.start(v1, capture=capture) as server:
            run_load(server.url, bodies, clients=args.clients, duration_s=1.0, max_requests=2000)  # warm-up
            steady = run_load(
                server.url, bodies, clients=args.clients, duration_s=args.steady_seconds, max_requests=200_000
            )
            swap = _swap(server, bodies, v2, args)
        print(f"setup   clients={args.clients} capture={'off' if args.no_capture else '100%'} payload=1 CSV row")
        print(_line("steady", steady))
        print(_line("swap", swap))
        ratio = swap.latency_ms(0.99) / max(steady.latency_ms(0.99), 1e-9)
        verdict = "ok" if ratio <= RATIO_LIMIT and not swap.failures else "OVER LIMIT"
        print(f"ratio   p99(swap)/p99(steady) = {ratio:.2f} (limit {RATIO_LIMIT:.1f}x): {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
