"""The platform's typed configuration, free of any framework (no aws_cdk, no boto3, no SageMaker SDK).

`platform.py`: `PlatformConfig`, every tunable with its default, and how `cdk.json` context and `-c` overrides
build and validate it. `stages.py`: the delivery pipeline's settings and per-stage files under `config/`. The CDK
stacks, the CLI and the offline twin all import the config from here, so none of them depends on another for it.
"""
