#!/usr/bin/env bash
# Sekimori load benchmark: one command, loopback only, bounded in time.
#
#   benches/load.sh                      # SQLite (fresh database in a temp folder)
#   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test benches/load.sh
#                                        # also PostgreSQL (a fresh database is created there)
#   BENCH_SECONDS=8 (per run)  BENCH_CONNECTIONS="32 64"
#
# Builds release, starts Sekimori on 127.0.0.1, registers clients and a user, pre-mints single-use
# codes and refresh tokens, then drives each hot endpoint with wrk (Debian's `wrk`; installed if
# missing) and prints one table: requests/s, p50/p99 latency, errors, server RSS, and ratios
# against this machine's raw RS256 signing rate (openssl speed, all cores) and a trivial handler.
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${BENCH_SECONDS:-8}
CONNS=${BENCH_CONNECTIONS:-"32 64"}
THREADS=2
PORT=${BENCH_PORT:-18480}
BASE="http://127.0.0.1:$PORT"

command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
echo "building release…" >&2
cargo build --release --quiet
BIN=target/release/sekimori

work=$(mktemp -d)
server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

rss_kib() { awk "/^$2:/ {print \$2}" "/proc/$1/status"; }

# Raw RS256 signing rate of this machine, all cores (openssl speed ≈ aws-lc-rs with a parsed key).
echo "measuring the raw RS256 sign rate…" >&2
SIGN_RATE=$(openssl speed -seconds 3 -multi "$(nproc)" rsa2048 2>/dev/null \
  | awk '/^rsa 2048 bits/ {print $6}' | tail -1)
SIGN_RATE=${SIGN_RATE%.*}

run_backend() {
  local label=$1 db=$2
  local keys="$work/keys-$label"
  export DATABASE_URL="$db" SEKIMORI_KEYS_DIR="$keys" SEKIMORI_BIND="127.0.0.1:$PORT" \
    SEKIMORI_ISSUER="$BASE" RUST_LOG=warn
  $BIN migrate 2>/dev/null
  $BIN serve >"$work/server-$label.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 100); do curl -sf "$BASE/readyz" >/dev/null && break; sleep 0.1; done
  curl -sf "$BASE/readyz" >/dev/null || { cat "$work/server-$label.log"; exit 1; }

  local cc_rs cc_es cc_ed web
  cc_rs=$($BIN client add --name rs --redirect-uri http://127.0.0.1:9/cb --grant-type client_credentials 2>/dev/null)
  cc_es=$($BIN client add --name es --redirect-uri http://127.0.0.1:9/cb --grant-type client_credentials --access-token-alg ES256 2>/dev/null)
  cc_ed=$($BIN client add --name ed --redirect-uri http://127.0.0.1:9/cb --grant-type client_credentials --access-token-alg EdDSA 2>/dev/null)
  web=$($BIN client add --name web --first-party --redirect-uri http://127.0.0.1:9/cb \
        --grant-type authorization_code --grant-type refresh_token --grant-type password 2>/dev/null)
  echo 'bench password 123' | $BIN user add --email bench@example.com --name Bench --password-stdin >/dev/null
  local sub
  sub=$($BIN user list | awk '/bench@example.com/ {print $1}')
  basic() { python3 -c 'import json,sys,base64; c=json.loads(sys.argv[1]); print("Basic "+base64.b64encode((c["client_id"]+":"+c["client_secret"]).encode()).decode())' "$1"; }
  local a_rs a_es a_ed a_web web_id at
  a_rs=$(basic "$cc_rs"); a_es=$(basic "$cc_es"); a_ed=$(basic "$cc_ed"); a_web=$(basic "$web")
  web_id=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["client_id"])' "$web")
  at=$(curl -sf -H "Authorization: $a_web" -d grant_type=password -d username=bench@example.com \
       --data-urlencode 'password=bench password 123' -d 'scope=openid profile email' "$BASE/token" \
       | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  for c in $CONNS; do
    mkdir -p "$work/$label-$c"
    python3 benches/mint.py "$db" "$web_id" "$sub" 60000 "$work/$label-$c"
  done

  local idle peak
  idle=$(rss_kib "$server_pid" VmRSS)
  bench() { # name conns script url [env…]
    local name=$1 c=$2 script=$3 url=$4; shift 4
    local out
    out=$(env THREADS=$THREADS "$@" wrk -t$THREADS -c"$c" -d"${DUR}s" --latency -s "benches/wrk/$script" "$url")
    python3 - "$label" "$name" "$c" <<PY >>"$work/results.tsv"
import re, sys
out = """$out"""
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
def pct(p):
    m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)", out, re.M)
    v, u = float(m.group(1)), m.group(2)
    return v / 1000 if u == "us" else v * 1000 if u == "s" else v
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
errors = (int(non2xx.group(1)) if non2xx else 0) + (sum(int(x) for x in sock.groups()) if sock else 0)
print("\t".join([sys.argv[1], sys.argv[2], sys.argv[3], f"{rps:.0f}", f"{pct(50):.2f}", f"{pct(99):.2f}", str(errors)]))
PY
  }
  for c in $CONNS; do
    echo "[$label] $c connections…" >&2
    bench healthz "$c" get.lua "$BASE/healthz"
    bench discovery "$c" get.lua "$BASE/.well-known/openid-configuration"
    bench jwks "$c" get.lua "$BASE/jwks"
    bench "token cc RS256" "$c" post.lua "$BASE/token" BODY=grant_type=client_credentials AUTH="$a_rs"
    bench "token cc ES256" "$c" post.lua "$BASE/token" BODY=grant_type=client_credentials AUTH="$a_es"
    bench "token cc EdDSA" "$c" post.lua "$BASE/token" BODY=grant_type=client_credentials AUTH="$a_ed"
    bench "token code" "$c" single_use.lua "$BASE/token" FILE="$work/$label-$c/codes.txt" \
      PREFIX="grant_type=authorization_code&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&code=" AUTH="$a_web"
    bench "token refresh" "$c" single_use.lua "$BASE/token" FILE="$work/$label-$c/refresh.txt" \
      PREFIX="grant_type=refresh_token&refresh_token=" AUTH="$a_web"
    bench userinfo "$c" get.lua "$BASE/userinfo" AUTH="Bearer $at"
    bench introspect "$c" post.lua "$BASE/introspect" BODY="token=$at" AUTH="$a_web"
  done
  # A login storm (64 connections of argon2id work) while client_credentials runs beside it:
  # the token endpoint's p99 must stay low because argon2 runs on the blocking pool behind one
  # permit per core.
  echo "[$label] login storm…" >&2
  env THREADS=1 AUTH="$a_web" wrk -t1 -c64 -d"$((DUR + 2))s" -s benches/wrk/storm.lua "$BASE/token" >"$work/storm-$label.txt" 2>&1 &
  local storm_pid=$!
  sleep 1
  bench "token cc RS256 during login storm" 16 post.lua "$BASE/token" BODY=grant_type=client_credentials AUTH="$a_rs"
  wait "$storm_pid" || true
  peak=$(rss_kib "$server_pid" VmHWM)
  echo -e "$label\t$idle\t$peak" >>"$work/memory.tsv"
  kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""
}

run_backend sqlite "sqlite://$work/bench.db?mode=rwc"
if [ -n "${BENCH_DATABASE_URL:-}" ]; then
  name="sekimori_bench_$$"
  psql -q "$BENCH_DATABASE_URL" -c "CREATE DATABASE $name"
  pg_url=$(python3 -c 'import sys,urllib.parse as u; p=u.urlparse(sys.argv[1]); print(p._replace(path="/"+sys.argv[2]).geturl())' "$BENCH_DATABASE_URL" "$name")
  run_backend postgres "$pg_url"
  psql -q "$BENCH_DATABASE_URL" -c "DROP DATABASE $name WITH (FORCE)" || true
fi

python3 - "$work/results.tsv" "$work/memory.tsv" "$SIGN_RATE" "$DUR" <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
mem = {l.split("\t")[0]: l.rstrip("\n").split("\t")[1:] for l in open(sys.argv[2])}
sign = float(sys.argv[3])
trivial = {(r[0], r[2]): float(r[3]) for r in rows if r[1] == "healthz"}
print(f"\nraw RS256 sign rate (openssl speed, all cores): {sign:.0f}/s; {sys.argv[4]} s per run; wrk -t2\n")
print("| backend | endpoint | conns | req/s | p50 ms | p99 ms | errors | ratio |")
print("|---|---|---|---|---|---|---|---|")
for b, name, c, rps, p50, p99, err in rows:
    rps_f = float(rps)
    ratio = ""
    if name == "token cc RS256":
        ratio = f"{rps_f / sign:.0%} of sign rate"
    elif name in ("token code", "token refresh"):
        ratio = f"{rps_f / (sign / 2):.0%} of half the sign rate"
    elif name in ("discovery", "jwks"):
        ratio = f"{rps_f / trivial[(b, c)]:.0%} of trivial"
    print(f"| {b} | {name} | {c} | {rps} | {p50} | {p99} | {err} | {ratio} |")
print()
for b, (idle, peak) in mem.items():
    print(f"{b}: server RSS idle {int(idle)/1024:.1f} MiB, peak {int(peak)/1024:.1f} MiB")
PY
