#!/bin/bash
# Soak test of vwifi-host (issue 19): many attached containers with mixed traffic while others
# churn (attach, connect, status, disconnect, detach) for a given time. Prints the operations,
# the failures, the daemon's memory at start, after a warm-up and at the end (sampled every 10 s),
# and the throughput of a steady guest pair before and during the churn.
#
# Usage (root; iproute2, iperf3, ping):
#   tests/soak.sh [-d SECONDS] [-g GUESTS] [-c CHURNERS] [-b BIN_DIR]
#     -d  how long the churn and the traffic run (default 3600)
#     -g  steady guests, attached and connected the whole time (default 64, at least 2)
#     -c  namespaces that churn in parallel (default 4)
#     -b  where vwifi-host and vwifi-guest are (default target/release if built, else
#         target/debug)
# Everything runs in network namespaces the script creates (vws-*) and deletes at the end;
# traffic stays between them. Exits non-zero if any operation failed.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=3600 GUESTS=64 CHURNERS=4 BIN=""
while getopts "d:g:c:b:" opt; do
    case $opt in
        d) DURATION=$OPTARG ;;
        g) GUESTS=$OPTARG ;;
        c) CHURNERS=$OPTARG ;;
        b) BIN=$OPTARG ;;
        *) sed -n '2,15p' "$0"; exit 2 ;;
    esac
done
[ "$GUESTS" -ge 2 ] || { echo "soak: -g must be at least 2" >&2; exit 2; }
if [ -z "$BIN" ]; then
    if [ -x target/release/vwifi-host ] && [ -x target/release/vwifi-guest ]; then
        BIN=target/release
    else
        BIN=target/debug
    fi
fi
HOST=$(realpath "$BIN/vwifi-host")
GUEST=$(realpath "$BIN/vwifi-guest")
for tool in "$HOST" "$GUEST"; do [ -x "$tool" ] || { echo "soak: no $tool (cargo build)" >&2; exit 2; }; done

WORK=$(mktemp -d /tmp/vwifi-soak.XXXXXX)
SOCK=$WORK/host.sock
TAG=$$
DAEMON="" SERVER="" SAMPLER=""
cleanup() {
    set +e
    [ -n "$SAMPLER" ] && kill "$SAMPLER" 2>/dev/null
    [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null
    [ -n "$DAEMON" ] && kill "$DAEMON" 2>/dev/null && wait "$DAEMON" 2>/dev/null
    for ns in $(ip netns list | awk '{print $1}' | grep "^vws-$TAG-"); do ip netns del "$ns"; done
    rm -rf "$WORK"
}
trap cleanup EXIT

rss() { awk '/^VmRSS:/ {print $2}' "/proc/$DAEMON/status"; }
host() { "$HOST" "$@" --socket "$SOCK"; }
in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
steady() { echo "vws-$TAG-g$1"; }
churner() { echo "vws-$TAG-c$1"; }
ip_of() { echo "10.99.$(( $1 / 250 )).$(( $1 % 250 + 1 ))"; }

ROOM=$(( GUESTS + CHURNERS + 8 ))
cat > "$WORK/host.toml" <<EOF
[host]
state_dir = "$WORK/state"
[mux]
max_stations = $ROOM
[[sim.aps]]
ssid = "vwifi-open"
channel = 1
bssid = "02:76:77:00:00:01"
position = [0.0, 0.0]
max_stations = $ROOM
[[sim.aps]]
ssid = "vwifi-lab"
channel = 1
bssid = "02:76:77:00:00:02"
passphrase = "correct horse battery staple"
position = [5.0, 0.0]
max_stations = $ROOM
EOF
"$HOST" run --config "$WORK/host.toml" --socket "$SOCK" 2> "$WORK/daemon.log" &
DAEMON=$!
for _ in $(seq 100); do host status >/dev/null 2>&1 && break; sleep 0.1; done
host status >/dev/null

echo "soak: $GUESTS steady guests, $CHURNERS churning, ${DURATION}s, binaries in $BIN"
t0=$(date +%s)
for i in $(seq 0 $(( GUESTS - 1 ))); do
    ns=$(steady "$i")
    ip netns add "$ns"
    host attach --netns "$ns" >/dev/null
    in_ns "$ns" ip link set lo up
    in_ns "$ns" ip addr add "$(ip_of "$i")/16" dev wlan0
    in_ns "$ns" "$GUEST" --link wlan0 connect vwifi-open >/dev/null
done
echo "soak: setup took $(( $(date +%s) - t0 ))s"

# The steady pair's throughput, alone.
ip netns exec "$(steady 0)" iperf3 -s -p 5201 >/dev/null 2>&1 &  # ip execs: $! is iperf3
SERVER=$!
sleep 0.5
mbps() { python3 -c 'import json,sys; print("%.1f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e6))'; }
BASE=$(in_ns "$(steady 1)" iperf3 -c "$(ip_of 0)" -t 5 -J | mbps)
RSS_START=$(rss)

# Mixed traffic: every other steady guest pings guest 0 twice a second for the whole run.
PINGS=()
for i in $(seq 2 $(( GUESTS - 1 ))); do
    in_ns "$(steady "$i")" ping -q -i 0.5 -w "$DURATION" "$(ip_of 0)" > "$WORK/ping.$i" 2>&1 &
    PINGS+=($!)
done

# The churners: cycles until the time is up; one line per operation in $WORK/ops.N.
churn() {
    local n=$1 ns round=0 end=$(( $(date +%s) + DURATION ))
    ns=$(churner "$n")
    ip netns add "$ns"
    while [ "$(date +%s)" -lt "$end" ]; do
        op() { local what=$1; shift; if out=$("$@" 2>&1); then echo "ok $what"; else echo "FAIL $what round $round: $out"; return 1; fi; }
        if op attach host attach --netns "$ns"; then
            if [ $(( round % 2 )) -eq 0 ]; then
                op connect in_ns "$ns" "$GUEST" --link wlan0 connect vwifi-open
            else
                op connect in_ns "$ns" "$GUEST" --link wlan0 connect vwifi-lab --passphrase "correct horse battery staple"
            fi && op status in_ns "$ns" "$GUEST" --link wlan0 status && op disconnect in_ns "$ns" "$GUEST" --link wlan0 disconnect
            op detach host detach --netns "$ns" || true
        fi
        round=$(( round + 1 ))
    done > "$WORK/ops.$n"
}
CHURN=()
for n in $(seq 0 $(( CHURNERS - 1 ))); do churn "$n" & CHURN+=($!); done

# The daemon's memory every 10 s from here ("SECONDS KiB" lines). The start figure is taken
# before the traffic and the churn begin; what they first allocate the daemon keeps and reuses
# (thread caches, queues, the allocator's pages), so flat means flat after a warm-up.
WARM=$(( DURATION >= 600 ? 120 : DURATION / 5 ))
T_CHURN=$(date +%s)
( while kill -0 "$DAEMON" 2>/dev/null; do echo "$(( $(date +%s) - T_CHURN )) $(rss)"; sleep 10; done ) > "$WORK/rss" &
SAMPLER=$!

# The steady pair's throughput during the churn (the first 10 s are not counted: warm-up).
sleep 2
DURING=$(in_ns "$(steady 1)" iperf3 -c "$(ip_of 0)" -t $(( DURATION > 20 ? DURATION - 10 : DURATION / 2 + 1 )) -O $(( DURATION > 20 ? 5 : 0 )) -J | mbps)
wait "${CHURN[@]}" || true
wait "${PINGS[@]}" 2>/dev/null || true
RSS_END=$(rss)
kill "$SAMPLER" 2>/dev/null || true; SAMPLER=""
RSS_WARM=$(awk -v w="$WARM" '$1 >= w {print $2; exit}' "$WORK/rss")
RSS_MAX=$(awk -v w="$WARM" '$1 >= w && $2 > m {m = $2} END {print m + 0}' "$WORK/rss")

OPS=$(cat "$WORK"/ops.* | wc -l)
FAILS=$(cat "$WORK"/ops.* | grep -c '^FAIL' || true)
LOSS=$(cat "$WORK"/ping.* | awk '/packets transmitted/ {tx += $1; rx += $4} END {printf "%d/%d", tx - rx, tx}')
GUESTS_LEFT=$(host status --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["guests"]))')
alive=yes; kill -0 "$DAEMON" 2>/dev/null || alive=no

echo "soak: ran ${DURATION}s: $OPS operations, $FAILS failed"
echo "soak: daemon RSS $RSS_START KiB at start, $RSS_END KiB at end; alive: $alive; guests left: $GUESTS_LEFT (want $GUESTS)"
echo "soak: daemon RSS ${RSS_WARM:-?} KiB after ${WARM}s of churn and traffic, at most $RSS_MAX KiB from then on, $RSS_END KiB at end"
echo "soak: steady pair iperf3: $BASE Mbit/s alone, $DURING Mbit/s during churn"
echo "soak: pings lost (mixed traffic): $LOSS"
if [ "$FAILS" -gt 0 ]; then grep -h '^FAIL' "$WORK"/ops.* | head -20; fi
[ "$FAILS" -eq 0 ] && [ "$alive" = yes ] && [ "$GUESTS_LEFT" -eq "$GUESTS" ]
