"""AWS behaviour the offline twin runs where moto has none: EventBridge routing, CloudWatch alarm evaluation and
EMF, Lambda invocation, stack updates, SageMaker endpoints, pipelines and batch transform, IAM role facts."""
