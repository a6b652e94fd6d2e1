"""Governance: lineage of every model package, the readiness policy (prototype -> staging), model cards."""
