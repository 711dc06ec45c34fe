# REAL wpa_supplicant joins a vwifi WPA3 software AP through the hwsim radio: vwifi-host
# registers as the medium of the kernel's mac80211_hwsim radios and runs a simulated WPA3 AP
# ([[sim.aps]] security = "wpa3", channel 6); wpa_supplicant on wlan0 (key_mgmt=SAE,
# ieee80211w=2, sae_pwe=2: hash-to-element since the AP's RSNXE offers it) runs SAE against
# vwifi's responder and the 4-way handshake (AKM 8) with vwifi's authenticator; a vwifi guest
# joins the same AP, and wpa_supplicant's station pings the guest across the AP.
# With -e TRANSITION=1 the AP is "wpa2-wpa3" and wpa_supplicant joins it as WPA2-PSK while the
# vwifi guest joins it with SAE: a transition-mode AP takes a WPA2 and a WPA3 station at once.
# Needs /opt/vwifi-host and /opt/vwifi-guest (run-vm.sh -f target/debug/vwifi-host -f ...).
. /usr/lib/vwifi-harness/lib.sh

dump() {
    /opt/vwifi-host status 2>&1 | tail -n 6
    kill "$(pidof vwifi-host)" 2>/dev/null; sleep 1
    grep -v -e TRACE -e transport /tmp/vwifi-host.log | cut -c12-300 | tail -n 40
    tail -n 40 /tmp/wpa-wlan0.log
}

[ -x /opt/vwifi-host ] && [ -x /opt/vwifi-guest ] || fail "vwifi binaries not copied in (run-vm.sh -f)"
if [ -n "${TRANSITION:-}" ]; then
    SECURITY=wpa2-wpa3 KEY_MGMT="key_mgmt=WPA-PSK" SECRET='psk="correct horse battery staple"' PMF=0 WANT=WPA2-PSK
else
    SECURITY=wpa3 KEY_MGMT="key_mgmt=SAE" SECRET='sae_password="correct horse battery staple"' PMF=2 WANT=SAE
fi
hwsim_load 1 || fail "mac80211_hwsim"
modprobe tun || fail "tun"
mkdir -p /run/vwifi
cat > /tmp/host.toml <<EOT
[sim]
seed = 1
[[sim.aps]]
ssid = "vwifi-wpa3"
channel = 6
bssid = "02:76:77:00:00:03"
passphrase = "correct horse battery staple"
security = "$SECURITY"
position = [0.0, 0.0]
[hwsim]
EOT
RUST_LOG=${VWIFI_LOG:-info,vwifi_core::sim=debug,vwifi_host::hwsim=debug} /opt/vwifi-host run --config /tmp/host.toml > /tmp/vwifi-host.log 2>&1 &
wait_for 10 "grep -q 'registered as the medium' /tmp/vwifi-host.log" || fail "vwifi-host did not register"

t0=$(now)
iface_to_netns wlan0 sta || fail "netns sta"
cat > /tmp/wpa-wlan0.conf <<EOT
ctrl_interface=/run/wpa_supplicant
sae_pwe=2
network={
  ssid="vwifi-wpa3"
  $KEY_MGMT
  $SECRET
  ieee80211w=$PMF
  proto=RSN
  pairwise=CCMP
  scan_freq=2437
}
EOT
ip netns exec sta wpa_supplicant -B -i wlan0 -D nl80211 -c /tmp/wpa-wlan0.conf -P /run/wpa-wlan0.pid -f /tmp/wpa-wlan0.log -dd || fail "wpa_supplicant"
ip netns add g1
/opt/vwifi-host attach --netns g1 || fail "attach --netns g1"
ip netns exec g1 ip link set lo up
echo "correct horse battery staple" | ip netns exec g1 /opt/vwifi-guest --link wlan0 connect vwifi-wpa3 --passphrase-stdin --timeout 40 \
    || { dump; fail "the vwifi guest could not join its own WPA3 AP"; }
sta_wait_connected wlan0 40 sta || { dump; fail "wpa_supplicant did not join the vwifi WPA3 AP"; }
log "TIMING: wpa_supplicant joined the vwifi AP ($SECURITY, as $WANT) $(awk "BEGIN{print $(now) - $t0}") s after it started"
ip netns exec sta wpa_cli -p /run/wpa_supplicant -i wlan0 status | grep -E '^(bssid|freq|ssid|wpa_state|key_mgmt|pairwise_cipher|pmf|sae_group)=' | tee /tmp/wpas-status.txt
grep -q "key_mgmt=$WANT" /tmp/wpas-status.txt || fail "wpa_supplicant did not use $WANT"
if [ -z "${TRANSITION:-}" ]; then
    # Hash-to-element: vwifi's AP answers wpa_supplicant's commit with status 126.
    grep -iE 'h2e|status_code=126|hash.to.element' /tmp/wpa-wlan0.log | head -n 3
    grep -qiE 'H2E|status_code=126' /tmp/wpa-wlan0.log || fail "wpa_supplicant did not use hash-to-element"
fi
# The vwifi guest authenticated with SAE at vwifi's AP (the AP logs each completed exchange).
grep -q 'SAE complete: station authenticated' /tmp/vwifi-host.log || fail "the vwifi guest did not use SAE"
log "the vwifi guest joined with SAE"
ip netns exec sta ip addr add 10.77.0.3/24 dev wlan0
ip netns exec g1 ip addr add 10.77.0.2/24 dev wlan0
ip netns exec sta ping -c 3 -i 0.5 -W 5 10.77.0.2 > /dev/null
ip netns exec sta ping -c 20 -i 0.2 -W 2 10.77.0.2 | tee /tmp/ping.out
grep -q ' 0% packet loss' /tmp/ping.out || { dump; fail "ping from wpa_supplicant's WPA3 station to the vwifi guest lost packets"; }
# vwifi-host stops: its AP sends a broadcast deauthentication (with PMF, BIP-protected under the
# IGTK wpa_supplicant installed; mac80211 drops an unprotected one), and a unicast one to a
# station without PMF (which drops a broadcast carrying a BIP MME); wpa_supplicant takes it at
# once (reason 3, from the AP), rather than noticing the AP gone seconds later.
kill "$(pidof vwifi-host)" 2>/dev/null
wait_for 5 "grep -q 'CTRL-EVENT-DISCONNECTED.*reason=3' /tmp/wpa-wlan0.log" \
    || { tail -n 20 /tmp/wpa-wlan0.log; fail "wpa_supplicant did not take the stopping AP's broadcast deauthentication"; }
grep 'CTRL-EVENT-DISCONNECTED' /tmp/wpa-wlan0.log | head -n 1
grep 'CTRL-EVENT-DISCONNECTED' /tmp/wpa-wlan0.log | head -n 1 | grep -q 'locally_generated=1' \
    && fail "the disconnection was wpa_supplicant's own, not the AP's deauthentication"
if [ "$PMF" = 0 ]; then
    log "the stopping AP's deauthentication (no PMF: a unicast one) taken by wpa_supplicant"
else
    log "the stopping AP's broadcast deauthentication (PMF: BIP-protected) taken by wpa_supplicant"
fi
sleep 0.5
stop_all
log "hwsim-wpas-softap-sae: OK ($SECURITY)"
