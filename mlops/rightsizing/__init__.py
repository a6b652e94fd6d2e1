"""Right-sizing and cost: measure the model's inference code locally, price candidate SageMaker configurations
from a versioned catalogue, recommend the cheapest one that meets a latency SLO, and price the whole
architecture from the synthesized templates.

Modules: ``catalogue`` (the price data file), ``measure`` (bounded loopback load test), ``capacity`` (pure
capacity and recommendation functions), ``apply`` (``--apply``), ``cost`` (``mlops cost``).
"""
