#!/usr/bin/env bash
# Browser tests against a real `edalab up`: builds the UI, starts the platform on a free port
# with a fresh data directory, runs the playwright-core scripts in Debian's Chromium, stops
# the platform. Screenshots land in target/ (ui-smoke.png, ui-mocked.png).
#   EDALAB_BIN  the binary to run (default target/debug/edalab, built if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${EDALAB_BIN:-target/debug/edalab}"
[ -x "$bin" ] || cargo build -q --workspace --all-features --bins
[ -f web/dist/index.html ] || (cd web && npm run build)

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
data=$(mktemp -d "${TMPDIR:-/tmp}/edalab-e2e-XXXX")
log="$data/up.log"
"$bin" up --listen "127.0.0.1:$port" --data-dir "$data" >"$log" 2>&1 &
pid=$!
cleanup() { kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$data"; }
trap cleanup EXIT

url="http://127.0.0.1:$port"
for _ in $(seq 1 100); do
  curl -fsS "$url/api/v1/health" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { echo "e2e: edalab up exited early:"; cat "$log"; exit 1; }
  sleep 0.1
done
curl -fsS "$url/api/v1/health" >/dev/null || { echo "e2e: edalab up not healthy at $url"; cat "$log"; exit 1; }

echo "e2e: edalab up healthy at $url; running the browser tests"
(cd web && EDALAB_URL="$url" npm run -s e2e && EDALAB_URL="$url" npm run -s e2e:mocked)
