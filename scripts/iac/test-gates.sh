#!/usr/bin/env bash
# Tests of the IaC gates (scripts/iac/gates.sh): the committed fixture (scripts/iac/fixtures: a
# stack calling an SQS module and a Lambda module, a Step Functions definition, a workflow)
# passes every gate; then each deliberate break, applied to a fresh copy, makes its gate fail
# with the message that names it. Independent of the real deploy/ tree.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
gates_sh="$here/gates.sh"
work="$(mktemp -d "${TMPDIR:-/tmp}/edalab-iac-tests.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# The tools, once, before the cases run in parallel (gates.sh would install missing ones).
"$here/ensure-iac-tools.sh" >/dev/null

ok() { echo "test-gates: ok: $*"; }
ko() { echo "test-gates: FAILED: $*"; }

# The cases run $jobs at a time (checkov is CPU-bound for seconds), each in the background
# with its output in $work/NN.log; the logs are printed in order at the end.
jobs="${IAC_TEST_JOBS:-$(nproc 2>/dev/null || echo 2)}"
n_cases=0
run_case() { # FUNCTION: one case, run in the background
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  n_cases=$((n_cases + 1))
  local log
  log="$work/$(printf '%02d' "$n_cases").log"
  ("$@") >"$log" 2>&1 &
}

# A fresh copy of the fixture in $work/$1.
copy() {
  rm -rf "${work:?}/$1"
  mkdir -p "$work/$1"
  cp -R "$here/fixtures/." "$work/$1/"
}

# replace CASE FILE OLD NEW: replaces the first OLD in the case's FILE; fails if OLD is absent
# (a break that does not apply would make its test meaningless).
replace() {
  python3 - "$work/$1/$2" "$3" "$4" <<'EOF'
import sys
path, old, new = sys.argv[1:]
text = open(path, encoding="utf-8").read()
if old not in text:
    sys.exit(f"test-gates: {path} does not contain {old!r}")
open(path, "w", encoding="utf-8").write(text.replace(old, new, 1))
EOF
}

# expect_failure CASE "GATE..." DESCRIPTION PATTERN...: on the case's copy, gates.sh --only
# GATEs exits non-zero, each GATE reports FAILED, and the output matches every PATTERN
# (extended regexes). Several gates share a run: checkov takes seconds to start.
expect_failure() {
  local case="$1" gates="$2" what="$3" out rc=0 g p bad=""
  shift 3
  out="$("$gates_sh" --only "${gates// /,}" "$work/$case" 2>&1)" || rc=$?
  [ "$rc" -ne 0 ] || bad="gates.sh exited 0"
  for g in $gates; do
    grep -q -- "^<== iac gate $g: FAILED" <<<"$out" || bad="${bad:+$bad; }gate $g did not fail"
  done
  for p in "$@"; do
    grep -Eq -- "$p" <<<"$out" || bad="${bad:+$bad; }no line matches /$p/"
  done
  if [ -n "$bad" ]; then
    ko "$what ($gates): $bad"
    echo "$out" | sed 's/^/    /'
  else
    ok "$what: $gates fail$( [ "${gates// /}" = "$gates" ] && echo s) ($(grep -Em1 -- "$1" <<<"$out" | sed 's/^[[:space:]]*//' | sed "s|$work/$case/||" | cut -c1-140))"
  fi
}

tf=deploy/terraform
sqs=$tf/modules/sqs/main.tf
lambda=$tf/modules/lambda/main.tf
stack=$tf/stacks/demo/main.tf

# 0. The unbroken fixture passes every gate.
case_base() {
  copy base
  if out="$("$gates_sh" "$work/base" 2>&1)"; then
    ok "the unbroken fixture passes all gates"
  else
    ko "the unbroken fixture does not pass all gates"
    echo "$out" | sed 's/^/    /'
  fi
}
run_case case_base

# 1. Syntax: an unbalanced brace in a module. Terraform's parser and python-hcl2 both say so,
#    fmt cannot format the file, and checkov, which alone would exit 0 on a file it cannot
#    parse, fails on its parse error.
case_brace() {
  copy brace
  replace brace $sqs $'    "edalab:role" = "dlq"\n  })\n}' $'    "edalab:role" = "dlq"\n  })\n'
  expect_failure brace "terraform-fmt terraform-syntax checkov" "unbalanced brace in modules/sqs" \
    'Unclosed configuration block' 'modules/sqs/main.tf:[0-9]+: HCL syntax error' 'main.tf: checkov could not parse'
}
run_case case_brace

# 2. Syntax of a file terraform fmt does not read: a backend configuration (.hcl).
case_backend() {
  copy backend
  replace backend $tf/stacks/demo/environments/dev.backend.hcl 'key    = "demo/terraform.tfstate"' 'key    = "demo/terraform.tfstate'
  expect_failure backend terraform-syntax "unterminated string in a .backend.hcl" 'dev.backend.hcl:[0-9]+: HCL syntax error'
}
run_case case_backend

# 3. What validate would say: a module argument the module does not declare.
case_argument() {
  copy argument
  replace argument $stack '  dlq_name                      = "orders-dlq"' '  dlq_nme                       = "orders-dlq"'
  expect_failure argument terraform-syntax "misspelt module argument" "has no variable 'dlq_nme'"
}
run_case case_argument

# 4. fmt: a mis-indented attribute.
case_indent() {
  copy indent
  replace indent $sqs '  name                       = var.name' '      name = var.name'
  expect_failure indent terraform-fmt "mis-indented attribute in modules/sqs" '^modules/sqs/main.tf$'
}
run_case case_indent

# 5. Policy (a): a consumed queue without a redrive policy.
case_redrive() {
  copy redrive
  replace redrive $sqs $'  redrive_policy = local.has_dlq ? jsonencode({\n    deadLetterTargetArn = aws_sqs_queue.dlq[0].arn\n    maxReceiveCount     = var.max_receive_count\n  }) : null\n' ''
  expect_failure redrive checkov "consumed queue without redrive_policy (a)" \
    'CKV2_EDALAB_1 [0-9]+ passed, 1 failed' 'FAILED for resource: module.orders_queue.aws_sqs_queue.this'
}
run_case case_redrive

# 5b. A resource that a policy of ours cannot evaluate fails the gate (checkov itself would
#     drop it from its report): a queue whose role tag is a variable without a value.
case_unknown() {
  copy unknown
  cat >>"$work/unknown/$stack" <<'EOF'

variable "side_role" {
  description = "Role of the side queue."
  type        = string
}

resource "aws_sqs_queue" "side" {
  name = "side"
  tags = {
    "edalab:role" = var.side_role
  }
}
EOF
  expect_failure unknown checkov "a queue whose tags checkov cannot evaluate (a)" \
    'CKV2_EDALAB_1 could not evaluate aws_sqs_queue.side'
}
run_case case_unknown

# 6. Policy (b): the DLQ's retention below its source queue's.
case_retention() {
  copy retention
  replace retention $stack 'dlq_message_retention_seconds = 1209600' 'dlq_message_retention_seconds = 86400'
  expect_failure retention terraform-policies "DLQ retention below its queue's (b)" \
    "\(b\) .*DLQ's message_retention_seconds 86400 is not above the queue's 345600"
}
run_case case_retention

# 7. Policy (c): a Lambda function whose log group sets no retention; one without its log group.
case_logretention() {
  copy logretention
  replace logretention $lambda '  retention_in_days = var.log_retention_days' ''
  expect_failure logretention "checkov terraform-policies" "log group without retention_in_days (c)" \
    'CKV2_EDALAB_3 [0-9]+ passed, 1 failed' '\(c\) aws_cloudwatch_log_group.this .*retention_in_days is not set'
}
run_case case_logretention
case_loggroup() {
  copy loggroup
  replace loggroup $lambda '  name              = "/aws/lambda/${var.function_name}"' '  name              = "/edalab/${var.function_name}"'
  replace loggroup $lambda '  depends_on = [aws_cloudwatch_log_group.this, aws_iam_role_policy.this]' '  depends_on = [aws_iam_role_policy.this]'
  expect_failure loggroup "checkov terraform-policies" "Lambda function without its log group (c)" \
    'CKV2_EDALAB_3 [0-9]+ passed, 1 failed' '\(c\) aws_lambda_function.this: no aws_cloudwatch_log_group'
}
run_case case_loggroup

# 8. Policy (d): wildcard actions in a document of several statements, in one of a single
#    statement and in a dynamic statement; in an inline jsonencode policy (list) and in a
#    heredoc JSON policy (string).
case_wildcard() {
  copy wildcard
  replace wildcard $lambda '      "sqs:ReceiveMessage",' '      "sqs:*",'
  replace wildcard $lambda 'actions = ["sts:AssumeRole"]' 'actions = ["sts:*"]'
  # checkov does not render a dynamic statement whose for_each depends on a variable: only
  # the source check sees this one.
  replace wildcard $lambda 'actions   = ["sqs:SendMessage"]' 'actions   = ["sqs:SendMessage", "sns:*"]'
  expect_failure wildcard "checkov terraform-policies" 'actions "sqs:*", "sts:*" and, in a dynamic statement, "sns:*" in aws_iam_policy_documents (d)' \
    'CKV2_EDALAB_4 [0-9]+ passed, 2 failed' \
    '\(d\) data.aws_iam_policy_document.permissions statement ConsumeQueue: wildcard action\(s\) sqs:\*' \
    '\(d\) data.aws_iam_policy_document.assume statement LambdaAssumesRole: wildcard action\(s\) sts:\*' \
    '\(d\) data.aws_iam_policy_document.permissions statement SendToQueues: wildcard action\(s\) sns:\*'
}
run_case case_wildcard
case_inline() {
  copy inline
  replace inline $lambda 'Action   = ["cloudwatch:PutMetricData"]' 'Action   = ["cloudwatch:PutMetricData", "*"]'
  expect_failure inline "checkov terraform-policies" 'Action "*" in an inline jsonencode policy (d)' \
    'CKV2_EDALAB_5 [0-9]+ passed, 1 failed' '\(d\) aws_iam_role_policy.metrics.policy: wildcard action\(s\) \*'
}
run_case case_inline
case_heredoc() {
  copy heredoc
  replace heredoc $lambda $'  policy = jsonencode({\n    Version = "2012-10-17"\n    Statement = [{\n      Sid      = "PutMetrics"\n      Effect   = "Allow"\n      Action   = ["cloudwatch:PutMetricData"]\n      Resource = "*"\n    }]\n  })' \
    $'  policy = <<-EOT\n    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "cloudwatch:*", "Resource": "*"}]}\n  EOT'
  expect_failure heredoc "checkov terraform-policies" 'Action "cloudwatch:*" in a heredoc JSON policy (d)' \
    'CKV2_EDALAB_5 [0-9]+ passed, 1 failed' '\(d\) aws_iam_role_policy.metrics.policy: wildcard action\(s\) cloudwatch:\*'
}
run_case case_heredoc

# 9. Step Functions: a Next to a state that does not exist.
case_asl() {
  copy asl
  replace asl deploy/stepfunctions/demo.asl.json '"Next": "Process"' '"Next": "Proces"'
  expect_failure asl asl-validator "ASL Next to a missing state" "MISSING_TRANSITION_TARGET: Missing .*Proces"
}
run_case case_asl

# 10. Workflows: an unknown key in a job; runs-on of the wrong type.
case_wfkey() {
  copy wfkey
  replace wfkey .github/workflows/ci.yml '    timeout-minutes: 60' $'    timeout-minutes: 60\n    retries: 2'
  expect_failure wfkey workflow-schema "workflow job with an unknown key" "'retries' was unexpected"
}
run_case case_wfkey
case_wfrunson() {
  copy wfrunson
  replace wfrunson .github/workflows/ci.yml '    runs-on: ubuntu-latest' '    runs-on: 42'
  expect_failure wfrunson workflow-schema "workflow runs-on of the wrong type" "42 is not of type 'string'"
}
run_case case_wfrunson

wait
passed=0
failed=0
for log in "$work"/*.log; do
  cat "$log"
  if grep -q '^test-gates: ok: ' "$log"; then
    passed=$((passed + 1))
  else
    # A case that stopped before its verdict (set -e: e.g. a break that did not apply) fails.
    grep -q '^test-gates: FAILED: ' "$log" || echo "test-gates: FAILED: case $(basename "$log" .log) stopped before its verdict"
    failed=$((failed + 1))
  fi
done
echo "test-gates: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
