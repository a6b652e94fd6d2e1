"""Names the serving stack shares with other stacks and with the deploy function: prefixes, variant, outputs."""

from __future__ import annotations

VARIANT = "AllTraffic"
# The serving stack output naming the Triton live-model parameter (serving_mode "triton" only; the delivery
# pipeline's smoke test reads it).
TRITON_LIVE_MODEL_OUTPUT = "TritonLiveModelParameter"
CAPTURE_PREFIX = "capture"
ASYNC_PREFIX = "async"
MULTI_MODEL_PREFIX = "multi-model"
TRITON_PREFIX = "triton"  # the Triton endpoint's archives: <prefix>/<group>-v<version>.tar.gz, one per TargetModel

# The resource types an update of this stack by the deploy function touches (a new package: a new model and
# endpoint config, the endpoint's blue/green update; the first package also creates the scaling target/policy).
# The function names them in UpdateStack's ResourceTypes and its IAM policy allows no other list, so CloudFormation
# fails any update through that role that would touch another type ("If the list of resource types doesn't include
# a resource that you're updating, the stack update fails",
# https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_UpdateStack.html).
DEPLOY_RESOURCE_TYPES = (
    "AWS::SageMaker::Model",
    "AWS::SageMaker::EndpointConfig",
    "AWS::SageMaker::Endpoint",
    "AWS::ApplicationAutoScaling::ScalableTarget",
    "AWS::ApplicationAutoScaling::ScalingPolicy",
)
