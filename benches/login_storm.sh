#!/usr/bin/env bash
# argon2 memory under a login storm: server RSS idle, at the peak of the storm, and after it.
#
#   benches/login_storm.sh                 # the debug build (argon2 is opt-level 3 there too)
#   BIN=target/release/sekimori benches/login_storm.sh
#   STORM_REQUESTS=1280 STORM_CONNECTIONS=64 benches/login_storm.sh
#
# Starts Sekimori on 127.0.0.1 with a fresh SQLite database, registers a client allowed the
# password grant, then sends STORM_REQUESTS password grants (unknown accounts: each still costs
# one argon2id verification, m=19 MiB, and no per-account throttle applies) from
# STORM_CONNECTIONS concurrent curl processes. Prints VmRSS before, VmHWM (the peak) during, and
# VmRSS 2 s and 10 s after the storm, in MiB.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/debug/sekimori}
REQUESTS=${STORM_REQUESTS:-1280}
CONNS=${STORM_CONNECTIONS:-64}
PORT=${STORM_PORT:-18481}
BASE="http://127.0.0.1:$PORT"
[ -x "$BIN" ] || cargo build --quiet --bin sekimori

work=$(mktemp -d)
server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
export DATABASE_URL="sqlite://$work/storm.db?mode=rwc" SEKIMORI_KEYS_DIR="$work/keys"
mib() { awk "/^$2:/ {printf \"%.1f\", \$2 / 1024}" "/proc/$1/status"; }

"$BIN" migrate 2>/dev/null
client=$("$BIN" client add --name storm --redirect-uri http://localhost/cb \
  --grant-type password 2>/dev/null)
id=$(sed -E 's/.*"client_id":"([^"]+)".*/\1/' <<<"$client")
secret=$(sed -E 's/.*"client_secret":"([^"]+)".*/\1/' <<<"$client")
"$BIN" serve --bind "127.0.0.1:$PORT" >/dev/null 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 100); do curl -sf "$BASE/readyz" >/dev/null && break; sleep 0.1; done
# One login first: the hashing threads exist and the idle figure is the steady state.
curl -s -o /dev/null -u "$id:$secret" -d grant_type=password -d username=warm@example.com \
  -d password=wrong "$BASE/token"
sleep 2
idle=$(mib "$server_pid" VmRSS)
hwm_before=$(mib "$server_pid" VmHWM)

start=$(date +%s.%N)
seq "$REQUESTS" | xargs -P "$CONNS" -I{} curl -s -o /dev/null -w '%{http_code}\n' \
  -u "$id:$secret" -d grant_type=password -d "username=storm{}@example.com" \
  -d password=wrong "$BASE/token" >"$work/codes"
secs=$(echo "$(date +%s.%N) - $start" | bc)
peak=$(mib "$server_pid" VmHWM)
sleep 2
after2=$(mib "$server_pid" VmRSS)
sleep 8
after10=$(mib "$server_pid" VmRSS)

echo "cores: $(nproc)  requests: $REQUESTS  concurrency: $CONNS  time: ${secs}s"
echo "statuses: $(sort "$work/codes" | uniq -c | tr '\n' ' ')"
echo "RSS MiB: idle $idle (peak before storm $hwm_before) | storm peak $peak | after 2 s $after2 | after 10 s $after10"
