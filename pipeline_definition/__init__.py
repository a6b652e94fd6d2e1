"""The SageMaker Pipeline definition, built at synth time with the SageMaker Python SDK (v2 line).

Build side only: the CDK app (stacks/build_stack.py) and the local CLI import it; nothing here ships to the step
containers (stacks/constructs/step_code.py packs pipeline_code/, drift_core/ and contracts/ only). What both sides
need is imported from there: the package metadata keys and sentinel from contracts/, the serving environment and
Triton repository layout from pipeline_code/.

- `spec.py`: `PipelineSpec`, everything the definition depends on as plain strings and numbers;
- `images.py`: the framework image URIs, from the SDK's own region table;
- `sdk.py`: the SDK's offline session and its one-time config validation;
- `steps.py`: one function per pipeline step;
- `pipeline.py`: `build_definition`, which assembles the steps into the definition JSON.

Importing `spec`, `images` or `pipeline` does not import the SDK (a cached synth never pays for it); the SDK is
imported when a definition or an image URI is computed.
"""

import logging
import os

# Set before the SDK is first imported anywhere in the process (it prints a banner at import otherwise); every
# module of this package is imported after this one, so this runs first.
os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
for _noisy in (
    "sagemaker",
    "sagemaker.config",
    "sagemaker.deprecations",
    "sagemaker.workflow.utilities",
    "sagemaker.image_uris",
):
    logging.getLogger(_noisy).setLevel(logging.ERROR)
