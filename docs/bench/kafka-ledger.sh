#!/usr/bin/env bash
# Ledger events applied per second on kafka (tansu, in memory) + PostgreSQL, release build.
set -u
E=$(realpath "${EDALAB:-target/release/edalab}")  # run from the repository root
WORK=${WORK:-$(mktemp -d)}; cd "$WORK" && rm -rf data *.log
P=39092; DB=edalab_kbench
~/.cargo/bin/tansu broker --listener-url tcp://127.0.0.1:$P --advertised-listener-url tcp://127.0.0.1:$P --storage-engine memory://tansu/ --silent &
T=$!
psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
URL=postgres://postgres@127.0.0.1/$DB
export EDALAB__LOG__LEVEL=warn
# one record per producer batch: tansu 0.6 answers nothing to a fetch inside a batch (ADR 015)
EDALAB__KAFKA__BATCH__NUM__MESSAGES=1 $E serve simulator --profile kafka --brokers 127.0.0.1:$P --database-url $URL --listen 127.0.0.1:38083 > sim.log 2>&1 &
S=$!
sleep 6
curl -s -XPOST 127.0.0.1:38083/api/v1/simulation/start -H 'content-type: application/json' -d "{\"scenario\":\"banking-day\",\"rate\":${RATE:-10000},\"duration\":${DUR:-6},\"seed\":5}"; echo
while curl -s 127.0.0.1:38083/api/v1/simulation/status | grep -q '"status":"running"'; do sleep 1; done
curl -s 127.0.0.1:38083/api/v1/simulation/status | head -c 700; echo
kill $S
$E serve ledger --profile kafka --brokers 127.0.0.1:$P --database-url $URL --listen 127.0.0.1:38081 > ledger.log 2>&1 &
L=$!
prev=0; start=""; t0=$(date +%s.%N)
for i in $(seq 1 600); do
  n=$(psql -tA -h 127.0.0.1 -U postgres -d $DB -c "SELECT count(*) FROM bancaire.inbox" 2>/dev/null || echo 0)
  now=$(date +%s.%N)
  if [ -z "$start" ] && [ "${n:-0}" -gt 0 ]; then start=$now; first=$n; fi
  echo "$now $n"
  if [ "${n:-0}" -gt 0 ] && [ "$n" = "$prev" ] && [ -n "$start" ]; then stable=$((stable+1)); else stable=0; fi
  [ "${stable:-0}" -ge 6 ] && break
  prev=$n; sleep 0.5
done > progress.log
kill $L; sleep 2; kill $T
tail -3 progress.log
python3 - <<'PY'
rows=[tuple(map(float,l.split())) for l in open('progress.log')]
nz=[r for r in rows if r[1]>0]
t_first,n_first=nz[0]
final=nz[-1][1]
t_done=min(r[0] for r in nz if r[1]==final)
print(f"decided {int(final)} events; from first commit ({int(n_first)}) to last: {t_done-t_first:.2f} s -> {(final-n_first)/(t_done-t_first):.0f} ev/s")
PY
