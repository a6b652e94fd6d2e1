"""What CloudFormation does to a stack's resources on an update, for the resources the twin owns.

moto re-runs no resource handler on an update, so the twin models the two that decide who owns the desired state:

- `AWS::SSM::Parameter`: every property has "Update requires: No interruption" and the update handler puts the
  template's `Value` (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ssm-parameter.html):
  whatever changed (a tag, the description), the parameter's value becomes the template's again.
- CDK's `AwsCustomResource` (`Custom::AWS` or a named `Custom::...` with `Create`/`Update`/`Delete` SDK calls):
  CloudFormation sends an Update request when its properties change
  (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-requesttypes-update.html); the
  construct's runtime then makes the `Update` call, or none when the template has none ("onUpdate ... Default: no
  call", aws-cdk-lib custom-resources AwsCustomResourceProps). Create runs the `Create` call, honouring
  `ignoreErrorCodesMatching` as the runtime does.

The twin runs the SDK call with boto3 (the construct's runtime uses the JavaScript SDK: same API, camelCase action).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

ClientFactory = Callable[[str], Any]
Resolve = Callable[[Any], Any]


def is_sdk_call_resource(resource: dict[str, Any]) -> bool:
    """An AwsCustomResource: a custom resource whose properties carry the SDK calls."""
    props = resource.get("Properties", {})
    return str(resource.get("Type", "")).startswith("Custom::") and any(k in props for k in ("Create", "Update"))


def run_sdk_call(call: Any, clients: ClientFactory, resolve: Resolve) -> dict[str, Any] | None:
    """Run one AwsCustomResource call (the JSON string of the template, resolved); None when there is no call."""
    if call is None:
        return None
    spec = json.loads(resolve(call)) if not isinstance(call, dict) else call
    service = str(spec["service"]).removeprefix("@aws-sdk/client-").lower()
    action = re.sub(r"(?<!^)(?=[A-Z])", "_", str(spec["action"])).lower()
    try:
        return dict(getattr(clients(service), action)(**spec.get("parameters", {})))
    except ClientError as exc:
        ignore = spec.get("ignoreErrorCodesMatching")
        if ignore and re.search(ignore, exc.response["Error"]["Code"]):
            return {}
        raise


def update_resources(old: dict[str, Any], new: dict[str, Any], clients: ClientFactory, resolve: Resolve) -> list[str]:
    """Apply an update from template `old` to `new` to the twin's SSM parameters and SDK-call custom resources.

    Returns the logical IDs whose update handler ran (resources whose properties did not change are not touched,
    as in CloudFormation).
    """
    updated = []
    for logical, resource in new["Resources"].items():
        before = old["Resources"].get(logical)
        if before is None or before.get("Properties") == resource.get("Properties"):
            continue
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::SSM::Parameter":
            clients("ssm").put_parameter(
                Name=resolve(props["Name"]), Value=resolve(props["Value"]), Type="String", Overwrite=True
            )
            updated.append(logical)
        elif is_sdk_call_resource(resource):
            run_sdk_call(props.get("Update"), clients, resolve)
            updated.append(logical)
    return updated
