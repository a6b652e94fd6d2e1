"""The CDK app's stacks (one per lifecycle stage), their typed config and reusable constructs."""
