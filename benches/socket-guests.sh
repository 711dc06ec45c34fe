#!/usr/bin/env bash
# Socket guests through the daemon (issue 11 item 4), as root: two network namespaces, each
# with a `vwifi-guest agent` on the daemon's guest socket (its data over the socket, not a
# TAP), joined to an open network on the zero-airtime air; iperf3 TCP from one to the other.
#   benches/socket-guests.sh DAEMON GUEST [SECONDS]
# (DAEMON, GUEST: paths of vwifi-host and vwifi-guest, e.g. target/release/...). Prints
# Mbit/s and the daemon's %CPU. One run per call: repeat it, and alternate builds to compare.
set -u
[ $# -ge 2 ] || { sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
[ "$(id -u)" = 0 ] || { echo "socket-guests.sh: needs root (network namespaces)" >&2; exit 1; }
D=$1; G=$2; T=${3:-5}
W=$(mktemp -d); TAG=vws$$
cat > $W/host.toml <<EOC
[host]
state_dir = "$W/state"
[sim]
seed = 1
[sim.medium]
airtime = false
[[sim.aps]]
ssid = "s-open"
channel = 1
position = [0.0, 0.0]
EOC
$D run --config $W/host.toml --socket $W/host.sock </dev/null >/dev/null 2>$W/d.log & DP=$!
sleep 1
PIDS=()
for n in 1 2; do
  ip netns add $TAG$n; ip -n $TAG$n link set lo up
  ip netns exec $TAG$n $G agent --socket $W/host.sock --control $W/c$n.sock </dev/null >/dev/null 2>&1 & PIDS+=($!)
done
for n in 1 2; do
  for _ in $(seq 50); do ip netns exec $TAG$n $G --socket $W/c$n.sock connect s-open >/dev/null 2>&1 && break; sleep 0.2; done
  ip -n $TAG$n addr add 10.98.0.$n/24 dev vwifi0
done
ip netns exec ${TAG}1 ping -c1 -W5 10.98.0.2 >/dev/null || echo "no ping"
ip netns exec ${TAG}2 iperf3 -s -D -1 >/dev/null 2>&1; sleep 0.3
t0=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' /proc/$DP/stat)
m=$(ip netns exec ${TAG}1 iperf3 -c 10.98.0.2 -t $T -f m 2>/dev/null | awk '/receiver/ { for (i = 1; i < NF; i++) if ($(i + 1) == "Mbits/sec") v = $i } END { print v + 0 }')
t1=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' /proc/$DP/stat)
echo "socket guests: $m Mbit/s, daemon $(( (t1 - t0) * 100 / $(getconf CLK_TCK) / T )) %CPU"
kill ${PIDS[@]} 2>/dev/null; kill $DP; wait $DP 2>/dev/null
for n in 1 2; do ip netns del $TAG$n; done
rm -rf $W
