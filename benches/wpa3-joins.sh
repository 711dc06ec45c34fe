#!/usr/bin/env bash
# WPA3 joins and the data of the guests already connected (issue 15 item 5), as root: a
# WPA3-SAE network on vwifi-host's simulated air (the default, real-airtime one); a steady
# pair of attached namespaces pings each other every 10 ms; then JOINERS more namespaces
# (default 64), attached beforehand, are all told to join the network at once. Prints, for
# the steady pair, the round-trip times (median, 99th percentile, max) and losses in a quiet
# window and while the crowd joins; how long the joins took; and the CPU time the daemon's
# driver thread (the main thread: it runs the world and every guest's data) and its `sae`
# thread (WPA3's group arithmetic) spent meanwhile.
#   benches/wpa3-joins.sh [-n JOINERS] [-b BIN_DIR] [-s SECONDS]
#     -n  how many guests join at once (default 64)
#     -b  where vwifi-host and vwifi-guest are (default target/release; build it first:
#         cargo build --release -p vwifi-host -p vwifi-guest)
#     -s  the quiet window's length, and the least the pings run during the joins (default 5)
# Compare builds by running it once with each -b, alternating: the machine is shared.
set -euo pipefail
cd "$(dirname "$0")/.."

JOINERS=64 BIN=target/release SECS=5
while getopts "n:b:s:" opt; do
    case $opt in
        n) JOINERS=$OPTARG ;;
        b) BIN=$OPTARG ;;
        s) SECS=$OPTARG ;;
        *) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
    esac
done
[ "$(id -u)" = 0 ] || { echo "wpa3-joins: needs root (network namespaces)" >&2; exit 1; }
HOST=$BIN/vwifi-host GUEST=$BIN/vwifi-guest
[ -x "$HOST" ] && [ -x "$GUEST" ] || { echo "wpa3-joins: no vwifi-host/vwifi-guest in $BIN" >&2; exit 1; }

W=$(mktemp -d /tmp/vwifi-wpa3j.XXXXXX)
SOCK=$W/host.sock TAG=vwj$$ DAEMON=""
cleanup() {
    set +e
    [ -n "$DAEMON" ] && kill "$DAEMON" 2>/dev/null && wait "$DAEMON" 2>/dev/null
    for ns in $(ip netns list | awk '{print $1}' | grep "^$TAG-"); do ip netns del "$ns"; done
    rm -rf "$W"
}
trap cleanup EXIT
host() { "$HOST" "$@" --socket "$SOCK"; }
in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
PASS="a wpa3 passphrase"
ROOM=$(( JOINERS + 8 ))
cat > "$W/host.toml" <<EOF
[host]
state_dir = "$W/state"
[mux]
max_stations = $ROOM
[[sim.aps]]
ssid = "w3"
channel = 1
security = "wpa3"
passphrase = "$PASS"
position = [0.0, 0.0]
max_stations = $ROOM
EOF
"$HOST" run --config "$W/host.toml" --socket "$SOCK" 2> "$W/daemon.log" &
DAEMON=$!
for _ in $(seq 100); do host status >/dev/null 2>&1 && break; sleep 0.1; done
host status >/dev/null

join() { echo "$PASS" | in_ns "$1" "$GUEST" --link wlan0 connect w3 --passphrase-stdin --timeout 120 >/dev/null; }
for n in a b; do
    ip netns add "$TAG-$n"; host attach --netns "$TAG-$n" >/dev/null; in_ns "$TAG-$n" ip link set lo up
    join "$TAG-$n"
done
in_ns "$TAG-a" ip addr add 10.97.0.1/24 dev wlan0
in_ns "$TAG-b" ip addr add 10.97.0.2/24 dev wlan0
in_ns "$TAG-a" ping -c 3 -i 0.2 -W 5 10.97.0.2 >/dev/null || { echo "wpa3-joins: the steady pair cannot ping" >&2; exit 1; }
for i in $(seq 1 "$JOINERS"); do
    ip netns add "$TAG-j$i"; host attach --netns "$TAG-j$i" >/dev/null
done

# CPU ticks of the daemon's driver (main) thread and of its sae thread.
ticks() {
    local driver=0 sae=0 f name t
    for f in /proc/"$DAEMON"/task/*; do
        name=$(cat "$f/comm" 2>/dev/null || true)
        t=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "$f/stat" 2>/dev/null || echo 0)
        if [ "${f##*/}" = "$DAEMON" ]; then driver=$t; elif [ "$name" = sae ]; then sae=$t; fi
    done
    echo "$driver $sae"
}
# "median p99 max loss%" of a ping -D log (busybox and iputils both print time=).
rtts() {
    local loss
    loss=$(sed -n 's/.* \([0-9.]*\)% packet loss.*/\1/p' "$1")
    grep -o 'time=[0-9.]*' "$1" | cut -d= -f2 | sort -n | awk -v loss="${loss:-?}" '
        { v[NR] = $1 } END {
            if (NR == 0) { print "no replies"; exit }
            p = int(NR * 0.99); if (p < 1) p = 1
            printf "median %.2f ms, p99 %.2f ms, max %.2f ms, %s%% lost (%d replies)\n",
                v[int((NR + 1) / 2)], v[p], v[NR], loss, NR }'
}
n=$(( SECS * 100 ))
in_ns "$TAG-a" ping -c "$n" -i 0.01 -W 2 10.97.0.2 > "$W/quiet.ping" 2>&1
echo "steady pair, quiet:          $(rtts "$W/quiet.ping")"

# Not through in_ns: $! must be ping itself (ip execs it) for the SIGINT that ends it.
ip netns exec "$TAG-a" ping -i 0.01 -W 2 10.97.0.2 > "$W/joins.ping" 2>&1 &
PING=$!
sleep 0.5
read -r d0 s0 < <(ticks)
t0=$(date +%s.%N)
PIDS=()
for i in $(seq 1 "$JOINERS"); do join "$TAG-j$i" & PIDS+=($!); done
failed=0
for p in "${PIDS[@]}"; do wait "$p" || failed=$(( failed + 1 )); done
t1=$(date +%s.%N)
read -r d1 s1 < <(ticks)
# At least the quiet window's length of pings during the joins.
left=$(awk -v a="$t0" -v b="$t1" -v s="$SECS" 'BEGIN { r = s - (b - a); print (r > 0 ? r : 0) }')
sleep "$left"
kill -INT "$PING"; wait "$PING" 2>/dev/null || true
hz=$(getconf CLK_TCK)
echo "steady pair, during joins:   $(rtts "$W/joins.ping")"
awk -v a="$t0" -v b="$t1" -v n="$JOINERS" -v f="$failed" -v d=$(( d1 - d0 )) -v s=$(( s1 - s0 )) -v hz="$hz" 'BEGIN {
    printf "%d WPA3 joins in %.1f s (%d failed); meanwhile the driver thread used %.2f CPU-s, the sae thread %.2f CPU-s\n",
        n, b - a, f, d / hz, s / hz }'
host status | grep '^ap ' || true
[ "$failed" = 0 ]
