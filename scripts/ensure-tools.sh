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

# tansu: the Kafka-protocol broker the kafka-profile tests start (../shared/KAFKA_PEER.md).
# Built once per machine (~30 min on 2 cores), then found on PATH or in ~/.cargo/bin.
tansu_bin="$(command -v tansu 2>/dev/null || true)"
[ -z "$tansu_bin" ] && [ -x "$HOME/.cargo/bin/tansu" ] && tansu_bin="$HOME/.cargo/bin/tansu"
if [ -z "$tansu_bin" ]; then
  echo "ensure-tools: installing tansu 0.6.0 (the Kafka-protocol broker of the kafka tests; once per machine, ~30 min)"
  cargo install tansu --version 0.6.0 --locked --features dynostore
  tansu_bin="$HOME/.cargo/bin/tansu"
fi
echo "ensure-tools: tansu at $tansu_bin"

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
