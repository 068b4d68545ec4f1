#!/usr/bin/env bash
# Load test and API fuzzing of `hoptrace serve`, on loopback.
#
#   bench/serve_check.sh [--db DB --addresses FILE] [--bin PATH] [--duration S]
#                        [--reload-at S] [--threads N] [--connections N]
#                        [--warm] [--no-schemathesis] [--serve-arg ARG]...
#
# Without --db it imports the demo data (fixtures/ronin) into a temporary store
# and screens every address of its transfers plus a few unknown ones. It starts
# `hoptrace serve` with a bearer token, warms it up, records its resident memory,
# runs wrk for --duration seconds (GET /v1/addresses/{a}, random addresses) with a
# POST /v1/reload at --reload-at seconds and a SIGHUP reload a second later, and
# fails unless wrk saw 0 socket errors, 0 timeouts and 0 non-2xx responses, both
# reloads happened, and resident memory after is within 10% + 8 MiB of before.
# Then it runs schemathesis (all checks, positive and negative data) against
# /openapi.json. Needs wrk (Debian) and schemathesis (PyPI): CI installs both.
# --warm first screens the whole address list (POST /v1/screen, 1000 at a time),
# which fills the evidence and answer caches: the steady state the README's
# figures measure, and the memory a long run levels off at. Each --serve-arg is
# passed on to `hoptrace serve` (e.g. --serve-arg --answer-cache --serve-arg 0).
set -euo pipefail
cd "$(dirname "$0")/.."

db="" addresses="" bin="target/debug/hoptrace" duration=25 reload_at=10
threads=2 connections=16 schemathesis=1 warm=0 serve_args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --db) db="$2"; shift 2 ;;
        --addresses) addresses="$2"; shift 2 ;;
        --bin) bin="$2"; shift 2 ;;
        --duration) duration="$2"; shift 2 ;;
        --reload-at) reload_at="$2"; shift 2 ;;
        --threads) threads="$2"; shift 2 ;;
        --connections) connections="$2"; shift 2 ;;
        --no-schemathesis) schemathesis=0; shift ;;
        --warm) warm=1; shift ;;
        --serve-arg) serve_args+=("$2"); shift 2 ;;
        *) echo "serve_check: unknown argument $1" >&2; exit 2 ;;
    esac
done

work=$(mktemp -d)
server=""
cleanup() {
    if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
        kill -TERM "$server" 2>/dev/null || true
        wait "$server" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

if [ -z "$db" ]; then
    db="$work/demo.db"
    "$bin" --db "$db" import transfers fixtures/ronin/transfers.csv >/dev/null 2>&1
    "$bin" --db "$db" import labels fixtures/ronin/labels.csv >/dev/null 2>&1
    addresses="$work/addresses.txt"
    { tail -n +2 fixtures/ronin/transfers.csv | cut -d, -f3,4 | tr ',' '\n'
      for i in 1 2 3 4 5 6 7 8; do printf '0x%040d\n' "$i"; done; } | sort -u >"$addresses"
fi
[ -n "$addresses" ] || { echo "serve_check: --db needs --addresses" >&2; exit 2; }

token="serve-check-$RANDOM$RANDOM"
printf '%s\n' "$token" >"$work/token"
RUST_LOG=info NO_COLOR=1 "$bin" --db "$db" serve --listen 127.0.0.1:0 \
    --token-file "$work/token" "${serve_args[@]}" >"$work/stdout" 2>"$work/server.log" &
server=$!
url=""
for _ in $(seq 1 6000); do
    url=$(sed -n 's/^listening on //p' "$work/stdout")
    [ -n "$url" ] && break
    kill -0 "$server" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
    sleep 0.1
done
[ -n "$url" ] || { echo "serve_check: the server did not start" >&2; exit 1; }
echo "server $url (pid $server), data: $db"
auth=(-H "Authorization: Bearer $token")
curl -fsS "${auth[@]}" "$url/v1/status"; echo

rss() { awk '/^VmRSS/ {print $2}' "/proc/$server/status"; }
generation() { curl -fsS "${auth[@]}" "$url/v1/status" | sed 's/.*"generation":\([0-9]*\).*/\1/'; }

# Warm up: one reload's worth of allocator state, then (--warm) the caches of the
# state now loaded filled, then connections. Reloads during the run start with
# empty caches that fill again, up to their bounds.
[ "$reload_at" -gt 0 ] && curl -fsS -X POST "${auth[@]}" "$url/v1/reload" >/dev/null
if [ "$warm" = 1 ]; then
    split -l 1000 "$addresses" "$work/chunk."
    for f in "$work"/chunk.*; do
        printf '{"addresses":[%s]}' "$(sed 's/.*/"&"/' "$f" | paste -sd,)" >"$work/body.json"
        curl -fsS -o /dev/null -X POST -H 'Content-Type: application/json' "${auth[@]}" \
            --data-binary @"$work/body.json" "$url/v1/screen"
    done
    echo "screened $(wc -l <"$addresses") addresses once"
fi
# With --warm, long enough for the caches' churn (a full shard is cleared and
# refilled) to reach its steady state too.
warmup=3
[ "$warm" = 1 ] && warmup=30
ADDRESSES="$addresses" TOKEN="$token" wrk -t"$threads" -c"$connections" -d"${warmup}s" \
    -s bench/serve_wrk.lua "$url" >/dev/null
before=$(rss)
gen_before=$(generation)

ADDRESSES="$addresses" TOKEN="$token" wrk -t"$threads" -c"$connections" -d"${duration}s" \
    --latency -s bench/serve_wrk.lua "$url" >"$work/wrk.txt" &
wrk_pid=$!
if [ "$reload_at" -gt 0 ]; then
    sleep "$reload_at"
    curl -fsS -X POST "${auth[@]}" "$url/v1/reload" >/dev/null
    sleep 1
    kill -HUP "$server"
fi
wait "$wrk_pid"
cat "$work/wrk.txt"
after=$(rss)
gen_after=$(generation)

fail=0
if grep -Eq 'Socket errors|Non-2xx' "$work/wrk.txt"; then
    echo "serve_check: FAIL: wrk saw errors or non-2xx responses" >&2; fail=1
fi
requests=$(awk '/requests in/ {print $1}' "$work/wrk.txt")
[ "${requests:-0}" -gt 0 ] || { echo "serve_check: FAIL: no requests" >&2; fail=1; }
if [ "$reload_at" -gt 0 ]; then
    # SIGHUP reloads asynchronously: give it the time a reload takes.
    for _ in $(seq 1 600); do
        gen_after=$(generation)
        [ "$gen_after" -ge $((gen_before + 2)) ] && break
        sleep 0.5
    done
    if [ "$gen_after" -ne $((gen_before + 2)) ]; then
        echo "serve_check: FAIL: generation $gen_before -> $gen_after, expected two reloads" >&2
        fail=1
    fi
    after=$(rss)
fi
limit=$((before + before / 10 + 8192))
echo "resident memory: ${before} KiB before, ${after} KiB after (limit ${limit} KiB); generation $gen_before -> $gen_after"
if [ "$after" -gt "$limit" ]; then
    echo "serve_check: FAIL: resident memory grew beyond the margin" >&2; fail=1
fi
if grep -Fq -- "$(sed -n 1p "$addresses" | cut -c3-)" "$work/server.log"; then
    echo "serve_check: FAIL: a screened address appears in the info-level log" >&2; fail=1
fi

if [ "$schemathesis" = 1 ]; then
    st=${SCHEMATHESIS:-schemathesis}
    if [[ "$st" == */* ]]; then st=$(realpath "$st"); fi
    # From the scratch directory: schemathesis keeps a cache in the working one.
    (cd "$work" && "$st" run "$url/openapi.json" --url "$url" "${auth[@]}" \
        --checks all --mode all --max-examples 50 --seed 1) || fail=1
fi

kill -TERM "$server"
if ! wait "$server"; then
    echo "serve_check: FAIL: the server did not shut down cleanly" >&2; fail=1
fi
server=""
[ "$fail" = 0 ] && echo "serve_check: passed"
exit "$fail"
