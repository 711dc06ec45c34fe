# A VM's station on vwifi-host's nl80211 radio moves data (issue 12 item 2), without nested
# virtualisation: vhost-user-tap (vwifi-transport-virtio's vhost-user frontend, the VMM's
# side of the protocol as QEMU speaks it) plays the VM on the socket of `vwifi-host
# vhost-user` and bridges its virtio-net NIC to a TAP eth0 in network namespace vm.
# phy0 (wlan0): hostapd, WPA2 network lab-a on channel 1, AP side 10.99.1.1 (iperf3 server
# if /opt/iperf3 was copied in).
# phy1 (wlan1): vwifi-host run with [radio] kind = "nl80211", ifname = "wlan1".
# Needs -f vwifi-host:/opt/vwifi-host -f vwifi-guest:/opt/vwifi-guest
# -f vhost-user-tap:/opt/vhost-user-tap (and optionally -f /usr/bin/iperf3:/opt/iperf3).
# Steps (each logged as "STEP n ok"):
#  1 the VM's port: its station gets an interface on phy1 with its MAC; the frontend's TAP
#    carries the same MAC
#  2 join: vwifi-guest --link eth0 (in-band control through the vhost-user rings) joins lab-a;
#    hostapd sees the station's MAC associate
#  3 data: ping the AP side; iperf3 upload and download printed ("IPERF:") if available
#  4 the frontend stops: the session ends and the station interface goes
. /usr/lib/vwifi-harness/lib.sh
fail() {
    log "FAIL: $*"
    for f in /tmp/hostapd-wlan0.log /tmp/vwifi-host.log /tmp/vhost-user-tap.log; do
        echo "----- $f"
        grep -v ' TRACE ' "$f" | tail -n 100
    done
    exit 1
}
H=/opt/vwifi-host G=/opt/vwifi-guest F=/opt/vhost-user-tap I=/opt/iperf3
export RUST_LOG=${RUST_LOG:-info}
[ -x $F ] || fail "no $F (run-vm.sh -f target/debug/vhost-user-tap:/opt/vhost-user-tap)"

hwsim_load 2 || fail "mac80211_hwsim"
ap_start wlan0 lab-a passphrase-of-a 1 || fail "hostapd"
ip addr add 10.99.1.1/24 dev wlan0
if [ -x $I ]; then
    $I -s -D -B 10.99.1.1 --logfile /tmp/iperf3-server.log || fail "iperf3 server"
fi

cat > /tmp/host.toml <<'EOF'
[host]
socket = "/run/vwifi/host.sock"
[radio]
kind = "nl80211"
ifname = "wlan1"
EOF
$H run --config /tmp/host.toml >> /tmp/vwifi-host.log 2>&1 &
hp=$!
wait_for 10 "[ -S /run/vwifi/host.sock.ctl ]" || fail "vwifi-host run"

# 1: the VM's port and its NIC
t0=$(now)
$H vhost-user --socket /run/vm1.sock --name vm1 > /tmp/vu.txt 2>&1 || { cat /tmp/vu.txt; fail "vhost-user on the nl80211 radio"; }
cat /tmp/vu.txt
vmac=$(sed -n 's/.*station \([0-9a-f:]*\) .*/\1/p' /tmp/vu.txt)
[ -n "$vmac" ] || fail "vhost-user printed no station address"
wait_for 10 "iw dev | grep -q 'addr $vmac'" || { iw dev; fail "no station interface for the VM's station $vmac"; }
ip netns add vm && ip netns exec vm ip link set lo up
$F --socket /run/vm1.sock --mac "$vmac" --tap eth0 --netns vm > /tmp/vhost-user-tap.log 2>&1 &
fp=$!
wait_for 10 "ip netns exec vm /usr/sbin/ip link show eth0 > /dev/null 2>&1" || fail "the frontend's TAP eth0"
wait_for 10 "grep -q 'vhost-user-tap: eth0' /tmp/vhost-user-tap.log" || fail "the frontend did not connect"
cat /tmp/vhost-user-tap.log
[ "$(ip netns exec vm cat /sys/class/net/eth0/address)" = "$vmac" ] || fail "eth0 does not carry the station's MAC"
log "STEP 1 ok: the VM's station $vmac has its interface on phy1; the frontend's NIC carries its MAC"
# The station's data path in the daemon: the batched packet ring, or the fallback and why.
log "RING: $(grep -m1 -E 'packet ring open|falling back to a packet socket' /tmp/vwifi-host.log)"

# 2: join over in-band control
t1=$(now)
echo passphrase-of-a | ip netns exec vm $G --link eth0 connect lab-a --passphrase-stdin > /tmp/c.txt 2>&1 \
    || { cat /tmp/c.txt; fail "the VM's station did not join lab-a"; }
cat /tmp/c.txt
log "TIMING: the VM's station joined lab-a through the nl80211 radio in $(awk "BEGIN{print $(now) - $t1}")s"
wait_for 5 "grep -q 'AP-STA-CONNECTED $vmac' /tmp/hostapd-wlan0.log" || fail "hostapd did not see $vmac connect"
log "STEP 2 ok: joined lab-a (WPA2) over in-band control through the vhost-user rings"

# 3: data
ip netns exec vm ip addr add 10.99.1.2/24 dev eth0
ip netns exec vm ping -c 5 -i 0.2 -W 2 10.99.1.1 > /tmp/ping.txt 2>&1 || { cat /tmp/ping.txt; fail "ping the AP side"; }
cat /tmp/ping.txt
log "RTT: $(grep round-trip /tmp/ping.txt)"
if [ -x $I ]; then
    # iperf3 DIRECTION: Mbit/s at the receiver, 3 s of TCP from the VM's station (-R: to it).
    iperf() {
        ip netns exec vm $I -c 10.99.1.1 $1 -t 3 -f m > /tmp/iperf.txt 2>&1 || { cat /tmp/iperf.txt >&2; return 1; }
        awk '/receiver/ { for (i = 1; i <= NF; i++) if ($(i+1) == "Mbits/sec") print $i }' /tmp/iperf.txt
    }
    up=$(iperf "") down=$(iperf -R)
    [ -n "$up" ] && [ -n "$down" ] || fail "iperf3 through the VM's station"
    log "IPERF: the VM's station (vhost-user, debug binaries, TCG) upload $up Mbit/s, download $down Mbit/s"
else
    log "no /opt/iperf3: throughput not measured"
fi
log "STEP 3 ok: data through the VM's rings, the daemon and the nl80211 radio"

# 4: the VM goes
kill $fp
wait_for 10 "grep -q 'vhost-user session ended' /tmp/vwifi-host.log" || fail "the session did not end"
wait_for 10 "! iw dev | grep -q 'addr $vmac'" || { iw dev; fail "the VM's station interface stayed"; }
log "STEP 4 ok: the frontend gone, the session ended and the station interface with it"
log "TIMING: nl80211-vm steps took $(awk "BEGIN{print $(now) - $t0}")s"
kill $hp
stop_all
log "nl80211-vm: OK"
