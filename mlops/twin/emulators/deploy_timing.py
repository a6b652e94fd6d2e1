"""AWS's timing around the deploy function, modelled where moto has none: stack updates that take minutes,
Lambda's asynchronous retries, and SageMaker's automatic rollback.

- `Timeline`: a discrete-event clock (seconds); events run in time order.
- `AsyncInvoker`: Lambda's asynchronous invocation of a handler. A function error is retried twice, one minute
  and then two minutes later; after that (or past the maximum event age) the event goes to the on-failure
  destination / dead-letter queue
  (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html).
- `ServingStackModel`: the serving stack as the deploy function sees it through CloudFormation. UpdateStack with
  UsePreviousTemplate re-resolves the SSM-typed parameter when the call is accepted
  (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/parameters-section-structure.html#aws-ssm-parameter-types);
  while an update runs, another UpdateStack is refused with ValidationError "... is in UPDATE_IN_PROGRESS state and
  can not be updated"; the update lasts provisioning + bake + termination wait
  (https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-blue-green.html) and ends with a
  'CloudFormation Stack Status Change' event. The endpoint itself lives in moto's SageMaker (model, endpoint
  config, endpoint); moto has no UpdateEndpoint, so the model switches the endpoint's config the way a finished
  blue/green update does. Outcomes: "succeed"; "rollback" (the alarms fired and CloudFormation rolled the stack
  back: UPDATE_ROLLBACK_COMPLETE); "silent_rollback" (SageMaker rolled the endpoint back to the old config but
  CloudFormation reported UPDATE_COMPLETE, which AWS does not document either way and Terraform is known to do).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from contracts import events as ev
from contracts.sentinels import NONE

RETRY_DELAYS_S = (60.0, 120.0)  # Lambda async: first retry after 1 min, second after 2 more
MAX_EVENT_AGE_S = 6 * 3600.0
PARAMETER_KEY = "ApprovedModelPackageArn"


@dataclass
class Timeline:
    now: float = 0.0
    _queue: list[tuple[float, int, Callable[[], None]]] = field(default_factory=list)
    _seq: itertools.count = field(default_factory=itertools.count)

    def at(self, delay_s: float, action: Callable[[], None]) -> None:
        heapq.heappush(self._queue, (self.now + delay_s, next(self._seq), action))

    def run(self, until_s: float = 24 * 3600.0) -> None:
        while self._queue and self._queue[0][0] <= until_s:
            self.now, _, action = heapq.heappop(self._queue)
            action()


@dataclass
class AsyncInvoker:
    """One function invoked asynchronously: results, errors and the dead-letter queue, in model time."""

    timeline: Timeline
    handler: Callable[[dict[str, Any]], Any]
    results: list[tuple[float, Any]] = field(default_factory=list)
    errors: list[tuple[float, str]] = field(default_factory=list)
    dead_letters: list[dict[str, Any]] = field(default_factory=list)

    def invoke(self, event: dict[str, Any]) -> None:
        self.timeline.at(0.0, lambda: self._attempt(event, self.timeline.now, 0))

    def _attempt(self, event: dict[str, Any], received: float, attempt: int) -> None:
        try:
            self.results.append((self.timeline.now, self.handler(event)))
        except Exception as exc:  # a function error: Lambda retries it, then gives up to the DLQ
            self.errors.append((self.timeline.now, f"{type(exc).__name__}: {exc}"))
            if attempt < len(RETRY_DELAYS_S) and self.timeline.now - received < MAX_EVENT_AGE_S:
                self.timeline.at(RETRY_DELAYS_S[attempt], lambda: self._attempt(event, received, attempt + 1))
            else:
                self.dead_letters.append(event)


def _error(code: str, message: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


@dataclass
class ServingStackModel:
    """The cloudformation client the deploy function gets, for one serving stack."""

    timeline: Timeline
    ssm: Any
    sagemaker: Any
    stack_name: str
    parameter_name: str
    endpoint_name: str
    update_seconds: float = 20 * 60.0
    outcome: str = "succeed"  # "succeed" | "rollback" | "silent_rollback" (see the module docstring)
    refuse_next: str = ""  # a one-off refusal message for the next UpdateStack (e.g. a validation error)
    on_status: Callable[[dict[str, Any]], None] | None = None  # EventBridge -> the deploy function
    status: str = "CREATE_COMPLETE"
    resolved: str = NONE
    config_physical_id: str = ""
    updates: list[dict[str, Any]] = field(default_factory=list)
    _versions: itertools.count = field(default_factory=lambda: itertools.count(1))

    @property
    def stack_id(self) -> str:
        return f"arn:aws:cloudformation:us-east-1:111111111111:stack/{self.stack_name}/1"

    def describe_stacks(self, StackName: str) -> dict[str, Any]:
        parameter = {
            "ParameterKey": PARAMETER_KEY,
            "ParameterValue": self.parameter_name,
            "ResolvedValue": self.resolved,
        }
        outputs = [{"OutputKey": "DeployedModelPackageArn", "OutputValue": self.resolved}]
        stack = {"StackName": self.stack_name, "StackId": self.stack_id, "StackStatus": self.status,
                 "Parameters": [parameter], "Outputs": outputs}  # fmt: skip
        return {"Stacks": [stack]}

    def describe_stack_resource(self, StackName: str, LogicalResourceId: str) -> dict[str, Any]:
        if not self.config_physical_id:
            raise _error("ValidationError", f"Resource {LogicalResourceId} does not exist for stack {StackName}",
                         "DescribeStackResource")  # fmt: skip
        return {"StackResourceDetail": {"LogicalResourceId": LogicalResourceId,
                                        "PhysicalResourceId": self.config_physical_id}}  # fmt: skip

    def update_stack(self, **request: Any) -> dict[str, Any]:
        self.updates.append(request)
        if self.status.endswith("_IN_PROGRESS"):
            raise _error("ValidationError", f"Stack:{self.stack_id} is in {self.status} state and can not be updated.",
                         "UpdateStack")  # fmt: skip
        if self.refuse_next:
            message, self.refuse_next = self.refuse_next, ""
            raise _error("ValidationError", message, "UpdateStack")
        desired = str(self.ssm.get_parameter(Name=self.parameter_name)["Parameter"]["Value"])  # resolved now
        if desired == self.resolved:
            raise _error("ValidationError", "No updates are to be performed.", "UpdateStack")
        self.status = "UPDATE_IN_PROGRESS"
        self.timeline.at(self.update_seconds, lambda: self._finish(desired))
        return {"StackId": self.stack_id}

    def deploy_now(self, package_arn: str) -> None:
        """The endpoint's first creation (no blue/green): the stack serves `package_arn` from now on."""
        self.resolved = package_arn
        self.config_physical_id = self._create_config(package_arn)
        self.sagemaker.create_endpoint(EndpointName=self.endpoint_name, EndpointConfigName=self.config_physical_id)

    def _finish(self, desired: str) -> None:
        if self.outcome == "rollback":
            self.status = ev.UPDATE_ROLLBACK_COMPLETE  # the stack and the endpoint keep the old package
        else:
            new_config = self._create_config(desired)
            self.resolved, self.config_physical_id = desired, new_config
            if self.outcome == "succeed":
                self._switch_endpoint(new_config)
            self.status = ev.UPDATE_COMPLETE
        if self.on_status is not None:
            detail = {ev.STACK_ID: self.stack_id, ev.STATUS_DETAILS: {ev.STATUS: self.status}}
            self.on_status({ev.SOURCE: ev.CLOUDFORMATION, ev.DETAIL_TYPE: ev.STACK_STATUS_CHANGE, ev.DETAIL: detail})

    def _create_config(self, package_arn: str) -> str:
        version = next(self._versions)
        model, config = f"Model-{version}", f"EndpointConfig-{version}"
        self.sagemaker.create_model(ModelName=model, ExecutionRoleArn="arn:aws:iam::111111111111:role/model",
                                    Containers=[{"ModelPackageName": package_arn}])  # fmt: skip
        self.sagemaker.create_endpoint_config(
            EndpointConfigName=config,
            ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": model, "InitialInstanceCount": 2,
                                 "InstanceType": "ml.m5.large"}],
        )  # fmt: skip
        return config

    def _switch_endpoint(self, config: str) -> None:
        # moto lacks UpdateEndpoint: set the config a finished update leaves, on moto's own endpoint record.
        from moto.sagemaker.models import sagemaker_backends

        for regions in sagemaker_backends.values():
            for backend in regions.values():
                if self.endpoint_name in getattr(backend, "endpoints", {}):
                    backend.endpoints[self.endpoint_name].endpoint_config_name = config
