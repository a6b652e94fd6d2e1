"""Recommendation logic: moves the right way with traffic and SLO; no GPU for a model that does not gain."""

from __future__ import annotations

import dataclasses
import math

import pytest

from mlops.rightsizing.capacity import Profile, Traffic, erlang_c, recommend, wait_p99_ms
from mlops.rightsizing.catalogue import Catalogue

RPS = (0.5, 5, 50, 500, 2000, 10000)
SLOS = (1000, 200, 60, 30, 20)


def test_erlang_c_known_values() -> None:
    assert erlang_c(1, 0.5) == pytest.approx(0.5)  # M/M/1: P(wait) = utilisation
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)
    assert wait_p99_ms(1, 0.0, 10.0) == 0.0
    assert math.isinf(wait_p99_ms(2, 30.0, 10.0))


def test_more_traffic_never_costs_less_nor_uses_fewer_instances(catalogue: Catalogue, profile: Profile) -> None:
    previous_cost, previous_capacity = 0.0, 0.0
    for rps in RPS:
        choice = recommend(catalogue, "us-east-1", profile, Traffic(rps, 100.0)).choice
        assert choice is not None
        capacity = choice.max_instance_count * choice.capacity_rps
        assert choice.monthly_cost_usd >= previous_cost - 1e-9
        assert capacity >= rps * 2 - 1e-6  # the peak fits the planned capacity
        assert capacity >= previous_capacity - 1e-6
        previous_cost, previous_capacity = choice.monthly_cost_usd, capacity


def test_a_tighter_slo_never_costs_less_and_eventually_cannot_be_met(catalogue: Catalogue, profile: Profile) -> None:
    previous = 0.0
    for slo in SLOS:
        choice = recommend(catalogue, "us-east-1", profile, Traffic(2000, slo)).choice
        assert choice is not None and choice.predicted_p99_ms <= slo
        assert choice.monthly_cost_usd >= previous - 1e-9
        previous = choice.monthly_cost_usd
    rec = recommend(catalogue, "us-east-1", profile, Traffic(2000, 5.0))
    assert rec.choice is None
    assert "no configuration meets the SLO" in rec.gpu_reason


def test_scaling_target_and_counts_follow_the_capacity(catalogue: Catalogue, profile: Profile) -> None:
    choice = recommend(catalogue, "us-east-1", profile, Traffic(3000, 100.0, peak_factor=3.0)).choice
    assert choice is not None
    assert choice.max_instance_count > choice.instance_count >= 1
    # Target tracking adds instances before the planned capacity is used up: target x max >= peak per minute.
    assert choice.invocations_per_instance_target * choice.max_instance_count >= 9000 * 60 * 0.999


def test_serverless_is_the_cheaper_alternative_only_at_low_traffic(catalogue: Catalogue, profile: Profile) -> None:
    low = recommend(catalogue, "us-east-1", profile, Traffic(0.5, 200.0))
    high = recommend(catalogue, "us-east-1", profile, Traffic(5000, 200.0))
    assert low.serverless.meets_slo and low.serverless_cheaper
    assert not high.serverless_cheaper and "max concurrency" in high.serverless.reason
    # Per request, serverless costs the same at any traffic while instances get busier: its edge shrinks.
    ratios = []
    for rps in (0.5, 5, 50, 500):
        rec = recommend(catalogue, "us-east-1", profile, Traffic(rps, 200.0))
        assert rec.choice is not None
        ratios.append(rec.serverless.monthly_cost_usd / rec.choice.monthly_cost_usd)
    assert ratios == sorted(ratios)
    # Rare traffic: cold starts are more than 1% of requests, so they count against a tight p99.
    rare = recommend(catalogue, "us-east-1", profile, Traffic(0.001, 200.0))
    assert not rare.serverless.meets_slo and "cold starts" in rare.serverless.reason


def test_no_gpu_without_a_gpu_speedup(catalogue: Catalogue, profile: Profile) -> None:
    for rps in RPS:
        for slo in SLOS:
            rec = recommend(catalogue, "us-east-1", profile, Traffic(rps, slo))
            assert rec.choice is not None and not rec.choice.gpu, (rps, slo)
            assert rec.gpu_reason.startswith("no: the model gains nothing from a GPU")


def test_gpu_when_the_slo_demands_it_and_the_model_gains(catalogue: Catalogue) -> None:
    slow = Profile(service_ms=200.0, base_p50_ms=210.0, base_p99_ms=260.0, parallel_efficiency=0.9)
    traffic = Traffic(20, 100.0)
    assert recommend(catalogue, "us-east-1", slow, traffic).choice is None  # no CPU instance is fast enough
    rec = recommend(catalogue, "us-east-1", dataclasses.replace(slow, gpu_speedup=10.0), traffic)
    assert rec.choice is not None and rec.choice.gpu
    assert rec.gpu_reason.startswith("yes: no CPU instance meets the 100 ms p99 SLO")


def test_burstable_only_at_low_traffic_and_never_a_non_hosting_type(catalogue: Catalogue, profile: Profile) -> None:
    low = recommend(catalogue, "us-east-1", profile, Traffic(1, 200.0))
    high = recommend(catalogue, "us-east-1", profile, Traffic(5000, 200.0))
    assert low.choice is not None and low.choice.instance_type.startswith("ml.t2.")
    assert high.choice is not None and not high.choice.instance_type.startswith("ml.t")
    t3 = next(o for o in low.options if o.instance_type == "ml.t3.medium")
    assert not t3.meets_slo and "real-time" in t3.reason


def test_bad_traffic_is_rejected(catalogue: Catalogue, profile: Profile) -> None:
    with pytest.raises(ValueError, match="rps"):
        recommend(catalogue, "us-east-1", profile, Traffic(0, 100.0))
    with pytest.raises(ValueError, match="peak-factor"):
        recommend(catalogue, "us-east-1", profile, Traffic(1, 100.0, peak_factor=0.5))
