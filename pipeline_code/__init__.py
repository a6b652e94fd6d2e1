"""SageMaker step scripts and the pipeline definition.

Each script follows the SageMaker container contract (`/opt/ml/...` paths and `SM_*` variables) and exposes
`main(argv, environ)`, so the offline twin runs the very same code with those paths pointed at local folders.
"""
