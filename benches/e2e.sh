#!/usr/bin/env bash
# End-to-end throughput of the daemon's data plane (issue 11), as root:
#   benches/e2e.sh [--repeat N] [--time SECONDS] [--pairs | --pairs-only] [--daemon PATH] [--guest PATH]
#                  [--air zero|real] [--standard g|n|ac|ax] [--no-build] [--perf FILE open|wpa2]
#                  [--link-queue N] [--rx-stage on|off] [--busy] [--channel N] [--rate MBIT]
#
# One run puts, side by side:
#   - two network namespaces attached to `vwifi-host` and joined to an OPEN network of the
#     simulated radio, iperf3 TCP from one to the other through the daemon;
#   - the same on a WPA2 network (CCMP both ways through the AP);
#   - a plain veth pair between two namespaces (the kernel's own path: the reference);
#   - with --pairs, two more pairs of namespaces on the open network at once (four guests,
#     two iperf3 flows at the same time): each pair's share of their sum; and, as the
#     machine's own reference, two veth pairs at once (how evenly the kernel and the
#     scheduler share two cores between two flows with no vwifi in the path); --pairs-only
#     measures these alone (no single flows: more rounds of the split in the same time).
# The air is the zero-airtime medium (`[sim.medium] airtime = false`, a measuring mode: frames
# take no airtime, no contention, no loss), so what is measured is vwifi, not a radio model;
# --air real keeps the default 802.11g air (and omits the key, for a daemon built before it).
# --standard sets both APs' `standard` (default: the APs' own default, 802.11g): the data path
# of an HT/VHT/HE network (QoS data, rate control, A-MPDUs where the air aggregates).
# --channel sets both APs' channel (default 1: 2.4 GHz, 20 MHz; 36 is 5 GHz, where an ac or ax
# network is 80 MHz wide and its stations take longer A-MSDUs: 7 full-size MSDUs against 5).
# Prints Mbit/s, the daemon's CPU seconds per Gbit carried (utime + stime from
# /proc/PID/stat over the iperf3 run), its %CPU (over 100: more than one core) and its busiest
# thread's %CPU and which (driver: the main thread, which runs the world; worker: a port task's;
# near 100 %: that thread is the limit) and the ratios to the veth pair, for each round and as a
# min-max range over --repeat rounds. --daemon runs another build of vwifi-host (e.g. main's),
# --guest another vwifi-guest; without them the release build of this tree is built and used.
# --perf FILE open|wpa2 records the daemon with `perf record -g` during the first such run.
# --rate MBIT caps every iperf3 flow at MBIT Mbit/s (`iperf3 -b`): below the daemon's limit
# the flows carry the same bytes whatever the build, so its CPU-s/Gbit compares two builds'
# cost per bit at the same load (a round still varies by about 7 %, standard deviation, at
# 2000 on the 2-core machine; the ratios then say little).
# --link-queue N sets the daemon's `[mux] link_queue` (messages waiting for one guest's port).
# --rx-stage on|off sets the daemon's `[mux] rx_stage` (default: the daemon's own, on since
# session 29): whether a guest's port thread decrypts its station's protected frames (the
# receive stage) or the driver thread does; one build measured both ways.
# --busy keeps the machine busy elsewhere during the rounds, in bursts as a build does: two
# busy loops for 50 ms, then 50 ms idle, over and over (how fairly the pairs share a machine
# whose cores other work takes now and then; the rounds' ratios drop with it).
# E2E_STATUS=FILE saves the daemon's `status --json` (drop counters) at the end; the sums of
# the guests' link_queue_full and radio_queue_full are printed either way, and the A-MSDUs sent
# over the run with their mean number of MSDUs (fewer MPDUs for the same bytes: less work).
set -euo pipefail

REPEAT=3
TIME=5
PAIRS=0
PAIRS_ONLY=0
AIR=zero
BUILD=1
DAEMON=""
PERF=""
PERF_RUN=""
GUEST=""
LINK_QUEUE=""
RX_STAGE=""
BUSY=0
STANDARD=""
CHANNEL=1
RATE=""
ROOT="$(cd "$(dirname "$0")/.." && pwd)"

usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit "${1:-0}"; }
die() { echo "e2e.sh: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
    case "$1" in
        --repeat) REPEAT="${2:?--repeat needs a number}"; shift 2 ;;
        --time) TIME="${2:?--time needs seconds}"; shift 2 ;;
        --pairs) PAIRS=1; shift ;;
        --pairs-only) PAIRS=1; PAIRS_ONLY=1; shift ;;
        --daemon) DAEMON="${2:?--daemon needs a path}"; shift 2 ;;
        --guest) GUEST="${2:?--guest needs a path}"; shift 2 ;;
        --air) AIR="${2:?--air needs zero or real}"; shift 2 ;;
        --standard) STANDARD="${2:?--standard needs g, n, ac or ax}"; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --perf) PERF="${2:?--perf needs a file}"; PERF_RUN="${3:?--perf needs open or wpa2}"; shift 3 ;;
        --link-queue) LINK_QUEUE="${2:?--link-queue needs a number}"; shift 2 ;;
        --rx-stage) RX_STAGE="${2:?--rx-stage needs on or off}"; shift 2 ;;
        --busy) BUSY=1; shift ;;
        --rate) RATE="${2:?--rate needs Mbit/s}"; shift 2 ;;
        --channel) CHANNEL="${2:?--channel needs a channel number}"; shift 2 ;;
        -h|--help) usage 0 ;;
        *) echo "e2e.sh: unknown argument $1" >&2; usage 2 ;;
    esac
done
case "$REPEAT" in ''|*[!0-9]*|0) die "--repeat takes a positive number, got $REPEAT" ;; esac
case "$TIME" in ''|*[!0-9]*|0) die "--time takes a positive number of seconds, got $TIME" ;; esac
case "$AIR" in zero|real) ;; *) die "--air takes zero or real, got $AIR" ;; esac
case "$CHANNEL" in ''|*[!0-9]*) die "--channel takes a channel number, got $CHANNEL" ;; esac
case "$RATE" in *[!0-9]*|0) die "--rate takes a positive number of Mbit/s, got $RATE" ;; esac
case "$LINK_QUEUE" in *[!0-9]*|0) die "--link-queue takes a positive number, got $LINK_QUEUE" ;; esac
case "$RX_STAGE" in ''|on|off) ;; *) die "--rx-stage takes on or off, got $RX_STAGE" ;; esac
case "$STANDARD" in ''|g|n|ac|ax) ;; *) die "--standard takes g, n, ac or ax, got $STANDARD" ;; esac
[ "$(id -u)" = 0 ] || die "needs root (network namespaces, TAPs)"
for tool in ip iperf3 awk; do
    command -v "$tool" >/dev/null || die "needs $tool (apt-get install iproute2 iperf3 gawk)"
done

if [ -z "$DAEMON" ] || [ -z "$GUEST" ]; then
    if [ "$BUILD" = 1 ]; then
        (cd "$ROOT" && cargo build --release -q -p vwifi-host -p vwifi-guest)
    fi
    DAEMON="${DAEMON:-$ROOT/target/release/vwifi-host}"
    GUEST="${GUEST:-$ROOT/target/release/vwifi-guest}"
fi
[ -x "$DAEMON" ] || die "no daemon at $DAEMON"
[ -x "$GUEST" ] || die "no guest CLI at $GUEST"

TAG="vwb$(( $$ % 10000 ))"
WORK="$(mktemp -d)"
NS=()
DPID=""
LOAD=""
cleanup() {
    [ -n "$LOAD" ] && kill "$LOAD" 2>/dev/null && wait "$LOAD" 2>/dev/null || true
    [ -n "$DPID" ] && kill "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null || true
    for ns in "${NS[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

PASS="e2e bench passphrase"
mkns() { ip netns add "$1"; ip -n "$1" link set lo up; NS+=("$1"); }
inns() { local ns="$1"; shift; ip netns exec "$ns" "$@"; }

# Namespaces: o1 o2 (open), w1 w2 (WPA2), v1 v2 (veth), and p1..p4, v3 v4 (--pairs).
GUESTS=(o1 o2 w1 w2)
[ "$PAIRS" = 1 ] && GUESTS+=(p1 p2 p3 p4)
VETHS=(v1 v2)
[ "$PAIRS" = 1 ] && VETHS+=(v3 v4)
for g in "${GUESTS[@]}" "${VETHS[@]}"; do mkns "$TAG$g"; done

{
    echo "[host]"
    echo "state_dir = \"$WORK/state\""
    if [ -n "$LINK_QUEUE$RX_STAGE" ]; then
        echo "[mux]"
        [ -n "$LINK_QUEUE" ] && echo "link_queue = $LINK_QUEUE"
        case "$RX_STAGE" in on) echo "rx_stage = true" ;; off) echo "rx_stage = false" ;; esac
    fi
    echo "[sim]"
    echo "seed = 1"
    echo "[sim.medium]"
    [ "$AIR" = zero ] && echo "airtime = false"
    echo "[[sim.aps]]"
    echo "ssid = \"e2e-open\""
    echo "channel = $CHANNEL"
    [ -n "$STANDARD" ] && echo "standard = \"$STANDARD\""
    echo "position = [0.0, 0.0]"
    echo "[[sim.aps]]"
    echo "ssid = \"e2e-wpa2\""
    echo "channel = $CHANNEL"
    [ -n "$STANDARD" ] && echo "standard = \"$STANDARD\""
    echo "passphrase = \"$PASS\""
    echo "position = [1.0, 0.0]"
    for g in "${GUESTS[@]}"; do
        echo "[[attach]]"
        echo "netns = \"$TAG$g\""
    done
} > "$WORK/host.toml"

"$DAEMON" run --config "$WORK/host.toml" --socket "$WORK/host.sock" \
    </dev/null >/dev/null 2>"$WORK/daemon.log" &
DPID=$!
status() { "$DAEMON" status --json --socket "$WORK/host.sock" 2>/dev/null || true; }
for _ in $(seq 300); do
    n="$(status | { grep -o '"netns:' || true; } | wc -l)"
    [ "$n" -ge "${#GUESTS[@]}" ] && break
    kill -0 "$DPID" 2>/dev/null || { cat "$WORK/daemon.log" >&2; die "the daemon exited"; }
    sleep 0.1
done
[ "$n" -ge "${#GUESTS[@]}" ] || { cat "$WORK/daemon.log" >&2; die "namespaces not attached"; }

join() { # join NS SSID [PASSPHRASE] ADDR
    local ns="$TAG$1" ssid="$2" pass="$3" addr="$4"
    if [ -n "$pass" ]; then
        inns "$ns" "$GUEST" --link wlan0 connect "$ssid" --passphrase "$pass" >/dev/null
    else
        inns "$ns" "$GUEST" --link wlan0 connect "$ssid" >/dev/null
    fi
    inns "$ns" ip addr add "$addr/24" dev wlan0
}
join o1 e2e-open "" 10.99.1.1
join o2 e2e-open "" 10.99.1.2
join w1 e2e-wpa2 "$PASS" 10.99.2.1
join w2 e2e-wpa2 "$PASS" 10.99.2.2
if [ "$PAIRS" = 1 ]; then
    join p1 e2e-open "" 10.99.1.11
    join p2 e2e-open "" 10.99.1.12
    join p3 e2e-open "" 10.99.1.13
    join p4 e2e-open "" 10.99.1.14
fi
ip link add "${TAG}va" netns "${TAG}v1" type veth peer name "${TAG}vb" netns "${TAG}v2"
inns "${TAG}v1" ip addr add 10.99.3.1/24 dev "${TAG}va"
inns "${TAG}v2" ip addr add 10.99.3.2/24 dev "${TAG}vb"
inns "${TAG}v1" ip link set "${TAG}va" up
inns "${TAG}v2" ip link set "${TAG}vb" up
if [ "$PAIRS" = 1 ]; then
    ip link add "${TAG}vc" netns "${TAG}v3" type veth peer name "${TAG}vd" netns "${TAG}v4"
    inns "${TAG}v3" ip addr add 10.99.4.1/24 dev "${TAG}vc"
    inns "${TAG}v4" ip addr add 10.99.4.2/24 dev "${TAG}vd"
    inns "${TAG}v3" ip link set "${TAG}vc" up
    inns "${TAG}v4" ip link set "${TAG}vd" up
fi
for pair in "o1 10.99.1.2" "w1 10.99.2.2" "v1 10.99.3.2"; do
    set -- $pair
    inns "$TAG$1" ping -c 1 -W 5 "$2" >/dev/null || die "no ping from $1 to $2"
done

TCK="$(getconf CLK_TCK)"
cpu_ticks() { # utime + stime of the daemon, in clock ticks
    awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$DPID/stat"
}
thread_ticks() { # "TID ticks NAME" for each of the daemon's threads (the driver is the main thread)
    local f tid
    for f in /proc/"$DPID"/task/*/stat; do
        tid="${f%/stat}"; tid="${tid##*/}"
        awk -v tid="$tid" -v main="$DPID" \
            '{ sub(/^.*\) /, ""); print tid, $12 + $13, (tid == main ? "driver" : "worker") }' "$f" 2>/dev/null || true
    done
}
SERVERS=()
server() { # server NS: an iperf3 server in NS for the whole run
    inns "$TAG$1" iperf3 -s -D -1 >/dev/null 2>&1 || true
}
mbits() { # mbits CLIENT_NS SERVER_IP [PORT]: Mbit/s received over TIME seconds
    inns "$TAG$1" iperf3 -c "$2" -t "$TIME" ${RATE:+-b "${RATE}M"} -f m 2>/dev/null \
        | awk '/receiver/ { for (i = 1; i < NF; i++) if ($(i + 1) == "Mbits/sec") v = $i } END { print v + 0 }'
}
measure() { # measure NAME CLIENT_NS SERVER_NS SERVER_IP -> "mbit cpu_s_per_gbit %cpu busiest_thread_%cpu"
    server "$3"
    sleep 0.3
    local t0 t1 m
    local perf=""
    if [ -n "$PERF" ] && [ "$1" = "$PERF_RUN" ]; then
        perf record -q -g -p "$DPID" -o "$PERF" >/dev/null 2>&1 &
        perf=$!
        sleep 0.2
    fi
    thread_ticks > "$WORK/threads0"
    t0="$(cpu_ticks)"
    m="$(mbits "$2" "$4")"
    t1="$(cpu_ticks)"
    thread_ticks > "$WORK/threads1"
    if [ -n "$perf" ]; then kill -INT "$perf"; wait "$perf" || true; PERF=""; fi
    # The busiest thread's share of one core: near 100 % means that thread is the limit.
    local busiest
    local busiest name
    read -r busiest name < <(awk 'NR == FNR { t0[$1] = $2; next } { d = $2 - t0[$1]; if (d >= m) { m = d; n = $3 } } END { print m + 0, n }' \
        "$WORK/threads0" "$WORK/threads1")
    awk -v m="$m" -v d="$((t1 - t0))" -v b="$busiest" -v n="$name" -v tck="$TCK" -v t="$TIME" \
        'BEGIN { g = m * t / 1000; printf "%.1f %.2f %.0f %.0f%%(%s)\n", m, (g > 0 ? d / tck / g : 0), d / tck / t * 100, b / tck / t * 100, n }'
}

two_at_once() { # two_at_once C1 S1 IP1 C2 S2 IP2 -> "mbit1 mbit2 difference_of_the_mean"
    server "$2"; server "$5"
    sleep 0.3
    mbits "$1" "$3" > "$WORK/pa" &
    local pa=$!
    mbits "$4" "$6" > "$WORK/pb"
    wait "$pa"
    local a b
    a="$(cat "$WORK/pa")"; b="$(cat "$WORK/pb")"
    awk -v a="$a" -v b="$b" 'BEGIN { s = a + b; d = a - b; if (d < 0) d = -d; printf "%s %s %.3f\n", a, b, (s > 0 ? d / s * 2 : 1) }'
}

declare -a R_VSHARE
declare -a R_VETH R_OPEN R_WPA2 R_OCPU R_WCPU R_ROPEN R_RWPA2 R_SHARE R_PSUM R_OPCT R_WPCT R_OTOP R_WTOP
pairs() { # the two open pairs at once, then the two veth pairs: kept in R_*; PAIRS_LINE tells
    local a b share
    read -r a b share < <(two_at_once p1 p2 10.99.1.12 p3 p4 10.99.1.14)
    R_SHARE+=("$share"); R_PSUM+=("$(awk -v a="$a" -v b="$b" 'BEGIN { print a + b }')")
    PAIRS_LINE="two pairs at once: $a + $b Mbit/s (difference ${share} of the mean)"
    read -r a b share < <(two_at_once v1 v2 10.99.3.2 v3 v4 10.99.4.2)
    R_VSHARE+=("$share")
    PAIRS_LINE="$PAIRS_LINE | two veth pairs at once: $a + $b Mbit/s (difference ${share})"
}
busy_bursts() { # two busy loops for 50 ms, 50 ms idle, until killed
    trap 'kill $(jobs -p) 2>/dev/null; exit 0' TERM
    while :; do
        timeout 0.05 sh -c 'while :; do :; done' &
        timeout 0.05 sh -c 'while :; do :; done' &
        wait
        sleep 0.05
    done
}
if [ "$BUSY" = 1 ]; then
    busy_bursts &
    LOAD=$!
fi
for round in $(seq "$REPEAT"); do
    if [ "$PAIRS_ONLY" = 1 ]; then
        pairs
        echo "round $round: $PAIRS_LINE"
        continue
    fi
    read -r veth _ < <(measure veth v1 v2 10.99.3.2)
    read -r open ocpu opct otop < <(measure open o1 o2 10.99.1.2)
    read -r wpa2 wcpu wpct wtop < <(measure wpa2 w1 w2 10.99.2.2)
    R_OPCT+=("$opct"); R_WPCT+=("$wpct"); R_OTOP+=("$otop"); R_WTOP+=("$wtop")
    ropen="$(awk -v a="$open" -v b="$veth" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }')"
    rwpa2="$(awk -v a="$wpa2" -v b="$veth" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }')"
    R_VETH+=("$veth"); R_OPEN+=("$open"); R_WPA2+=("$wpa2"); R_OCPU+=("$ocpu"); R_WCPU+=("$wcpu")
    R_ROPEN+=("$ropen"); R_RWPA2+=("$rwpa2")
    line="round $round: veth $veth Mbit/s | open $open Mbit/s (${ropen}x veth, daemon $ocpu CPU-s/Gbit, ${opct} %CPU, busiest thread ${otop})"
    line="$line | WPA2 $wpa2 Mbit/s (${rwpa2}x veth, daemon $wcpu CPU-s/Gbit, ${wpct} %CPU, busiest thread ${wtop})"
    if [ "$PAIRS" = 1 ]; then
        pairs
        line="$line | $PAIRS_LINE"
    fi
    echo "$line"
done
if [ -n "$LOAD" ]; then
    kill "$LOAD" 2>/dev/null && wait "$LOAD" 2>/dev/null || true
    LOAD=""
fi

status > "$WORK/status.json"
if [ -n "${E2E_STATUS:-}" ]; then cp "$WORK/status.json" "$E2E_STATUS"; fi
drops() { # drops COUNTER: its sum over the guests in the daemon's status
    tr -d ' \n' < "$WORK/status.json" | { grep -o "\"$1\",[0-9]*" || true; } \
        | awk -F, '{ n += $2 } END { print n + 0 }'
}
range() { printf '%s\n' "$@" | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%s to %s", lo, hi }'; }
echo "---"
echo "$REPEAT rounds of $TIME s iperf3 TCP, air: $AIR, channel $CHANNEL, daemon: $DAEMON$([ "$BUSY" = 1 ] && echo ", the machine kept busy in bursts (--busy)")"
if [ "$PAIRS_ONLY" = 0 ]; then
    echo "veth pair:              $(range "${R_VETH[@]}") Mbit/s"
    echo "open, through vwifi:    $(range "${R_OPEN[@]}") Mbit/s; $(range "${R_ROPEN[@]}") x veth; daemon $(range "${R_OCPU[@]}") CPU-s/Gbit, $(range "${R_OPCT[@]}") %CPU (busiest thread $(range "${R_OTOP[@]}"))"
    echo "WPA2, through vwifi:    $(range "${R_WPA2[@]}") Mbit/s; $(range "${R_RWPA2[@]}") x veth; daemon $(range "${R_WCPU[@]}") CPU-s/Gbit, $(range "${R_WPCT[@]}") %CPU (busiest thread $(range "${R_WTOP[@]}"))"
fi
echo "dropped for the guests over the run: link_queue_full $(drops link_queue_full), radio_queue_full $(drops radio_queue_full) (E2E_STATUS=FILE keeps the whole status)"
waits="$(tr -d '\n' < "$WORK/status.json" | { grep -o '"waits for a short-changed guest", *"[^"]*"' || true; } \
    | sed 's/.*", *"//; s/:.*//')"
echo "the driver waited for a short-changed guest (its queue ran dry while another was served more): ${waits:-0} times"
amsdus="$(tr -d ' \n' < "$WORK/status.json" | { grep -o '"amsdu_tx":\[[0-9]*,[0-9]*\]' || true; } \
    | tr -c '0-9\n' ' ' | awk '{ if ($1 > 0) printf "%d A-MSDUs sent, %.2f MSDUs each", $1, $2 / $1; else print "none" }')"
echo "A-MSDUs (the radio's stations and APs, over the run): ${amsdus:-none}"
if [ "$PAIRS" = 1 ]; then
    echo "two open pairs at once: $(range "${R_PSUM[@]}") Mbit/s together; difference between the pairs $(range "${R_SHARE[@]}") of their mean"
    echo "two veth pairs at once (the machine's own split, no vwifi): difference $(range "${R_VSHARE[@]}") of their mean"
fi
