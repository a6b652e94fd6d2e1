"""Capacity and cost of candidate serving configurations, from a measured profile: pure functions, no I/O.

The model (every number it uses is printed by ``mlops rightsize``):

- Workers: SageMaker's scikit-learn container runs one model-server worker per vCPU. A worker serves one
  request at a time, taking the measured per-request service time, divided by the instance's speed factor:
  parallel efficiency ``e`` (the instance delivers ``1 + (vcpu - 1) * e`` cores' worth of the measured per-core
  throughput), times the burstable baseline for t2/t3 (sustained traffic runs at the baseline CPU share), times
  the GPU speedup on GPU instances (1.0 unless a measured speedup is given: then a GPU instance is exactly the
  CPU capacity of its vCPUs). Inferentia (inf2) always counts as CPU: scikit-learn cannot be compiled for it.
  Per-core speed is taken as equal to this machine's for every family (not measured on ml.* hardware).
- Latency: p99 on an instance = the measured one-at-a-time p99 (scaled by the burstable baseline and the GPU
  speedup; a lone request meets no contention, so not by the efficiency) + a network/front end overhead + the
  p99 queueing wait of an M/M/c queue with c workers (Erlang C). Exponential service times make this
  conservative for a model whose service time hardly varies.
- Headroom: an instance is never planned above ``max_utilisation`` busy, so bursts and noisy neighbours have room.
- Count and scaling: the count for the average traffic is the auto-scaling minimum, the count for the peak
  (``rps * peak_factor``) the maximum; the tracking target is the per-instance capacity in invocations/minute.
- Monthly cost: the peak count runs ``peak_hours_per_day``, the minimum count the rest of a 730-hour month.
- Serverless: billed duration per request = the measured service time; memory = the smallest size that holds the
  runtime and the model; cold starts (``serverless_cold_start_ms``) count against the p99 unless they are under
  1% of requests, assuming each busy container is recycled once per ``serverless_recycle_minutes``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from mlops.rightsizing.catalogue import HOURS_PER_MONTH, Catalogue, InstanceSpec

SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600.0
DAYS_PER_MONTH = HOURS_PER_MONTH / 24.0
_P99 = 0.99
_COLD_START_SHARE_LIMIT = 0.01  # cold starts above 1% of requests land inside the p99


@dataclass(frozen=True)
class Profile:
    """What the load test measured (or a saved copy of it); times in milliseconds."""

    service_ms: float  # mean time one request keeps one core busy (1000 / per-core throughput)
    base_p50_ms: float  # one request at a time, end to end
    base_p99_ms: float
    parallel_efficiency: float = 0.8
    gpu_speedup: float = 1.0
    request_bytes: float = 40.0
    response_bytes: float = 80.0
    model_mb: float = 1.0
    details: dict[str, Any] = field(default_factory=dict)  # raw figures and provenance, printed as `measured`

    @property
    def per_core_rps(self) -> float:
        return 1000.0 / self.service_ms

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if k != "details"}
        data["per_core_rps"] = round(self.per_core_rps, 1)
        return {**data, **self.details}


@dataclass(frozen=True)
class Traffic:
    rps: float
    p99_ms: float
    peak_factor: float = 2.0
    peak_hours_per_day: float = 4.0

    @property
    def peak_rps(self) -> float:
        return self.rps * self.peak_factor


@dataclass(frozen=True)
class Assumptions:
    max_utilisation: float = 0.7
    network_overhead_ms: float = 5.0
    min_instances: int = 1
    max_instances: int = 100
    runtime_memory_mb: float = 600.0  # one worker's Python + pandas + scikit-learn, before the model
    serverless_overhead_ms: float = 20.0
    serverless_cold_start_ms: float = 3000.0
    serverless_recycle_minutes: float = 15.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class InstanceOption:
    instance_type: str
    vcpu: int
    gpu: bool
    accelerator: str | None
    hourly_usd: float
    meets_slo: bool
    reason: str  # why it does not meet the SLO, empty when it does
    capacity_rps: float = 0.0  # sustainable requests/s per instance within the SLO and the headroom
    instance_count: int = 0
    max_instance_count: int = 0
    invocations_per_instance_target: int = 0
    predicted_p99_ms: float = 0.0  # at the peak, per-instance load rps * peak / max_instance_count
    monthly_cost_usd: float = math.inf

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["monthly_cost_usd"] = _money(self.monthly_cost_usd)
        data["capacity_rps"] = round(self.capacity_rps, 1)
        data["predicted_p99_ms"] = round(self.predicted_p99_ms, 2)
        return data


@dataclass(frozen=True)
class ServerlessOption:
    memory_mb: int
    max_concurrency: int
    meets_slo: bool
    reason: str
    predicted_p99_ms: float
    cold_start_share: float
    monthly_cost_usd: float

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["monthly_cost_usd"] = _money(self.monthly_cost_usd)
        data["predicted_p99_ms"] = round(self.predicted_p99_ms, 2)
        return data


@dataclass(frozen=True)
class Recommendation:
    choice: InstanceOption | None
    serverless: ServerlessOption
    options: list[InstanceOption]
    gpu_reason: str

    @property
    def serverless_cheaper(self) -> bool:
        if not self.serverless.meets_slo:
            return False
        return self.choice is None or self.serverless.monthly_cost_usd < self.choice.monthly_cost_usd


def _money(value: float) -> float | None:
    return None if math.isinf(value) else round(value, 2)


# ---- queueing ----------------------------------------------------------------------------------------------


def erlang_c(workers: int, offered_load: float) -> float:
    """Probability that a request waits in an M/M/c queue (offered load a = lambda/mu < c)."""
    if offered_load <= 0:
        return 0.0
    if offered_load >= workers:
        return 1.0
    b = 1.0  # Erlang B by its stable recursion, then C from B
    for k in range(1, workers + 1):
        b = offered_load * b / (k + offered_load * b)
    rho = offered_load / workers
    return b / (1.0 - rho * (1.0 - b))


def wait_p99_ms(workers: int, arrival_rps: float, worker_rps: float) -> float:
    """p99 of the queueing wait: P(W > t) = C * exp(-(c*mu - lambda) * t)."""
    spare = workers * worker_rps - arrival_rps
    if spare <= 0:
        return math.inf
    c = erlang_c(workers, arrival_rps / worker_rps)
    if c <= 1.0 - _P99:
        return 0.0
    return math.log(c / (1.0 - _P99)) / spare * 1000.0


# ---- instances ---------------------------------------------------------------------------------------------


def speed_factor(spec: InstanceSpec, profile: Profile) -> float:
    """Throughput of one worker on ``spec`` relative to one core of the measuring machine."""
    cores = 1.0 + (spec.vcpu - 1) * profile.parallel_efficiency
    factor = cores / spec.vcpu
    if spec.burstable_baseline is not None:
        factor *= spec.burstable_baseline
    if spec.gpu:
        factor *= profile.gpu_speedup
    return factor


def latency_factor(spec: InstanceSpec, profile: Profile) -> float:
    """Speed of one request alone on ``spec`` relative to the measuring machine."""
    factor = spec.burstable_baseline if spec.burstable_baseline is not None else 1.0
    return factor * (profile.gpu_speedup if spec.gpu else 1.0)


def evaluate_instance(
    spec: InstanceSpec, hourly_usd: float, profile: Profile, traffic: Traffic, assume: Assumptions
) -> InstanceOption:
    def rejected(reason: str) -> InstanceOption:
        return InstanceOption(spec.name, spec.vcpu, spec.gpu, spec.accelerator, hourly_usd, False, reason)

    if not spec.realtime_hosting:
        return rejected("not offered for real-time endpoints")
    workers = spec.vcpu
    needed_mb = workers * (assume.runtime_memory_mb + 3.0 * profile.model_mb)
    if needed_mb > spec.memory_gib * 1024.0:
        return rejected(f"{workers} workers need {needed_mb:.0f} MB, more than its {spec.memory_gib:g} GiB")
    speed = speed_factor(spec, profile)
    worker_rps = speed * profile.per_core_rps
    # A lone request meets no contention between workers: only CPU throttling and a GPU change its latency.
    unloaded = profile.base_p99_ms / latency_factor(spec, profile) + assume.network_overhead_ms
    if unloaded > traffic.p99_ms:
        return rejected(f"one request alone takes p99 {unloaded:.1f} ms here, over the {traffic.p99_ms:g} ms SLO")
    capacity = _max_arrival(workers, worker_rps, traffic.p99_ms - unloaded, assume.max_utilisation)
    base = max(assume.min_instances, math.ceil(traffic.rps / capacity))
    peak = max(base, math.ceil(traffic.peak_rps / capacity))
    if peak > assume.max_instances:
        return rejected(f"needs {peak} instances at the peak, over the limit of {assume.max_instances}")
    peak_hours = min(24.0, traffic.peak_hours_per_day) * DAYS_PER_MONTH
    monthly = hourly_usd * (base * (HOURS_PER_MONTH - peak_hours) + peak * peak_hours)
    p99 = unloaded + wait_p99_ms(workers, traffic.peak_rps / peak, worker_rps)
    return InstanceOption(
        instance_type=spec.name,
        vcpu=spec.vcpu,
        gpu=spec.gpu,
        accelerator=spec.accelerator,
        hourly_usd=hourly_usd,
        meets_slo=True,
        reason="",
        capacity_rps=capacity,
        instance_count=base,
        max_instance_count=peak,
        invocations_per_instance_target=max(1, math.floor(capacity * 60.0)),
        predicted_p99_ms=p99,
        monthly_cost_usd=monthly,
    )


def _max_arrival(workers: int, worker_rps: float, wait_budget_ms: float, max_utilisation: float) -> float:
    """Largest per-instance arrival rate whose p99 wait fits the budget and whose utilisation fits the cap."""
    high = workers * worker_rps * max_utilisation
    if wait_p99_ms(workers, high, worker_rps) <= wait_budget_ms:
        return high
    low = 0.0
    for _ in range(60):  # the p99 wait grows monotonically with the arrival rate: bisect
        mid = (low + high) / 2.0
        if wait_p99_ms(workers, mid, worker_rps) <= wait_budget_ms:
            low = mid
        else:
            high = mid
    return low


# ---- serverless --------------------------------------------------------------------------------------------


def evaluate_serverless(
    catalogue: Catalogue, region: str, profile: Profile, traffic: Traffic, assume: Assumptions
) -> ServerlessOption:
    gb_second = catalogue.service("serverless_gb_second", region).usd
    gb_processed = catalogue.service("serverless_gb_processed", region).usd
    need_mb = assume.runtime_memory_mb + 3.0 * profile.model_mb
    memory = next((m for m in catalogue.serverless_memory_sizes_mb if m >= need_mb), None)
    if memory is None:
        return ServerlessOption(0, 0, False, f"the model needs {need_mb:.0f} MB", math.inf, 1.0, math.inf)
    warm_p99 = profile.base_p99_ms + assume.network_overhead_ms + assume.serverless_overhead_ms
    mean_s = (profile.base_p50_ms + assume.serverless_overhead_ms) / 1000.0
    busy = traffic.peak_rps * mean_s  # Little's law: containers busy at the peak
    concurrency = max(1, math.ceil(busy * 2.0))  # twice the busy count, so bursts are not throttled
    requests = traffic.rps * SECONDS_PER_MONTH
    compute = requests * profile.service_ms / 1000.0 * memory / 1024.0 * gb_second
    data = requests * (profile.request_bytes + profile.response_bytes) / 1e9 * gb_processed
    cost = compute + data
    containers = max(1.0, traffic.rps * mean_s)
    cold_share = min(1.0, containers * (60.0 / assume.serverless_recycle_minutes) / max(traffic.rps * 3600.0, 1e-9))
    p99 = warm_p99
    if cold_share >= _COLD_START_SHARE_LIMIT:
        p99 = warm_p99 + assume.serverless_cold_start_ms
    reason = ""
    if concurrency > catalogue.serverless_max_concurrency:
        reason = f"needs max concurrency {concurrency}, over serverless's {catalogue.serverless_max_concurrency}"
    elif p99 > traffic.p99_ms:
        why = f"cold starts are {cold_share:.1%} of requests" if cold_share >= _COLD_START_SHARE_LIMIT else "warm"
        reason = f"p99 {p99:.0f} ms ({why}) is over the {traffic.p99_ms:g} ms SLO"
    return ServerlessOption(memory, min(concurrency, 200), not reason, reason, p99, cold_share, cost)


# ---- recommendation ----------------------------------------------------------------------------------------


def recommend(
    catalogue: Catalogue, region: str, profile: Profile, traffic: Traffic, assume: Assumptions | None = None
) -> Recommendation:
    """The cheapest instance configuration meeting the SLO, the serverless alternative and the GPU verdict."""
    assume = assume or Assumptions()
    _check_inputs(profile, traffic, assume)
    catalogue.require_region(region)
    options = [
        evaluate_instance(spec, spec.prices[region].usd, profile, traffic, assume)
        for spec in catalogue.instances.values()
        if region in spec.prices
    ]
    feasible = sorted((o for o in options if o.meets_slo), key=_rank)
    choice = feasible[0] if feasible else None
    serverless = evaluate_serverless(catalogue, region, profile, traffic, assume)
    return Recommendation(choice, serverless, options, gpu_verdict(choice, options, profile, traffic))


def _rank(option: InstanceOption) -> tuple[float, int, bool, str]:
    # Cheapest first; on a tie prefer fewer instances, then no GPU, then a stable name order.
    return (round(option.monthly_cost_usd, 2), option.max_instance_count, option.gpu, option.instance_type)


def _check_inputs(profile: Profile, traffic: Traffic, assume: Assumptions) -> None:
    if not traffic.rps > 0:
        raise ValueError(f"rps must be > 0, got {traffic.rps}")
    if not traffic.p99_ms > 0:
        raise ValueError(f"p99-ms must be > 0, got {traffic.p99_ms}")
    if traffic.peak_factor < 1:
        raise ValueError(f"peak-factor must be >= 1, got {traffic.peak_factor}")
    if not 0 < profile.parallel_efficiency <= 1:
        raise ValueError(f"parallel efficiency must be within (0, 1], got {profile.parallel_efficiency}")
    if not profile.gpu_speedup > 0:
        raise ValueError(f"gpu speedup must be > 0, got {profile.gpu_speedup}")
    if not 0 < assume.max_utilisation < 1:
        raise ValueError(f"max utilisation must be within (0, 1), got {assume.max_utilisation}")
    if profile.service_ms <= 0 or profile.base_p99_ms <= 0:
        raise ValueError("measured service time and p99 must be > 0")


def gpu_verdict(
    choice: InstanceOption | None, options: list[InstanceOption], profile: Profile, traffic: Traffic
) -> str:
    gpus = sorted((o for o in options if o.gpu and o.meets_slo), key=_rank)
    cpus = sorted((o for o in options if not o.gpu and o.meets_slo), key=_rank)
    speedup = profile.gpu_speedup
    gain = (
        "the model gains nothing from a GPU (no measured GPU speedup: a scikit-learn pipeline predicts on the CPU), "
        "so a GPU instance only adds the CPU capacity of its vCPUs"
        if speedup <= 1.0
        else f"with the given GPU speedup of {speedup:g}x"
    )
    if choice is None:
        return f"no configuration meets the SLO; {gain}"
    if choice.gpu:
        if not cpus:
            best = min((o for o in options if not o.gpu), key=lambda o: _unloaded_hint(o, traffic))
            return (
                f"yes: no CPU instance meets the {traffic.p99_ms:g} ms p99 SLO ({best.instance_type}: {best.reason}); "
                f"{gain}, {choice.instance_type} does"
            )
        return (
            f"yes: {gain}, {choice.instance_type} is the cheapest that meets the SLO "
            f"(${choice.monthly_cost_usd:,.0f}/month vs ${cpus[0].monthly_cost_usd:,.0f} for {cpus[0].instance_type})"
        )
    if not gpus:
        return f"no: {gain}, and no GPU configuration meets the SLO"
    best = gpus[0]
    return (
        f"no: {gain}; the cheapest GPU configuration, {best.max_instance_count} x {best.instance_type}, costs "
        f"${best.monthly_cost_usd:,.0f}/month vs ${choice.monthly_cost_usd:,.0f} for the choice"
    )


def _unloaded_hint(option: InstanceOption, traffic: Traffic) -> float:
    # Rejected options carry no latency figure; prefer one rejected for latency when naming the best CPU.
    return 0.0 if "SLO" in option.reason else 1.0
