# REAL wpa_supplicant joins a vwifi software AP through the hwsim radio: vwifi-host registers
# as the medium of the kernel's mac80211_hwsim radios and runs a simulated WPA2 AP
# (vwifi-lab, channel 6); wpa_supplicant on wlan0 (a kernel hwsim radio, network namespace
# sta) scans, finds it and completes the 4-way handshake with vwifi's authenticator; a vwifi
# guest (network namespace g1, attached with `vwifi-host attach --netns`) joins the same AP,
# and wpa_supplicant's station pings the guest across the AP.
# Needs /opt/vwifi-host and /opt/vwifi-guest (run-vm.sh -f target/debug/vwifi-host -f ...).
. /usr/lib/vwifi-harness/lib.sh

dump() {
    /opt/vwifi-host status 2>&1 | tail -n 6
    kill "$(pidof vwifi-host)" 2>/dev/null; sleep 1
    grep -v -e TRACE -e transport /tmp/vwifi-host.log | cut -c12-300 | tail -n 40
}

[ -x /opt/vwifi-host ] && [ -x /opt/vwifi-guest ] || fail "vwifi binaries not copied in (run-vm.sh -f)"
hwsim_load 1 || fail "mac80211_hwsim"
modprobe tun || fail "tun"
mkdir -p /run/vwifi
cat > /tmp/host.toml <<EOT
[sim]
seed = 1
[[sim.aps]]
ssid = "vwifi-lab"
channel = 6
bssid = "02:76:77:00:00:02"
passphrase = "correct horse battery staple"
position = [0.0, 0.0]
[hwsim]
EOT
RUST_LOG=${VWIFI_LOG:-info,vwifi_host::hwsim=debug} /opt/vwifi-host run --config /tmp/host.toml > /tmp/vwifi-host.log 2>&1 &
wait_for 10 "grep -q 'registered as the medium' /tmp/vwifi-host.log" || fail "vwifi-host did not register"

t0=$(now)
iface_to_netns wlan0 sta || fail "netns sta"
sta_start wlan0 vwifi-lab "correct horse battery staple" sta || fail "wpa_supplicant"
ip netns add g1
/opt/vwifi-host attach --netns g1 || fail "attach --netns g1"
ip netns exec g1 ip link set lo up
echo "correct horse battery staple" | ip netns exec g1 /opt/vwifi-guest --link wlan0 connect vwifi-lab --passphrase-stdin --timeout 40 \
    || { dump; fail "the vwifi guest could not join its own AP"; }
sta_wait_connected wlan0 40 sta || { dump; fail "wpa_supplicant did not join the vwifi AP"; }
log "TIMING: wpa_supplicant joined the vwifi AP (WPA2) $(awk "BEGIN{print $(now) - $t0}") s after it started"
ip netns exec sta wpa_cli -p /run/wpa_supplicant -i wlan0 status | grep -E '^(bssid|freq|ssid|wpa_state|key_mgmt|pairwise_cipher)='
ip netns exec sta iw dev wlan0 link | grep -E 'Connected|signal|freq'
ip netns exec sta ip addr add 10.77.0.3/24 dev wlan0
ip netns exec g1 ip addr add 10.77.0.2/24 dev wlan0
ip netns exec sta ping -c 3 -i 0.5 -W 5 10.77.0.2 > /dev/null
ip netns exec sta ping -c 20 -i 0.2 -W 2 10.77.0.2 | tee /tmp/ping.out
grep -q ' 0% packet loss' /tmp/ping.out || { dump; fail "ping from wpa_supplicant's station to the vwifi guest lost packets"; }
/opt/vwifi-host status
kill "$(pidof vwifi-host)" 2>/dev/null
sleep 0.5
stop_all
log "hwsim-wpas-softap: OK"
