# Sourced by the scripts that test a real `edalab up` (e2e.sh, schemathesis.sh): starts
# "$bin" up on a free loopback port and a fresh data directory, stops it and removes the
# directory on exit, and waits until /api/v1/health answers. Sets $url, $data, $pid.
#   $1  the caller's name, for messages
start_up() {
  local who="$1" port log
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  data=$(mktemp -d "${TMPDIR:-/tmp}/edalab-$who-XXXX")
  log="$data/up.log"
  "$bin" up --listen "127.0.0.1:$port" --data-dir "$data/data" >"$log" 2>&1 &
  pid=$!
  trap 'kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$data"' EXIT
  url="http://127.0.0.1:$port"
  for _ in $(seq 1 300); do
    curl -fsS "$url/api/v1/health" >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || { echo "$who: edalab up exited early:"; cat "$log"; exit 1; }
    sleep 0.1
  done
  curl -fsS "$url/api/v1/health" >/dev/null || { echo "$who: edalab up not healthy at $url"; cat "$log"; exit 1; }
}
