#!/usr/bin/env bash
# Property-based API testing (issue 16): schemathesis generates requests from the gateway's own
# OpenAPI document (/api/v1/openapi.json) against a real `edalab up` on a fresh data directory
# and a free port, with every check (`--checks all`): no 5xx (a handler panic is a 500), no
# undocumented status code or content type, no response that violates its schema, data the
# schema forbids refused and data it allows accepted (exceptions, each with its reason, in
# scripts/schemathesis.toml). Installs schemathesis into a venv under ~/.cache/edalab the
# first time (PyPI, pinned).
#   EDALAB_BIN            the binary to run (default target/debug/edalab, built if missing)
#   SCHEMATHESIS_EXAMPLES examples per operation (default 50)
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${EDALAB_BIN:-target/debug/edalab}"
[ -x "$bin" ] || cargo build -q -p edalab --bins
venv="${EDALAB_TOOLS_DIR:-$HOME/.cache/edalab}/venv-schemathesis-4.32.5"
if [ ! -x "$venv/bin/st" ]; then
  echo "schemathesis: installing schemathesis==4.32.5 into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "schemathesis==4.32.5"
fi

. scripts/start-up.sh
start_up schemathesis
"$venv/bin/st" --config-file scripts/schemathesis.toml run "$url/api/v1/openapi.json" \
  --url "$url" --checks all \
  --max-examples "${SCHEMATHESIS_EXAMPLES:-50}" --request-timeout 10 --seed 1
