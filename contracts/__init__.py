"""The names both sides of a boundary use, one module per boundary (docs/contracts.md).

Standard library only and Python 3.9+: shipped in every Lambda asset and in the step library (the SageMaker
containers), and imported by the stacks, the twin and the CLI, so a writer and its reader share one constant.
"""
