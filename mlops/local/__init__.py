"""Local runs of what AWS runs: the pipeline runner, the model registry, distributed training, the run-folder lock,
sample data and the local SageMaker-style endpoint (`mlops.local.serving`)."""
