#!/usr/bin/env bash
# Browser tests (playwright-core driving Debian's Chromium), each on a fresh data directory and
# a free port, screenshots in target/:
#   1. web/e2e/live.mjs   — against the REAL platform: starts `edalab up` itself, drives the UI
#      (simulation, producer, edges, DLQ + redrive), restarts the server on the same port and
#      data dir to check the WebSocket reconnects (target/ui-live.png);
#   2. web/e2e/mocked.mjs — the page served by `edalab up`, the gateway's REST/WS faked inside the
#      browser, for UI states that are hard to reach for real (target/ui-mocked.png).
#   EDALAB_BIN  the binary to run (default target/debug/edalab, built if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${EDALAB_BIN:-target/debug/edalab}"
[ -x "$bin" ] || cargo build -q --workspace --all-features --bins
[ -f web/dist/index.html ] || (cd web && npm run build)
started=$(date +%s)

echo "e2e: live browser test against a real edalab up"
(cd web && EDALAB_BIN="$bin" npm run -s e2e)  # live.mjs resolves it from the repo root

. scripts/start-up.sh
start_up e2e

echo "e2e: mocked-gateway browser test (page served by edalab up at $url)"
(cd web && EDALAB_URL="$url" npm run -s e2e:mocked)
echo "e2e: all browser tests passed in $(( $(date +%s) - started )) s"
