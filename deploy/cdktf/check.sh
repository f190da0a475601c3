#!/usr/bin/env bash
# Synthesizes the CDKTF calculator stack (deploy/cdktf/calculator, Python) and checks that the
# JSON it writes holds the calculator's values (check_synth.py). No Terraform, no AWS, no
# emulator: synthesizing only runs the Python app, which runs the constructs on Node (jsii).
#
#   bash deploy/cdktf/check.sh
#
# Needs python3 (3.9+), node (jsii's runtime; 22 or 24 are the supported ones, 20 works with a
# warning) and PyPI the first time. The venv is made once and reused while requirements.txt
# is unchanged:
#   EDALAB_CDKTF_VENV                 the venv (default ~/.cache/edalab/venv-cdktf-0.21.0-aws-20.1.0)
#   JSII_RUNTIME_PACKAGE_CACHE_ROOT   where jsii unpacks the JS packages (default
#                                     ~/.cache/edalab/jsii-package-cache; about 415 MB)
# Costs measured on the project's 2-core machine (README.md): install about 45 s and 490 MB,
# first synth about 35 s (it unpacks the provider into the jsii cache), each later one about 17 s.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
app="$here/calculator"
requirements="$app/requirements.txt"
venv="${EDALAB_CDKTF_VENV:-$HOME/.cache/edalab/venv-cdktf-0.21.0-aws-20.1.0}"
export JSII_RUNTIME_PACKAGE_CACHE_ROOT="${JSII_RUNTIME_PACKAGE_CACHE_ROOT:-$HOME/.cache/edalab/jsii-package-cache}"
python="${PYTHON:-python3}"

say() { printf 'cdktf check: %s\n' "$*"; }
die() { printf 'cdktf check: %s\n' "$*" >&2; exit 1; }

command -v "$python" >/dev/null || die "$python not found (needed for the CDKTF app and the venv)"
command -v node >/dev/null || die "node not found: CDKTF's Python package runs its constructs on Node (jsii)"
say "$("$python" --version 2>&1), node $(node --version)"

# ---- The venv, made or brought up to requirements.txt only when needed ----
want=$(sha256sum "$requirements" | cut -d' ' -f1)
stamp="$venv/.edalab-requirements.sha256"
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import sys' 2>/dev/null \
    && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    say "venv up to date: $venv"
else
    say "installing $requirements into $venv"
    started=$SECONDS
    if ! { [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import sys' 2>/dev/null; }; then
        rm -rf "$venv"
        mkdir -p "$(dirname "$venv")"
        "$python" -m venv "$venv"
    fi
    "$venv/bin/pip" install --quiet --disable-pip-version-check --no-cache-dir -r "$requirements"
    echo "$want" > "$stamp"
    say "installed in $((SECONDS - started)) s ($(du -sh "$venv" | cut -f1))"
fi

# ---- Synthesize each variant into a temporary directory, then check it ----
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

failed=0
# synth_and_check NAME ENVIRONMENT USE_LOCALSTACK
synth_and_check() {
    local name=$1 environment=$2 localstack=$3 out="$work/$1" started=$SECONDS
    # Every setting given explicitly: nothing of the caller's environment changes the synth.
    if ! (cd "$app" && env -u EDALAB_CDKTF_LAMBDA_ZIP \
            CDKTF_OUTDIR="$out" \
            EDALAB_CDKTF_ENVIRONMENT="$environment" \
            EDALAB_CDKTF_USE_LOCALSTACK="$localstack" \
            EDALAB_CDKTF_LOCALSTACK_ENDPOINT=http://localhost:4566 \
            EDALAB_CDKTF_REGION=us-east-1 \
            PYTHONDONTWRITEBYTECODE=1 \
            "$venv/bin/python" main.py) >"$work/$name.log" 2>&1; then
        cat "$work/$name.log" >&2
        say "FAILED: synth of $name (environment=$environment, use_localstack=$localstack)"
        failed=1
        return
    fi
    if grep -q 'end-of-life' "$work/$name.log"; then
        say "note: jsii warns that node $(node --version) is end-of-life (it still ran)"
    fi
    say "synthesized $name in $((SECONDS - started)) s"
    local stack="$out/stacks/calculator/cdk.tf.json"
    [ -f "$stack" ] || { say "FAILED: $stack not written"; failed=1; return; }
    local flag=--localstack
    [ "$localstack" = true ] || flag=--no-localstack
    "$python" "$here/check_synth.py" "$stack" --environment "$environment" "$flag" || failed=1
}

synth_and_check local local true
synth_and_check aws prod false

if [ "$failed" -ne 0 ]; then
    say "FAILED"
    exit 1
fi
say "OK"
