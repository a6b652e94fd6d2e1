"""Model package metadata the tests register: what the build pipeline's governance step writes for a ready model."""

from __future__ import annotations

# The keys the approval paths read (lambdas/shared/readiness_gate.py); the full set is PACKAGE_METADATA_KEYS.
READY = {
    "lineage_complete": "true",
    "lineage_missing": "none",
    "readiness_verdict": "ready",
    "readiness_failed": "none",
}
