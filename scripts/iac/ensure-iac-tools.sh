#!/usr/bin/env bash
# Installs the tools of the IaC gates (scripts/iac/gates.sh), only when missing, so it is cheap
# to re-run: two venvs under ~/.cache/edalab from PyPI (pins in scripts/iac/tools.sh) and
# asl-validator from npm (`npm ci` in scripts/iac). scripts/ensure-tools.sh runs it.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tools.sh
. "$here/tools.sh"

ensure_python_venv() {
  if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    echo "ensure-iac-tools: python3 has no venv/ensurepip; installing python3-venv"
    sudo_cmd=""
    [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq python3-venv
  fi
}

install_venv() { # venv package==version...
  local venv="$1"
  shift
  if iac_venv_has "$venv" "$@"; then
    return 0
  fi
  echo "ensure-iac-tools: installing $* from PyPI into $venv"
  ensure_python_venv
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input "$@"
  iac_venv_has "$venv" "$@" || {
    echo "ensure-iac-tools: $venv does not hold $*" >&2
    exit 1
  }
}

install_venv "$iac_py_venv" "${iac_py_packages[@]}"
echo "ensure-iac-tools: ${iac_py_packages[*]} in $iac_py_venv"
install_venv "$iac_checkov_venv" "${iac_checkov_packages[@]}"
echo "ensure-iac-tools: ${iac_checkov_packages[*]} in $iac_checkov_venv"

if ! command -v npm >/dev/null 2>&1; then
  echo "ensure-iac-tools: npm is missing (scripts/ensure-tools.sh installs nodejs and npm)" >&2
  exit 1
fi
if ! iac_npm_ok "$here"; then
  echo "ensure-iac-tools: npm ci in $here (asl-validator $iac_asl_validator_version)"
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
  iac_npm_ok "$here" || {
    echo "ensure-iac-tools: $here/node_modules does not hold asl-validator $iac_asl_validator_version" >&2
    exit 1
  }
fi
echo "ensure-iac-tools: asl-validator $iac_asl_validator_version in $here/node_modules"
