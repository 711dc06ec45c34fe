# vwifi's station joins REAL hostapd through the hwsim radio: vwifi-host registers as the
# medium of the kernel's mac80211_hwsim radios (HWSIM_CMD_REGISTER), hostapd runs WPA2 on
# wlan0 (a kernel hwsim radio), and a vwifi guest (network namespace g1, attached with
# `vwifi-host attach --netns`, controlled in-band with `vwifi-guest --link wlan0`) connects
# through vwifi's own radio on the simulated air and pings the AP's address.
# Needs /opt/vwifi-host and /opt/vwifi-guest (run-vm.sh -f target/debug/vwifi-host -f ...).
. /usr/lib/vwifi-harness/lib.sh

# dump: the daemon's view, then its log (frames to and from the kernel with VWIFI_LOG=...trace).
dump() {
    ip netns exec g1 /opt/vwifi-guest --link wlan0 status 2>&1 | grep -E 'state|rx|tx'
    /opt/vwifi-host status 2>&1 | tail -n 5
    kill "$(pidof vwifi-host)" 2>/dev/null; sleep 1
    grep -v -e TRACE -e transport /tmp/vwifi-host.log | cut -c12-300 | tail -n 40
    grep -v -e "fc=Some(.128" -e "flags=6 cookie" -e transport /tmp/vwifi-host.log | grep -e TRACE | cut -c12-260 | tail -n "${VWIFI_DUMP:-60}"
}

[ -x /opt/vwifi-host ] && [ -x /opt/vwifi-guest ] || fail "vwifi binaries not copied in (run-vm.sh -f)"
hwsim_load 1 || fail "mac80211_hwsim"
modprobe tun || fail "tun"
mkdir -p /run/vwifi
printf '[sim]\nseed = 1\n[hwsim]\n' > /tmp/host.toml
RUST_LOG=${VWIFI_LOG:-info,vwifi_host::hwsim=debug} /opt/vwifi-host run --config /tmp/host.toml > /tmp/vwifi-host.log 2>&1 &
wait_for 10 "grep -q 'registered as the medium' /tmp/vwifi-host.log" || fail "vwifi-host did not register"

t0=$(now)
ap_start wlan0 lab "correct horse" 1 || fail "hostapd"
ip addr add 10.99.0.1/24 dev wlan0
ip netns add g1
/opt/vwifi-host attach --netns g1 || fail "attach --netns g1"
ip netns exec g1 ip link set lo up
echo "correct horse" | ip netns exec g1 /opt/vwifi-guest --link wlan0 connect lab --passphrase-stdin --timeout 40 \
    || { dump; fail "vwifi station could not join hostapd"; }
log "TIMING: vwifi station joined hostapd (WPA2) $(awk "BEGIN{print $(now) - $t0}") s after hostapd start"
ip netns exec g1 /opt/vwifi-guest --link wlan0 status
grep -E 'AP-STA-CONNECTED|EAPOL-4WAY-HS-COMPLETED' /tmp/hostapd-wlan0.log || fail "hostapd did not see the station complete the 4-way handshake"
ip netns exec g1 ip addr add 10.99.0.2/24 dev wlan0
# Warm-up: both sides resolve each other's address (ARP) first; the first frames may also
# cross hostapd installing the pairwise key.
ip netns exec g1 ping -c 3 -i 0.5 -W 5 10.99.0.1 > /dev/null
ip netns exec g1 ping -c 20 -i 0.2 -W 2 10.99.0.1 | tee /tmp/ping.out
grep -q ' 0% packet loss' /tmp/ping.out || { dump; fail "ping through hostapd lost packets"; }
/opt/vwifi-host status
[ -n "${VWIFI_DUMP:-}" ] && dump
kill %1 2>/dev/null; kill "$(pidof vwifi-host)" 2>/dev/null
sleep 0.5
grep -E 'hwsim' /tmp/vwifi-host.log | tail -5
stop_all
log "hwsim-sta-hostapd: OK"
