"""Creates the template's resources in moto (the embedded server, or ``mock_aws`` in tests).

Every table, queue, topic, secret, key, identity and schedule comes from ``template.yaml``;
resource types that have no local meaning (log groups, IAM, the API itself) are listed in
``IGNORED`` so that a new, unhandled type fails loudly instead of being skipped silently.
"""

from __future__ import annotations

import json
import secrets
import string
from typing import Any

import boto3

from devstack.cfn import Stack

IGNORED = {
    "AWS::Serverless::Function",  # invoked in-process
    "AWS::Serverless::Api",  # served by devstack.gateway
    "AWS::Serverless::LayerVersion",  # on sys.path via pytest/devstack configuration
    "AWS::Logs::LogGroup",  # logs go to the console locally
    "AWS::CloudWatch::Dashboard",
    "AWS::CloudWatch::Alarm",
    "AWS::SES::ConfigurationSetEventDestination",
    "AWS::ApiGateway::Account",
    "AWS::IAM::Role",
    "AWS::SNS::Subscription",
    "AWS::WAFv2::WebACL",  # emulated in front of the stage by devstack.waf
    "AWS::WAFv2::WebACLAssociation",
}


def _table_args(props: dict[str, Any], name: str) -> dict[str, Any]:
    args: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
    }
    if "GlobalSecondaryIndexes" in props:
        args["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    if "StreamSpecification" in props:
        args["StreamSpecification"] = {
            "StreamEnabled": True,
            "StreamViewType": props["StreamSpecification"]["StreamViewType"],
        }
    if props.get("SSESpecification", {}).get("SSEEnabled"):
        args["SSESpecification"] = {"Enabled": True}
    return args


def _generate_secret(spec: dict[str, Any]) -> str:
    length = int(spec.get("PasswordLength", 32))
    alphabet = string.ascii_letters + string.digits
    if not spec.get("ExcludePunctuation"):
        alphabet += "!#$%&()*+,-.:;<=>?@[]^_{|}~"
    return "".join(secrets.choice(alphabet) for _ in range(length))


def create_all(stack: Stack) -> None:
    """Create every resource of the template and record its physical id on ``stack``."""
    region = stack.region
    ddb = boto3.client("dynamodb", region_name=region)
    kms = boto3.client("kms", region_name=region)
    sm = boto3.client("secretsmanager", region_name=region)
    sqs = boto3.client("sqs", region_name=region)
    sns = boto3.client("sns", region_name=region)
    ses = boto3.client("ses", region_name=region)
    scheduler = boto3.client("scheduler", region_name=region)

    unknown = sorted(
        {r["Type"] for r in stack.resources.values()}
        - IGNORED
        - {
            "AWS::DynamoDB::Table",
            "AWS::KMS::Key",
            "AWS::SecretsManager::Secret",
            "AWS::SQS::Queue",
            "AWS::SNS::Topic",
            "AWS::SES::EmailIdentity",
            "AWS::SES::ConfigurationSet",
        }
    )
    if unknown:
        raise ValueError(f"the local stack does not know these resource types: {unknown}")

    # Keys and secrets first: other resources' environment refers to them.
    for logical_id, res in stack.of_type("AWS::KMS::Key").items():
        meta = kms.create_key(Description=str(res["Properties"].get("Description", logical_id)))
        stack.physical[logical_id] = meta["KeyMetadata"]["KeyId"]
        stack.attributes[(logical_id, "Arn")] = meta["KeyMetadata"]["Arn"]

    for logical_id, res in stack.of_type("AWS::SecretsManager::Secret").items():
        props = res["Properties"]
        value = props.get("SecretString") or _generate_secret(props.get("GenerateSecretString", {}))
        out = sm.create_secret(Name=stack.default_name(logical_id), SecretString=str(value))
        stack.physical[logical_id] = out["ARN"]

    for logical_id, res in stack.of_type("AWS::DynamoDB::Table").items():
        props = stack.resolve(res["Properties"])
        name = props.get("TableName") or stack.default_name(logical_id)
        out = ddb.create_table(**_table_args(props, name))
        stack.physical[logical_id] = name
        stack.attributes[(logical_id, "Arn")] = out["TableDescription"]["TableArn"]
        if "LatestStreamArn" in out["TableDescription"]:
            stack.attributes[(logical_id, "StreamArn")] = out["TableDescription"]["LatestStreamArn"]
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            ddb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
            )

    queues = stack.of_type("AWS::SQS::Queue").items()
    for logical_id, res in sorted(queues, key=lambda q: "RedrivePolicy" in q[1].get("Properties", {})):
        props = res.get("Properties", {})  # dead-letter queues first: a redrive policy names one
        attrs = {"MessageRetentionPeriod": str(props.get("MessageRetentionPeriod", 345600))}
        if "VisibilityTimeout" in props:
            attrs["VisibilityTimeout"] = str(props["VisibilityTimeout"])
        if "RedrivePolicy" in props:
            redrive = props["RedrivePolicy"]
            attrs["RedrivePolicy"] = json.dumps(
                {
                    "deadLetterTargetArn": str(stack.resolve(redrive["deadLetterTargetArn"])),
                    "maxReceiveCount": int(redrive["maxReceiveCount"]),
                }
            )
        url = sqs.create_queue(QueueName=stack.default_name(logical_id), Attributes=attrs)["QueueUrl"]
        stack.physical[logical_id] = url
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        stack.attributes[(logical_id, "Arn")] = arn

    for logical_id in stack.of_type("AWS::SNS::Topic"):
        stack.physical[logical_id] = sns.create_topic(Name=stack.default_name(logical_id))["TopicArn"]

    for logical_id, res in stack.of_type("AWS::SES::EmailIdentity").items():
        identity = str(stack.resolve(res["Properties"]["EmailIdentity"]))
        if "@" in identity:
            ses.verify_email_identity(EmailAddress=identity)
        else:
            ses.verify_domain_identity(Domain=identity)
        stack.physical[logical_id] = identity

    for logical_id in stack.of_type("AWS::SES::ConfigurationSet"):
        name = stack.default_name(logical_id)
        ses.create_configuration_set(ConfigurationSet={"Name": name})
        stack.physical[logical_id] = name

    for spec in stack.functions().values():
        for event_id, event in spec.events.items():
            if event["Type"] != "ScheduleV2":
                continue
            props = event["Properties"]
            scheduler.create_schedule(
                Name=f"{spec.logical_id}-{event_id}"[:64],
                ScheduleExpression=props["ScheduleExpression"],
                FlexibleTimeWindow={"Mode": "OFF"},
                Target={
                    "Arn": stack.resolve({"Fn::GetAtt": [spec.logical_id, "Arn"]}),
                    "RoleArn": f"arn:aws:iam::{stack.account}:role/{stack.prefix}-scheduler",
                    "Input": json.dumps(props.get("Input", {}))
                    if not isinstance(props.get("Input"), str)
                    else props["Input"],
                },
            )
