#!/usr/bin/env bash
# Installs what `make test` needs, only when it is missing, so it is cheap to re-run.
# Runs on a fresh clone on a fresh machine of our kind (Debian, rustup toolchain, no
# network but the package registries). Each step says what it does.
set -euo pipefail

need_apt=()
command -v cc >/dev/null 2>&1 || need_apt+=(gcc)
command -v make >/dev/null 2>&1 || need_apt+=(make)

if ((${#need_apt[@]})); then
  echo "ensure-tools: installing ${need_apt[*]} with apt-get"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need_apt[@]}"
fi

if ! cargo fmt --version >/dev/null 2>&1; then
  echo "ensure-tools: adding rustfmt"
  rustup component add rustfmt
fi
if ! cargo clippy --version >/dev/null 2>&1; then
  echo "ensure-tools: adding clippy"
  rustup component add clippy
fi
echo "ensure-tools: ok ($(cargo --version))"
