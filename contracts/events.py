"""EventBridge events the stacks' rules match and the handlers (and the twin) read or build: sources,
detail-types and detail keys. AWS's own events are described in "Amazon EventBridge events" of each service
(SageMaker: https://docs.aws.amazon.com/sagemaker/latest/dg/automating-sagemaker-with-eventbridge.html; S3:
https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html; CloudWatch alarms:
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-and-eventbridge.html)."""

SOURCE = "source"
DETAIL_TYPE = "detail-type"
DETAIL = "detail"

SAGEMAKER = "aws.sagemaker"
S3 = "aws.s3"
CLOUDWATCH = "aws.cloudwatch"
CLOUDFORMATION = "aws.cloudformation"
# The retraining loop calls the deploy function with an approval event of its own making.
RETRAINING = "mlops.retraining"

MODEL_PACKAGE_STATE_CHANGE = "SageMaker Model Package State Change"
OBJECT_CREATED = "Object Created"
ALARM_STATE_CHANGE = "CloudWatch Alarm State Change"
STACK_STATUS_CHANGE = "CloudFormation Stack Status Change"

# Detail keys of an S3 Object Created event (https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html).
BUCKET = "bucket"
OBJECT = "object"
NAME = "name"
KEY = "key"

# Detail keys of a model package state change.
MODEL_PACKAGE_ARN = "ModelPackageArn"
MODEL_PACKAGE_GROUP_NAME = "ModelPackageGroupName"
MODEL_APPROVAL_STATUS = "ModelApprovalStatus"
APPROVED = "Approved"

# Detail keys and statuses of a CloudFormation stack status change
# (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/eventbridge-integration.html).
STACK_ID = "stack-id"
STATUS_DETAILS = "status-details"
STATUS = "status"
UPDATE_COMPLETE = "UPDATE_COMPLETE"
UPDATE_ROLLBACK_COMPLETE = "UPDATE_ROLLBACK_COMPLETE"
