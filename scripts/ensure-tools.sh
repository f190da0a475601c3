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
