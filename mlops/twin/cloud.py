"""The twin's cloud: moto in process, populated from the synthesized templates, with real code in moto's gaps.

What moto runs: S3, SSM, DynamoDB, SNS, the SageMaker registry, CloudFormation stacks, and Step Functions, whose
state machine definition is the synthesized one (resolved against the resources created here).
What the twin adds, as real code: Lambda invocations run the synthesized functions' handlers
(`mlops.twin.emulators.lambdas`); a SageMaker pipeline execution runs the pipeline's own step scripts through
`mlops.local.pipeline` in a background thread and registers the model in moto's registry.
The serving stack cannot be created in moto (it has no SageMaker endpoints): the twin registers a CloudFormation
stack with the serving stack's parameter and output (its contract with the deploy function), and the local
endpoint serves the models.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws
from moto.sagemaker.models import SageMakerModelBackend

from mlops.aws_rules.iam_policy import IamEnforcer
from mlops.aws_rules.interception import enforcing
from mlops.aws_rules.offline import enforcing_offline_rules
from mlops.botocore_models import models_parsed_once
from mlops.moto_fixes import atomic_dynamodb_writes, aws_model_package_updates
from mlops.twin.emulators.iam_roles import resource_facts, role_policies
from mlops.twin.emulators.lambdas import DeployedFunction, LambdaDispatcher
from mlops.twin.emulators.retry_clock import scaled_retry_waits
from mlops.twin.emulators.stack_updates import is_sdk_call_resource, run_sdk_call
from mlops.twin.emulators.state_machine_principals import state_machine_principals
from mlops.twin.templates import Assembly, Resolver

PipelineRunner = Callable[[str, dict[str, str]], None]
"""Runs one pipeline execution: (execution ARN, parameters) -> registers a package, or raises to fail the run."""

TWIN_RETRY_WAIT_SCALE = 0.1  # a denied publish's three retries (2, 4, 8 s in AWS) take 1.4 s

_SIMPLE_REFS = {
    "AWS::IAM::Role": "arn:aws:iam::{account}:role/{id}",
    "AWS::KMS::Key": "arn:aws:kms:{region}:{account}:key/{id}",
    "AWS::Logs::LogGroup": "arn:aws:logs:{region}:{account}:log-group:{id}",
    "AWS::SQS::Queue": "arn:aws:sqs:{region}:{account}:{id}",
}


@dataclass
class TwinCloud:
    assembly: Assembly
    region: str = "us-east-1"
    account: str = "111111111111"
    dispatcher: LambdaDispatcher = field(default_factory=LambdaDispatcher)
    pipeline_runner: PipelineRunner | None = None
    pipeline_threads: list[threading.Thread] = field(default_factory=list)
    pipeline_failures: list[str] = field(default_factory=list)
    pipeline_tracebacks: list[str] = field(default_factory=list)
    # Every call a deployed principal makes is evaluated against its synthesized policies (mlops.aws_rules.iam_policy).
    enforce_iam: bool = True
    iam: IamEnforcer | None = None
    # Step Functions retries wait this fraction of their interval (mlops/twin/emulators/retry_clock.py).
    retry_wait_scale: float = TWIN_RETRY_WAIT_SCALE

    def __post_init__(self) -> None:
        pseudo = {"AWS::Region": self.region, "AWS::AccountId": self.account, "AWS::Partition": "aws",
                  "AWS::URLSuffix": "amazonaws.com", "AWS::NoValue": ""}  # fmt: skip
        self.resolver = Resolver(self.assembly, pseudo)

    @contextlib.contextmanager
    def running(self) -> Iterator[TwinCloud]:
        saved = {k: os.environ.get(k) for k in ("MOTO_ACCOUNT_ID", "AWS_DEFAULT_REGION")}
        os.environ.update({"MOTO_ACCOUNT_ID": self.account, "AWS_DEFAULT_REGION": self.region})
        config = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
        try:
            with (
                models_parsed_once(),  # every Lambda container's clients would parse their models again
                mock_aws(config=config),
                # AWS's server-side rules on every request (moto accepts what AWS refuses), see mlops/aws_rules.
                enforcing_offline_rules(),
                aws_model_package_updates(),
                atomic_dynamodb_writes(),  # the retraining guard's conditional lock write, as DynamoDB serves it
                self.dispatcher.installed(),
                scaled_retry_waits(self.retry_wait_scale),
                self._pipeline_hook(),
            ):
                self._create_resources()
                with self._iam_enforcement():
                    yield self
                    for thread in self.pipeline_threads:
                        thread.join(timeout=120)
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    @contextlib.contextmanager
    def _iam_enforcement(self) -> Iterator[None]:
        if not self.enforce_iam:
            yield
            return
        self.iam = IamEnforcer(role_policies(self.resolver, self.account), resource_facts(self.resolver))
        with enforcing(self.iam), state_machine_principals():
            yield

    def role_arn(self, stack: str, reference: Any) -> str:
        """The ARN of a synthesized role as the twin names it (`arn:aws:iam::<account>:role/<logical id>`)."""
        return str(self.resolver.resolve(stack, reference))

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=self.region)

    # -- resources -------------------------------------------------------------------------------------------

    def _create_resources(self) -> None:
        # moto checks that a function's role exists and trusts Lambda; one role stands in for the synthesized ones.
        trust = {
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ]
        }
        self.client("iam").create_role(RoleName="lambda-role", AssumeRolePolicyDocument=json.dumps(trust))
        for stack, template in self.assembly.templates.items():
            for logical, resource in template["Resources"].items():
                kind = resource["Type"]
                if kind == "AWS::SageMaker::MlflowTrackingServer":
                    # Offline, runs log to a local MLflow store; the ARN only has to resolve.
                    arn = f"arn:aws:sagemaker:{self.region}:{self.account}:mlflow-tracking-server/{logical}"
                    self.resolver.attributes[(stack, logical, "TrackingServerArn")] = arn
                if kind in _SIMPLE_REFS:
                    arn = _SIMPLE_REFS[kind].format(region=self.region, account=self.account, id=logical)
                    self.resolver.physical[(stack, logical)] = arn if kind == "AWS::KMS::Key" else logical
                    self.resolver.attributes[(stack, logical, "Arn")] = arn
        creators = {
            "AWS::S3::Bucket": self._bucket,
            "AWS::SSM::Parameter": self._parameter,
            "AWS::SNS::Topic": self._topic,
            "AWS::DynamoDB::GlobalTable": self._table,
            "AWS::SageMaker::ModelPackageGroup": self._model_package_group,
            "AWS::SageMaker::Pipeline": self._pipeline,
            "AWS::Lambda::Function": self._function,
            "AWS::StepFunctions::StateMachine": self._state_machine,
        }
        # Order matters: functions reference tables and topics; state machines reference functions.
        for kind, create in creators.items():
            for stack, template in self.assembly.templates.items():
                for logical, resource in template["Resources"].items():
                    if resource["Type"] == kind:
                        create(stack, logical, resource.get("Properties", {}))
        for stack, template in self.assembly.templates.items():
            for logical, resource in template["Resources"].items():
                if is_sdk_call_resource(resource):  # after the parameters: a create-once call must find them
                    self._sdk_call_resource(stack, logical, resource["Properties"])
        self._serving_contract_stack()
        self.dispatcher.add_environment_keys()

    def _bucket(self, stack: str, logical: str, props: dict[str, Any]) -> None:
        name = logical.lower()
        self.client("s3").create_bucket(Bucket=name)
        self.resolver.physical[(stack, logical)] = name
        self.resolver.attributes[(stack, logical, "Arn")] = f"arn:aws:s3:::{name}"

    def _parameter(self, stack: str, logical: str, props: dict[str, Any]) -> None:
        name = self.resolver.resolve(stack, props["Name"])
        self.client("ssm").put_parameter(Name=name, Value=self.resolver.resolve(stack, props["Value"]), Type="String")
        self.resolver.physical[(stack, logical)] = name

    def _topic(self, stack: str, logical: str, props: dict[str, Any]) -> None:
        # Named per stack, as CloudFormation names them (<stack>-<logical id>-<suffix>): two stacks' "Notifications"
        # topics are two topics, each with its own key and its own publishers' grants.
        arn = self.client("sns").create_topic(Name=f"{stack}-{logical}")["TopicArn"]
        self.resolver.physical[(stack, logical)] = arn
        self.resolver.attributes[(stack, logical, "TopicArn")] = arn

    def _table(self, stack: str, logical: str, props: dict[str, Any]) -> None:
        self.client("dynamodb").create_table(
            TableName=logical,
            KeySchema=props["KeySchema"],
            AttributeDefinitions=props["AttributeDefinitions"],
            BillingMode="PAY_PER_REQUEST",
        )
        self.resolver.physical[(stack, logical)] = logical
        self.resolver.attributes[(stack, logical, "Arn")] = (
            f"arn:aws:dynamodb:{self.region}:{self.account}:table/{logical}"
        )

    def _model_package_group(self, stack: str, logical: str, props: dict[str, Any]) -> None:
        name = props["ModelPackageGroupName"]
        self.client("sagemaker").create_model_package_group(ModelPackageGroupName=name)
        self.resolver.physical[(stack, logical)] = name

    def _pipeline(self, stack: str, logical: str, props: dict[str, Any]) -> None:
        name = props["PipelineName"]
        self.client("sagemaker").create_pipeline(
            PipelineName=name,
            PipelineDefinition=json.dumps({"Version": "2020-12-01", "Steps": []}),
            RoleArn=self.role_arn(stack, props["RoleArn"]),
        )
        self.resolver.physical[(stack, logical)] = name

    def _sdk_call_resource(self, stack: str, logical: str, props: dict[str, Any]) -> None:
        """CDK's AwsCustomResource, created: its Create SDK call, made as its runtime makes it."""
        run_sdk_call(props.get("Create"), self.client, lambda node: self.resolver.resolve(stack, node))
        self.resolver.physical[(stack, logical)] = logical

    def _function(self, stack: str, logical: str, props: dict[str, Any]) -> None:
        if not str(props.get("Runtime", "")).startswith("python"):
            # CDK's own Node.js providers (AwsCustomResource): the twin makes their SDK calls itself (above).
            return
        name = logical[:64]
        self.client("lambda").create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=f"arn:aws:iam::{self.account}:role/lambda-role",
            Handler=props["Handler"],
            Code={"ZipFile": b"twin: the dispatcher runs the real handler"},
        )
        arn = f"arn:aws:lambda:{self.region}:{self.account}:function:{name}"
        self.resolver.physical[(stack, logical)] = name
        self.resolver.attributes[(stack, logical, "Arn")] = arn
        variables = props.get("Environment", {}).get("Variables", {})
        environment = {k: self._resolve_or_mark(stack, v) for k, v in variables.items()}
        environment["AWS_DEFAULT_REGION"] = self.region
        self.dispatcher.add(
            DeployedFunction(
                name,
                logical,
                stack,
                self.assembly.asset_dir(props["Code"]),
                props["Handler"],
                environment,
                role_arn=self.role_arn(stack, props["Role"]),
            )
        )

    def _resolve_or_mark(self, stack: str, value: Any) -> str:
        """A value the twin cannot resolve is kept visible in the variable, so the handler that reads it fails."""
        try:
            return str(self.resolver.resolve(stack, value))
        except KeyError as exc:
            return f"<twin: unresolved {exc}>"

    def _state_machine(self, stack: str, logical: str, props: dict[str, Any]) -> None:
        definition = self.resolver.resolve(stack, props["DefinitionString"])
        arn = self.client("stepfunctions").create_state_machine(
            name=logical, definition=definition, roleArn=self.role_arn(stack, props["RoleArn"])
        )["stateMachineArn"]
        self.resolver.physical[(stack, logical)] = arn

    def _serving_contract_stack(self) -> None:
        name, template = self.assembly.stack("-serving")
        contract = {
            "Parameters": {"ApprovedModelPackageArn": template["Parameters"]["ApprovedModelPackageArn"]},
            "Resources": {"Contract": {"Type": "AWS::SNS::Topic"}},
            "Outputs": {"DeployedModelPackageArn": template["Outputs"]["DeployedModelPackageArn"]},
        }
        created = self.client("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(contract))
        self.resolver.stack_ids[name] = created["StackId"]

    # -- SageMaker pipeline executions -----------------------------------------------------------------------

    @contextlib.contextmanager
    def _pipeline_hook(self) -> Iterator[None]:
        original = SageMakerModelBackend.start_pipeline_execution
        twin = self

        def start(backend: Any, *args: Any, **kwargs: Any) -> Any:
            result = original(backend, *args, **kwargs)
            arn = result["PipelineExecutionArn"]
            execution = _execution(backend, arn)
            execution.pipeline_execution_status = "Executing"
            parameters = {p["Name"]: p["Value"] for p in (execution.pipeline_parameters or [])}
            thread = threading.Thread(target=twin._run_pipeline, args=(execution, arn, parameters), daemon=True)
            twin.pipeline_threads.append(thread)
            thread.start()
            return result

        SageMakerModelBackend.start_pipeline_execution = start  # type: ignore[method-assign]
        try:
            yield
        finally:
            SageMakerModelBackend.start_pipeline_execution = original  # type: ignore[method-assign]

    def _run_pipeline(self, execution: Any, arn: str, parameters: dict[str, str]) -> None:
        try:
            if self.pipeline_runner is None:
                raise RuntimeError("the twin has no pipeline runner")
            self.pipeline_runner(arn, parameters)
        except Exception as exc:  # the run fails like a SageMaker pipeline step would, with its reason
            reason = f"{type(exc).__name__}: {exc}"
            self.pipeline_tracebacks.append(traceback.format_exc())
            self.pipeline_failures.append(reason)
            execution.pipeline_execution_status = "Failed"
            execution.pipeline_execution_failure_reason = reason
            return
        execution.pipeline_execution_status = "Succeeded"

    # -- Step Functions ----------------------------------------------------------------------------------------

    def state_machine_arn(self, suffix: str) -> str:
        for (_, logical), physical in self.resolver.physical.items():
            if physical.startswith("arn:aws:states:") and logical.startswith(suffix):
                return physical
        raise KeyError(f"no state machine {suffix!r}")

    def start_execution(self, state_machine_arn: str, payload: dict[str, Any], name: str) -> str:
        return str(
            self.client("stepfunctions").start_execution(
                stateMachineArn=state_machine_arn, name=name, input=json.dumps(payload)
            )["executionArn"]
        )

    def wait_execution(self, execution_arn: str, timeout_s: float = 120) -> dict[str, Any]:
        client = self.client("stepfunctions")
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            described = client.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING":
                return dict(described)
            time.sleep(0.2)
        raise TimeoutError(f"{execution_arn} still running after {timeout_s} s")

    def visited_states(self, execution_arn: str) -> list[str]:
        events = self.client("stepfunctions").get_execution_history(executionArn=execution_arn, maxResults=1000)
        return [e["stateEnteredEventDetails"]["name"] for e in events["events"] if "stateEnteredEventDetails" in e]


def _execution(backend: Any, arn: str) -> Any:
    for pipeline in backend.pipelines.values():
        if arn in pipeline.pipeline_executions:
            return pipeline.pipeline_executions[arn]
    raise KeyError(arn)


def scratch_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="mlops-twin-"))
