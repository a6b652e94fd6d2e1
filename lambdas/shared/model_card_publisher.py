"""Publish the SageMaker Model Card of a package being approved: one card per approved package.

The card's content is built once, at build time, by the shared builder (mlops/governance/model_card.py) and
stored next to the evaluation report; the package's metadata `model_card_uri` says where. Here it is only read,
marked Approved, and created (or, when the card already exists, updated to a new version). Packages that record
no card are approved without one: the readiness verdict already required a filled card at build time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

from contracts.metadata_codec import decode_text
from contracts.package_metadata import MODEL_CARD_URI as CARD_URI_KEY
from lambdas.shared.clients import client

_CARD_NAME = re.compile(r"[^a-zA-Z0-9]+")


def card_name(arn: str) -> str:
    """`<group>-<version>` from a model package ARN, in the model card name pattern (63 characters at most)."""
    group_version = arn.split(":model-package/", 1)[-1]
    return _CARD_NAME.sub("-", group_version).strip("-")[-63:].lstrip("-")


def publish_model_card(sagemaker: Any, s3: Any, arn: str, metadata: Mapping[str, str] | None) -> str | None:
    """Create (or update) the package's model card as Approved; its ARN, or None when the package has no card."""
    uri = decode_text((metadata or {}).get(CARD_URI_KEY)) or ""  # in metadata_codec's encoding, like every value
    location = urlparse(uri)
    if location.scheme != "s3":
        return None
    s3 = s3 or client("s3")
    body = s3.get_object(Bucket=location.netloc, Key=location.path.lstrip("/"))["Body"].read()
    card = json.loads(body)
    details = card.setdefault("model_package_details", {})
    details.update(model_package_arn=arn, model_approval_status="Approved")
    name, content = card_name(arn), json.dumps(card)
    try:
        return str(
            sagemaker.create_model_card(ModelCardName=name, Content=content, ModelCardStatus="Approved")["ModelCardArn"]
        )
    except sagemaker.exceptions.ConflictException:
        # Approved again (a retried task): the card gets a new version rather than failing the approval.
        return str(
            sagemaker.update_model_card(ModelCardName=name, Content=content, ModelCardStatus="Approved")["ModelCardArn"]
        )
