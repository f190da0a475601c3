#!/usr/bin/env python3
"""S1, the calculator, with CDKTF in Python (seed 001's `tp_lambda`, made edalab's).

SQS `calculatrice-input-queue` -> the calculator function -> SQS `calculatrice-output-queue`,
calculations in DynamoDB `edalab-calculations`. Names and settings equal those of
deploy/terraform/stacks/calculator (and of the code's constants, which `edalab aws deploy`
uses); what differs from the seed: our Rust `bootstrap` on provided.al2023 instead of a
Python zip, a role of our own with explicit actions instead of the lab's `LabRole`, a DLQ on
the input queue, a log group with a retention, partial-batch failures on the mapping.

Settings, each an environment variable, else a key of "context" in cdktf.json, else the
default:

    EDALAB_CDKTF_ENVIRONMENT         environment         local   (local, dev, staging, prod)
    EDALAB_CDKTF_USE_LOCALSTACK      useLocalstack       true    (the emulator instead of AWS)
    EDALAB_CDKTF_LOCALSTACK_ENDPOINT localstackEndpoint  http://localhost:4566
    EDALAB_CDKTF_REGION              region              us-east-1
    EDALAB_CDKTF_LAMBDA_ZIP          lambdaZip           target/lambda/edalab-lambda/bootstrap.zip
                                                         (relative to the repository's root)

Unlike the Terraform stack's variables, these are chosen when synthesizing: the JSON holds
plain values, not `var.*` expressions. The zip need not exist to synthesize; Terraform
hashes it (`filebase64sha256`) at plan time.

    python3 main.py        # writes cdktf.out/stacks/calculator/cdk.tf.json ($CDKTF_OUTDIR)
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from cdktf import App, Fn, TerraformOutput, TerraformStack
from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.data_aws_dynamodb_table import DataAwsDynamodbTable
from cdktf_cdktf_provider_aws.data_aws_iam_policy_document import (
    DataAwsIamPolicyDocument,
    DataAwsIamPolicyDocumentStatement,
    DataAwsIamPolicyDocumentStatementPrincipals,
)
from cdktf_cdktf_provider_aws.dynamodb_table import (
    DynamodbTable,
    DynamodbTableAttribute,
    DynamodbTablePointInTimeRecovery,
)
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.lambda_event_source_mapping import (
    LambdaEventSourceMapping,
    LambdaEventSourceMappingScalingConfig,
)
from cdktf_cdktf_provider_aws.lambda_function import LambdaFunction, LambdaFunctionEnvironment
from cdktf_cdktf_provider_aws.provider import (
    AwsProvider,
    AwsProviderDefaultTags,
    AwsProviderEndpoints,
)
from cdktf_cdktf_provider_aws.sqs_queue import SqsQueue
from constructs import Construct

PROJECT = "edalab"
STACK = "calculator"
ENVIRONMENTS = ("local", "dev", "staging", "prod")

# deploy/cdktf/calculator/main.py -> the repository's root.
REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_LAMBDA_ZIP = "target/lambda/edalab-lambda/bootstrap.zip"

INPUT_QUEUE = "calculatrice-input-queue"
INPUT_DLQ = "calculatrice-input-queue-dlq"
OUTPUT_QUEUE = "calculatrice-output-queue"
CALCULATIONS_TABLE = "edalab-calculations"
# Written by the calculator (a failed message's reason); owned by the transactions stack.
DEAD_LETTERS_TABLE = "edalab-dead-letters"

LOG_RETENTION_DAYS = 14


def setting(app: Construct, env_var: str, context_key: str, default: Any) -> Any:
    """The environment variable, else the context key (cdktf.json), else the default."""
    value = os.environ.get(env_var)
    if value is not None and value != "":
        return value
    value = app.node.try_get_context(context_key)
    return default if value is None else value


def as_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name} is true or false, not {value!r}")


class CalculatorStack(TerraformStack):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        environment: str,
        use_localstack: bool,
        localstack_endpoint: str,
        region: str,
        lambda_zip: Path,
    ) -> None:
        super().__init__(scope, id)

        # ---- Provider: the emulator or AWS (as deploy/terraform's providers.tf) ----
        if use_localstack:
            emulator = localstack_endpoint
            AwsProvider(
                self,
                "aws",
                region=region,
                # The emulator has no real credentials, account or instance metadata, and
                # takes its well-known test keys (given here only, never on AWS).
                skip_credentials_validation=True,
                skip_metadata_api_check="true",
                skip_requesting_account_id=True,
                access_key="test",
                secret_key="test",
                endpoints=[
                    AwsProviderEndpoints(
                        cloudwatch=emulator,
                        dynamodb=emulator,
                        iam=emulator,
                        lambda_=emulator,
                        logs=emulator,
                        sqs=emulator,
                        sts=emulator,
                    )
                ],
                default_tags=[self._default_tags(environment)],
            )
        else:
            # AWS: the usual credential chain (environment, profile, OIDC role in CI).
            AwsProvider(
                self,
                "aws",
                region=region,
                default_tags=[self._default_tags(environment)],
            )

        # ---- Queues ----
        input_dlq = SqsQueue(
            self,
            "input_dlq",
            name=INPUT_DLQ,
            message_retention_seconds=1209600,
            sqs_managed_sse_enabled=True,
            tags={"edalab:role": "dlq"},
        )
        input_queue = SqsQueue(
            self,
            "input_queue",
            name=INPUT_QUEUE,
            visibility_timeout_seconds=60,
            message_retention_seconds=345600,
            sqs_managed_sse_enabled=True,
            redrive_policy=Fn.jsonencode(
                {"deadLetterTargetArn": input_dlq.arn, "maxReceiveCount": 3}
            ),
            tags={"edalab:role": "queue", "edalab:consumed": "true"},
        )
        # Results for whoever reads them; nothing here consumes this queue, so no DLQ.
        output_queue = SqsQueue(
            self,
            "output_queue",
            name=OUTPUT_QUEUE,
            visibility_timeout_seconds=30,
            message_retention_seconds=345600,
            sqs_managed_sse_enabled=True,
            tags={"edalab:role": "queue", "edalab:consumed": "false"},
        )

        # ---- Tables ----
        calculations = DynamodbTable(
            self,
            "calculations",
            name=CALCULATIONS_TABLE,
            billing_mode="PAY_PER_REQUEST",
            hash_key="id",
            attribute=[DynamodbTableAttribute(name="id", type="S")],
            point_in_time_recovery=DynamodbTablePointInTimeRecovery(enabled=True),
        )
        # The transactions stack makes it: apply that one first (as the Terraform stack).
        dead_letters = DataAwsDynamodbTable(self, "dead_letters", name=DEAD_LETTERS_TABLE)

        # ---- Function, its log group and role ----
        function_name = f"{PROJECT}-{STACK}-{environment}"

        log_group = CloudwatchLogGroup(
            self,
            "log_group",
            name=f"/aws/lambda/{function_name}",
            retention_in_days=LOG_RETENTION_DAYS,
        )

        assume = DataAwsIamPolicyDocument(
            self,
            "assume",
            statement=[
                DataAwsIamPolicyDocumentStatement(
                    sid="LambdaAssumesRole",
                    actions=["sts:AssumeRole"],
                    principals=[
                        DataAwsIamPolicyDocumentStatementPrincipals(
                            type="Service", identifiers=["lambda.amazonaws.com"]
                        )
                    ],
                )
            ],
        )
        role = IamRole(
            self,
            "role",
            name=f"{function_name}-role",
            assume_role_policy=assume.json,
        )

        # Every action named, every resource an ARN of this stack (no wildcard action).
        permissions = DataAwsIamPolicyDocument(
            self,
            "permissions",
            statement=[
                DataAwsIamPolicyDocumentStatement(
                    sid="WriteOwnLogs",
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[f"{log_group.arn}:*"],
                ),
                DataAwsIamPolicyDocumentStatement(
                    sid="ConsumeQueue",
                    actions=[
                        "sqs:ReceiveMessage",
                        "sqs:DeleteMessage",
                        "sqs:ChangeMessageVisibility",
                        "sqs:GetQueueAttributes",
                        "sqs:GetQueueUrl",
                    ],
                    resources=[input_queue.arn],
                ),
                DataAwsIamPolicyDocumentStatement(
                    sid="SendToQueues",
                    actions=["sqs:SendMessage", "sqs:GetQueueUrl"],
                    resources=[output_queue.arn],
                ),
                DataAwsIamPolicyDocumentStatement(
                    sid="ReadWriteTables",
                    actions=[
                        "dynamodb:GetItem",
                        "dynamodb:PutItem",
                        "dynamodb:UpdateItem",
                        "dynamodb:DescribeTable",
                    ],
                    resources=[calculations.arn, dead_letters.arn],
                ),
            ],
        )
        role_policy = IamRolePolicy(
            self,
            "role_policy",
            name=f"{function_name}-permissions",
            role=role.id,
            policy=permissions.json,
        )

        zip_path = str(lambda_zip)
        calculator = LambdaFunction(
            self,
            "calculator",
            function_name=function_name,
            description="S1: computes the input queue's operations, sends the results",
            role=role.arn,
            filename=zip_path,
            # Hashed by Terraform at plan time: synthesizing needs no zip.
            source_code_hash=Fn.filebase64sha256(zip_path),
            runtime="provided.al2023",
            handler="bootstrap",
            architectures=["x86_64"],
            timeout=30,
            memory_size=256,
            environment=LambdaFunctionEnvironment(
                variables={"EDALAB_FUNCTION": "calculator"}
            ),
            # The log group exists before the first invocation, and the role can write to it.
            depends_on=[log_group, role_policy],
        )

        LambdaEventSourceMapping(
            self,
            "input_mapping",
            event_source_arn=input_queue.arn,
            function_name=calculator.arn,
            batch_size=10,
            function_response_types=["ReportBatchItemFailures"],
            enabled=True,
            scaling_config=LambdaEventSourceMappingScalingConfig(maximum_concurrency=10),
            # Lambda checks the role's SQS permissions when the mapping is created.
            depends_on=[role_policy],
        )

        # ---- Outputs ----
        TerraformOutput(self, "input_queue_url", value=input_queue.url,
                        description=f"URL of {INPUT_QUEUE} (send operations here).")
        TerraformOutput(self, "input_dlq_url", value=input_dlq.url,
                        description="URL of the input queue's dead-letter queue.")
        TerraformOutput(self, "output_queue_url", value=output_queue.url,
                        description=f"URL of {OUTPUT_QUEUE} (the results).")
        TerraformOutput(self, "calculations_table", value=calculations.name,
                        description="Name of the calculations table.")
        TerraformOutput(self, "function_name", value=calculator.function_name,
                        description="Name of the calculator function.")

    @staticmethod
    def _default_tags(environment: str) -> AwsProviderDefaultTags:
        return AwsProviderDefaultTags(
            tags={
                "Project": PROJECT,
                "Environment": environment,
                "Stack": STACK,
                "ManagedBy": "cdktf",
            }
        )


def main() -> None:
    app = App()

    environment = str(setting(app, "EDALAB_CDKTF_ENVIRONMENT", "environment", "local"))
    if environment not in ENVIRONMENTS:
        raise SystemExit(
            f"environment is one of {', '.join(ENVIRONMENTS)}, not {environment!r}"
        )
    use_localstack = as_bool(
        "useLocalstack",
        setting(app, "EDALAB_CDKTF_USE_LOCALSTACK", "useLocalstack", True),
    )
    localstack_endpoint = str(
        setting(app, "EDALAB_CDKTF_LOCALSTACK_ENDPOINT", "localstackEndpoint",
                "http://localhost:4566")
    )
    if not re.match(r"^https?://", localstack_endpoint):
        raise SystemExit(
            f"localstackEndpoint is an http:// or https:// URL, not {localstack_endpoint!r}"
        )
    region = str(setting(app, "EDALAB_CDKTF_REGION", "region", "us-east-1"))
    lambda_zip = Path(str(setting(app, "EDALAB_CDKTF_LAMBDA_ZIP", "lambdaZip",
                                  DEFAULT_LAMBDA_ZIP)))
    if not lambda_zip.is_absolute():
        lambda_zip = REPO_ROOT / lambda_zip

    CalculatorStack(
        app,
        STACK,
        environment=environment,
        use_localstack=use_localstack,
        localstack_endpoint=localstack_endpoint,
        region=region,
        lambda_zip=lambda_zip,
    )
    app.synth()


if __name__ == "__main__":
    main()
