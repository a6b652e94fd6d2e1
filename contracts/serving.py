"""Serving modes: the `serving_mode` config values. platform_config validates the configured one against
`ServingModeName`, the serving stack builds one construct per mode (stacks/serving/modes/), the other stacks add
what a mode needs, and the monitoring stack tells the drift function the mode (its SERVING_MODE variable)."""

from __future__ import annotations

from typing import Final, Literal

ServingModeName = Literal["realtime", "serverless", "async", "multi_model", "triton"]

REALTIME: Final[ServingModeName] = "realtime"
SERVERLESS: Final[ServingModeName] = "serverless"
ASYNC: Final[ServingModeName] = "async"
MULTI_MODEL: Final[ServingModeName] = "multi_model"
# A SageMaker Triton multi-model endpoint (FIL backend) for XGBoost models; its requests are KServe v2 tensors.
TRITON: Final[ServingModeName] = "triton"
