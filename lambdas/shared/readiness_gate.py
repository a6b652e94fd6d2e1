"""Whether a model package may be approved, from its registry metadata: pure logic, no AWS.

The build pipeline records lineage and the readiness verdict in the package's CustomerMetadataProperties
(`lineage_complete`, `lineage_missing`, `readiness_verdict`, `readiness_failed`; written by the Governance step,
pipeline_code/governance.py). A package without them, with incomplete lineage or with a failed readiness check is
refused: approving it would send an untraceable or unproven model to the endpoint. The values are in
contracts/metadata_codec.py's encoding (shipped in each handler's asset with contracts/): read with its decoders.
"""

from __future__ import annotations

from collections.abc import Mapping

from contracts import package_metadata as pm
from contracts.metadata_codec import decode_list, decode_text


class PackageNotReady(RuntimeError):
    """Approval refused; the Step Functions error name is this class's name, the cause is the message."""


def refusal(arn: str, metadata: Mapping[str, str] | None) -> str | None:
    """The reason to refuse approving `arn`, or None when its metadata says lineage complete and ready."""
    metadata = metadata or {}
    reasons = []
    if pm.LINEAGE_COMPLETE not in metadata:
        reasons.append("no lineage recorded in the package metadata")
    elif decode_text(metadata[pm.LINEAGE_COMPLETE]) != pm.TRUE:
        missing = ", ".join(decode_list(metadata.get(pm.LINEAGE_MISSING))) or "unknown fields"
        reasons.append(f"lineage incomplete (missing: {missing})")
    if pm.READINESS_VERDICT not in metadata:
        reasons.append("no readiness verdict recorded in the package metadata")
    elif decode_text(metadata[pm.READINESS_VERDICT]) != pm.READY:
        failed = ", ".join(decode_list(metadata.get(pm.READINESS_FAILED))) or "unknown"
        reasons.append(f"readiness failed (checks: {failed})")
    return f"{arn}: not approvable: {'; '.join(reasons)}" if reasons else None
