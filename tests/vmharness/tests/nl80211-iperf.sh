# Throughput of a guest through vwifi-host's nl80211 radio beside a native
# wpa_supplicant station, same kind of radio, same AP, same VM, one after the other.
# phy0 (wlan0): hostapd, WPA2 network lab-a on channel 1, iperf3 server on 10.99.1.1.
# phy1 (wlan1): vwifi-host's nl80211 radio; guest = network namespace g1 (TAP wlan0).
# phy2 (wlan2): native wpa_supplicant in network namespace nat.
# Needs -f /usr/bin/iperf3:/opt/iperf3 (with its libraries) and release binaries.
# Prints "IPERF: native N Mbit/s, vwifi N Mbit/s, ratio R".
. /usr/lib/vwifi-harness/lib.sh
H=/opt/vwifi-host G=/opt/vwifi-guest I=/opt/iperf3
SECS=${SECS:-5}
[ -x $I ] || fail "no $I (run-vm.sh -f /usr/bin/iperf3:/opt/iperf3)"

# The kernel data path (veth + clsact filters) of namespace guests.
modprobe -a veth sch_ingress cls_u32 act_mirred act_gact || fail "tc modules"
hwsim_load 3 || fail "mac80211_hwsim"
ap_start wlan0 lab-a passphrase-of-a 1 || fail "hostapd"
ip addr add 10.99.1.1/24 dev wlan0
$I -s -D -B 10.99.1.1 --logfile /tmp/iperf3-server.log || fail "iperf3 server"

# The native station.
iface_to_netns wlan2 nat || fail "netns nat"
sta_start wlan2 lab-a passphrase-of-a nat || fail "wpa_supplicant"
sta_wait_connected wlan2 30 nat || fail "native association"
ip netns exec nat ip addr add 10.99.1.3/24 dev wlan2
ip netns exec nat ping -c 2 -W 2 10.99.1.1 > /dev/null || fail "native ping"

# The vwifi guest.
cat > /tmp/host.toml <<'EOF'
[host]
socket = "/run/vwifi/host.sock"
log = "warn"
[radio]
kind = "nl80211"
ifname = "wlan1"
EOF
$H run --config /tmp/host.toml > /tmp/vwifi-host.log 2>&1 &
hp=$!
wait_for 10 "[ -S /run/vwifi/host.sock.ctl ]" || fail "vwifi-host run"
ip netns add g1 && ip netns exec g1 ip link set lo up
$H attach --netns g1 || fail "attach"
echo passphrase-of-a | ip netns exec g1 $G --link wlan0 connect lab-a --passphrase-stdin || fail "guest connect"
ip netns exec g1 ip addr add 10.99.1.2/24 dev wlan0
ip netns exec g1 ip link set wlan0 up
ip netns exec g1 ping -c 2 -W 2 10.99.1.1 > /dev/null || fail "guest ping"

# rate NS: iperf3 TCP upload for SECS seconds from NS; prints Mbit/s (receiver side).
rate() {
    ip netns exec "$1" $I -c 10.99.1.1 -t "$SECS" -f m > "/tmp/iperf-$1.txt" 2>&1 || { cat "/tmp/iperf-$1.txt"; return 1; }
    cat "/tmp/iperf-$1.txt" >&2
    awk '/receiver/ { for (i = 1; i <= NF; i++) if ($(i+1) == "Mbits/sec") print $i }' "/tmp/iperf-$1.txt"
}
for ns in nat g1; do
    log "PING $ns: $(ip netns exec $ns ping -c 10 -i 0.2 -W 2 10.99.1.1 | tail -n 1)"
done
# Alternate, so that the emulator's ups and downs hit both paths alike.
n1=$(rate nat) || fail "iperf3 native"
v1=$(rate g1) || fail "iperf3 through vwifi"
n2=$(rate nat) || fail "iperf3 native (again)"
( sleep 3; top -b -n 1 | head -n 14 > /tmp/top-vwifi.txt ) &
tp=$!
v2=$(rate g1) || fail "iperf3 through vwifi (again)"
wait $tp
log "CPU during the second vwifi run:"; cat /tmp/top-vwifi.txt
[ -n "$n1" ] && [ -n "$v1" ] && [ -n "$n2" ] && [ -n "$v2" ] || fail "no iperf3 figures"
log "IPERF: native $n1 / $n2 Mbit/s, vwifi $v1 / $v2 Mbit/s, ratio $(awk "BEGIN{printf \"%.2f\", ($v1 + $v2) / ($n1 + $n2)}")"
$H status
kill $hp 2>/dev/null
stop_all
log "nl80211-iperf: OK"
