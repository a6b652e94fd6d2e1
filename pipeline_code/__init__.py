"""SageMaker step scripts and the code they share: everything here runs in the SageMaker containers.

Each script follows the SageMaker container contract (`/opt/ml/...` paths and `SM_*` variables) and exposes
`main(argv, environ)`, so the offline twin runs the very same code with those paths pointed at local folders.
The pipeline definition that calls them is built at synth time by pipeline_definition/, which is not shipped.
"""
