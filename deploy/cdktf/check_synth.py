#!/usr/bin/env python3
"""Checks a synthesized calculator stack (cdk.tf.json) against the values it must hold.

    python3 check_synth.py CDK_TF_JSON --environment local --localstack \
        [--endpoint http://localhost:4566] [--zip /abs/path/bootstrap.zip]
    python3 check_synth.py CDK_TF_JSON --environment prod --no-localstack

Prints every difference on its own line and exits 1 if there is any, 0 otherwise.
Standard library only: it runs with any python3, not only the CDKTF venv.

The expected values are written out here, apart from main.py, so that a change to the stack
shows up as a difference rather than passing along.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

INPUT_QUEUE = "calculatrice-input-queue"
INPUT_DLQ = "calculatrice-input-queue-dlq"
OUTPUT_QUEUE = "calculatrice-output-queue"
CALCULATIONS_TABLE = "edalab-calculations"
DEAD_LETTERS_TABLE = "edalab-dead-letters"
EMULATED_SERVICES = ("cloudwatch", "dynamodb", "iam", "lambda", "logs", "sqs", "sts")

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ZIP = REPO_ROOT / "target/lambda/edalab-lambda/bootstrap.zip"


class Checker:
    def __init__(self) -> None:
        self.differences: list[str] = []

    def fail(self, message: str) -> None:
        self.differences.append(message)

    def equal(self, what: str, actual: Any, expected: Any) -> None:
        if actual != expected:
            self.fail(f"{what}: expected {expected!r}, found {actual!r}")


def ref(kind: str, logical_id: str, attribute: str) -> str:
    """The interpolation CDKTF writes for another block's attribute."""
    return "${" + f"{kind}.{logical_id}.{attribute}" + "}"


def one_block(value: Any) -> dict:
    """A nested block as CDKTF writes it: an object, or a list holding one object."""
    if isinstance(value, list):
        return value[0] if len(value) == 1 and isinstance(value[0], dict) else {}
    return value if isinstance(value, dict) else {}


def truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def by_name(c: Checker, blocks: dict, kind: str, name_key: str, name: str) -> tuple[str, dict]:
    found = [(lid, b) for lid, b in blocks.items() if b.get(name_key) == name]
    if len(found) != 1:
        c.fail(f"{kind} named {name!r}: expected exactly one, found {len(found)}")
        return ("?", {})
    return found[0]


def check(doc: dict, environment: str, localstack: bool, endpoint: str, zip_path: str) -> list[str]:
    c = Checker()
    resources = doc.get("resource", {})
    data = doc.get("data", {})
    function_name = f"edalab-calculator-{environment}"

    # ---- Provider ----
    version = doc.get("terraform", {}).get("required_providers", {}).get("aws", {}).get("version", "")
    if not str(version).startswith("5."):
        c.fail(f"terraform.required_providers.aws.version: expected 5.x (as deploy/terraform's ~> 5.0), found {version!r}")
    providers = doc.get("provider", {}).get("aws", [])
    if len(providers) != 1:
        c.fail(f"provider.aws: expected one, found {len(providers)}")
    provider = providers[0] if providers else {}
    c.equal("provider.aws.region", provider.get("region"), "us-east-1")
    if localstack:
        endpoints = one_block(provider.get("endpoints"))
        for service in EMULATED_SERVICES:
            c.equal(f"provider.aws.endpoints.{service}", endpoints.get(service), endpoint)
        for flag in ("skip_credentials_validation", "skip_metadata_api_check", "skip_requesting_account_id"):
            if not truthy(provider.get(flag)):
                c.fail(f"provider.aws.{flag}: expected true with the emulator, found {provider.get(flag)!r}")
        c.equal("provider.aws.access_key", provider.get("access_key"), "test")
        c.equal("provider.aws.secret_key", provider.get("secret_key"), "test")
    else:
        for key in ("access_key", "secret_key", "endpoints"):
            if key in provider:
                c.fail(f"provider.aws.{key}: expected absent on AWS, found {provider[key]!r}")
        for flag in ("skip_credentials_validation", "skip_metadata_api_check", "skip_requesting_account_id"):
            if truthy(provider.get(flag)):
                c.fail(f"provider.aws.{flag}: expected unset on AWS, found {provider[flag]!r}")

    # ---- Queues ----
    queues = resources.get("aws_sqs_queue", {})
    c.equal("number of aws_sqs_queue", len(queues), 3)
    input_id, input_q = by_name(c, queues, "aws_sqs_queue", "name", INPUT_QUEUE)
    dlq_id, dlq = by_name(c, queues, "aws_sqs_queue", "name", INPUT_DLQ)
    output_id, output_q = by_name(c, queues, "aws_sqs_queue", "name", OUTPUT_QUEUE)

    c.equal(f"{INPUT_QUEUE}.visibility_timeout_seconds", input_q.get("visibility_timeout_seconds"), 60)
    c.equal(f"{INPUT_QUEUE}.message_retention_seconds", input_q.get("message_retention_seconds"), 345600)
    check_redrive(c, input_q.get("redrive_policy"), dlq_id)
    c.equal(f"{INPUT_DLQ}.message_retention_seconds", dlq.get("message_retention_seconds"), 1209600)
    c.equal(f"{INPUT_DLQ}.redrive_policy", dlq.get("redrive_policy"), None)
    c.equal(f"{OUTPUT_QUEUE}.visibility_timeout_seconds", output_q.get("visibility_timeout_seconds"), 30)
    c.equal(f"{OUTPUT_QUEUE}.message_retention_seconds", output_q.get("message_retention_seconds"), 345600)
    c.equal(f"{OUTPUT_QUEUE}.redrive_policy (no DLQ)", output_q.get("redrive_policy"), None)

    # ---- Tables ----
    table_id, table = by_name(c, resources.get("aws_dynamodb_table", {}), "aws_dynamodb_table", "name", CALCULATIONS_TABLE)
    c.equal(f"{CALCULATIONS_TABLE}.hash_key", table.get("hash_key"), "id")
    c.equal(f"{CALCULATIONS_TABLE}.attribute", table.get("attribute"), [{"name": "id", "type": "S"}])
    c.equal(f"{CALCULATIONS_TABLE}.billing_mode", table.get("billing_mode"), "PAY_PER_REQUEST")
    dead_id, _ = by_name(c, data.get("aws_dynamodb_table", {}), "data.aws_dynamodb_table", "name", DEAD_LETTERS_TABLE)

    # ---- Function ----
    fn_id, fn = by_name(c, resources.get("aws_lambda_function", {}), "aws_lambda_function", "function_name", function_name)
    for key, expected in (
        ("filename", zip_path),
        ("runtime", "provided.al2023"),
        ("handler", "bootstrap"),
        ("architectures", ["x86_64"]),
        ("timeout", 30),
        ("memory_size", 256),
    ):
        c.equal(f"{function_name}.{key}", fn.get(key), expected)
    c.equal(f"{function_name}.environment.variables",
            one_block(fn.get("environment")).get("variables"), {"EDALAB_FUNCTION": "calculator"})
    if zip_path not in str(fn.get("source_code_hash", "")):
        c.fail(f"{function_name}.source_code_hash: expected a hash of {zip_path!r}, found {fn.get('source_code_hash')!r}")

    lg_id, lg = by_name(c, resources.get("aws_cloudwatch_log_group", {}), "aws_cloudwatch_log_group", "name", f"/aws/lambda/{function_name}")
    c.equal(f"log group {lg.get('name')!r}.retention_in_days", lg.get("retention_in_days"), 14)

    # ---- Event source mapping ----
    mappings = resources.get("aws_lambda_event_source_mapping", {})
    c.equal("number of aws_lambda_event_source_mapping", len(mappings), 1)
    mapping = next(iter(mappings.values()), {})
    c.equal("mapping.event_source_arn", mapping.get("event_source_arn"), ref("aws_sqs_queue", input_id, "arn"))
    if mapping.get("function_name") not in (ref("aws_lambda_function", fn_id, "arn"),
                                            ref("aws_lambda_function", fn_id, "function_name")):
        c.fail(f"mapping.function_name: expected the calculator function, found {mapping.get('function_name')!r}")
    c.equal("mapping.batch_size", mapping.get("batch_size"), 10)
    c.equal("mapping.scaling_config.maximum_concurrency",
            one_block(mapping.get("scaling_config")).get("maximum_concurrency"), 10)
    c.equal("mapping.function_response_types", mapping.get("function_response_types"), ["ReportBatchItemFailures"])

    # ---- Role: explicit actions on this stack's ARNs only ----
    docs = data.get("aws_iam_policy_document", {})
    roles = resources.get("aws_iam_role", {})
    c.equal("number of aws_iam_role", len(roles), 1)
    role_id, role = next(iter(roles.items()), ("?", {}))
    c.equal(f"{function_name}.role", fn.get("role"), ref("aws_iam_role", role_id, "arn"))
    for key in ("managed_policy_arns", "inline_policy"):
        if key in role:
            c.fail(f"aws_iam_role.{role_id}.{key}: expected absent (one inline aws_iam_role_policy), found {role[key]!r}")
    for kind in ("aws_iam_role_policy_attachment", "aws_iam_policy", "aws_iam_role_policy_attachments_exclusive"):
        if kind in resources:
            c.fail(f"{kind}: expected none (no managed policies), found {sorted(resources[kind])}")
    assume = policy_grants(c, docs, role.get("assume_role_policy"), "assume_role_policy")
    c.equal("assume_role_policy", assume, {"*": {"sts:AssumeRole"}})
    principals = [p for s in (docs_of(docs, role.get("assume_role_policy")) or {}).get("statement", [])
                  for p in s.get("principals", [])]
    c.equal("assume_role_policy.principals", principals, [{"identifiers": ["lambda.amazonaws.com"], "type": "Service"}])

    role_policies = resources.get("aws_iam_role_policy", {})
    c.equal("number of aws_iam_role_policy", len(role_policies), 1)
    rp = next(iter(role_policies.values()), {})
    c.equal("aws_iam_role_policy.role", rp.get("role"), ref("aws_iam_role", role_id, "id"))
    granted = policy_grants(c, docs, rp.get("policy"), "aws_iam_role_policy.policy")
    dynamodb = {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DescribeTable"}
    expected = {
        ref("aws_cloudwatch_log_group", lg_id, "arn") + ":*": {"logs:CreateLogStream", "logs:PutLogEvents"},
        ref("aws_sqs_queue", input_id, "arn"): {
            "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
            "sqs:GetQueueAttributes", "sqs:GetQueueUrl",
        },
        ref("aws_sqs_queue", output_id, "arn"): {"sqs:SendMessage", "sqs:GetQueueUrl"},
        ref("aws_dynamodb_table", table_id, "arn"): dynamodb,
        ref("data.aws_dynamodb_table", dead_id, "arn"): dynamodb,
    }
    for resource in sorted(set(expected) | set(granted)):
        want, got = expected.get(resource, set()), granted.get(resource, set())
        if want != got:
            extra, missing = sorted(got - want), sorted(want - got)
            c.fail(f"role permissions on {resource}: missing {missing}, extra {extra}")

    return c.differences


def check_redrive(c: Checker, policy: Any, dlq_id: str) -> None:
    """Either a Terraform jsonencode({...}) expression or a plain JSON string."""
    target = ref("aws_sqs_queue", dlq_id, "arn")
    if not isinstance(policy, str):
        c.fail(f"{INPUT_QUEUE}.redrive_policy: expected a redrive to {INPUT_DLQ}, found {policy!r}")
        return
    try:
        parsed = json.loads(policy)
    except json.JSONDecodeError:
        parsed = None
    if isinstance(parsed, dict):
        c.equal(f"{INPUT_QUEUE}.redrive_policy.deadLetterTargetArn", parsed.get("deadLetterTargetArn"), target)
        c.equal(f"{INPUT_QUEUE}.redrive_policy.maxReceiveCount", parsed.get("maxReceiveCount"), 3)
        return
    inner = target[2:-1]
    if not re.search(r'"deadLetterTargetArn"\s*[=:]\s*' + re.escape(inner) + r"\b", policy):
        c.fail(f"{INPUT_QUEUE}.redrive_policy: expected deadLetterTargetArn = {inner}, found {policy!r}")
    if not re.search(r'"maxReceiveCount"\s*[=:]\s*3\b', policy):
        c.fail(f"{INPUT_QUEUE}.redrive_policy: expected maxReceiveCount = 3, found {policy!r}")


def docs_of(docs: dict, reference: Any) -> dict | None:
    match = re.fullmatch(r"\$\{data\.aws_iam_policy_document\.([A-Za-z0-9_-]+)\.json\}", str(reference))
    return docs.get(match.group(1)) if match else None


def policy_grants(c: Checker, docs: dict, reference: Any, what: str) -> dict[str, set[str]]:
    """resource -> actions allowed, from the policy document data source `reference` names."""
    doc = docs_of(docs, reference)
    if doc is None:
        c.fail(f"{what}: expected a data.aws_iam_policy_document's json, found {reference!r}")
        return {}
    granted: dict[str, set[str]] = {}
    for statement in doc.get("statement", []):
        if statement.get("effect", "Allow") != "Allow":
            c.fail(f"{what}: statement {statement.get('sid')!r} has effect {statement.get('effect')!r}")
        for key in ("not_actions", "not_resources"):
            if key in statement:
                c.fail(f"{what}: statement {statement.get('sid')!r} uses {key}")
        actions = statement.get("actions", [])
        for action in actions:
            if "*" in action:
                c.fail(f"{what}: statement {statement.get('sid')!r} has a wildcard action {action!r}")
        for resource in statement.get("resources", ["*"]):
            granted.setdefault(resource, set()).update(actions)
    return granted


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("stack_json", type=Path)
    parser.add_argument("--environment", required=True)
    parser.add_argument("--localstack", action=argparse.BooleanOptionalAction, required=True)
    parser.add_argument("--endpoint", default="http://localhost:4566")
    parser.add_argument("--zip", default=str(DEFAULT_ZIP))
    args = parser.parse_args()

    doc = json.loads(args.stack_json.read_text())
    differences = check(doc, args.environment, args.localstack, args.endpoint, args.zip)
    variant = f"environment={args.environment} localstack={'on' if args.localstack else 'off'}"
    if differences:
        print(f"cdktf calculator ({variant}): {len(differences)} difference(s) in {args.stack_json}:")
        for difference in differences:
            print(f"  - {difference}")
        return 1
    print(f"cdktf calculator ({variant}): the synthesized stack holds the expected values")
    return 0


if __name__ == "__main__":
    sys.exit(main())
