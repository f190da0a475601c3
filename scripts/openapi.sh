#!/usr/bin/env bash
# Writes the gateway's OpenAPI document, as a real `edalab up` serves it at
# /api/v1/openapi.json, to web/openapi.json: the web UI's API types are generated from that
# file (`npm run gen:api`), and `crates/edalab/tests/edalab/up.rs` fails while the file
# differs from what the binary serves. Run it (then `cd web && npm run gen:api`) after
# changing a route, a request or a response.
#   EDALAB_BIN  the binary to run (default target/debug/edalab, built if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${EDALAB_BIN:-target/debug/edalab}"
[ -x "$bin" ] || cargo build -q -p edalab --bins

. scripts/start-up.sh
start_up openapi
curl -fsS "$url/api/v1/openapi.json" | python3 -m json.tool --indent 2 > web/openapi.json.partial
mv web/openapi.json.partial web/openapi.json
echo "openapi: web/openapi.json written from $url"
