# vwifi's station joins REAL hostapd running WPA3-Personal (wpa_key_mgmt=SAE, ieee80211w=2)
# through the hwsim radio: SAE with vwifi's own implementation (hunting-and-pecking, or with
# -e SAE_PWE=1 hash-to-element only), then the 4-way handshake with AKM 8 (AES-CMAC MIC,
# SHA-256 KDF) and the IGTK, a ping to the AP's address, and an SA Query from hostapd
# answered (protected management frames).
# A second guest with a wrong password is refused as such ("wrong passphrase").
# Needs /opt/vwifi-host and /opt/vwifi-guest (run-vm.sh -f target/debug/vwifi-host -f ...).
. /usr/lib/vwifi-harness/lib.sh

dump() {
    ip netns exec g1 /opt/vwifi-guest --link wlan0 status 2>&1 | grep -E 'state|rx|tx'
    kill "$(pidof vwifi-host)" 2>/dev/null; sleep 1
    grep -v -e TRACE -e transport /tmp/vwifi-host.log | cut -c12-300 | tail -n 40
    echo "----- hostapd (SAE, association, EAPOL)"
    grep -E 'SAE|EAPOL|WPA:|RSN|assoc|MIC|IE|Key' /tmp/hostapd-wlan0.log | grep -v -e 'nl80211:' | tail -n "${VWIFI_DUMP:-80}"
}

PWE=${SAE_PWE:-0}
[ -x /opt/vwifi-host ] && [ -x /opt/vwifi-guest ] || fail "vwifi binaries not copied in (run-vm.sh -f)"
hwsim_load 1 || fail "mac80211_hwsim"
modprobe tun || fail "tun"
mkdir -p /run/vwifi
printf '[sim]\nseed = 1\n[hwsim]\n' > /tmp/host.toml
RUST_LOG=${VWIFI_LOG:-info,vwifi_core=debug,vwifi_host::hwsim=debug} /opt/vwifi-host run --config /tmp/host.toml > /tmp/vwifi-host.log 2>&1 &
wait_for 10 "grep -q 'registered as the medium' /tmp/vwifi-host.log" || fail "vwifi-host did not register"

cat > /tmp/hostapd-wlan0.conf <<EOT
interface=wlan0
driver=nl80211
ctrl_interface=/run/hostapd
ssid=lab3
hw_mode=g
channel=1
wpa=2
wpa_key_mgmt=SAE
rsn_pairwise=CCMP
ieee80211w=2
sae_pwe=$PWE
sae_password=correct horse
EOT
t0=$(now)
hostapd -B -P /run/hostapd-wlan0.pid -f /tmp/hostapd-wlan0.log -dd /tmp/hostapd-wlan0.conf || fail "hostapd"
wait_for 10 "grep -q AP-ENABLED /tmp/hostapd-wlan0.log" || fail "hostapd: no AP-ENABLED"
ip addr add 10.99.0.1/24 dev wlan0
ip netns add g1
/opt/vwifi-host attach --netns g1 || fail "attach --netns g1"
ip netns exec g1 ip link set lo up
for i in 1 2 3 4 5; do
    ip netns exec g1 /opt/vwifi-guest --link wlan0 scan > /tmp/scan.txt 2>&1
    grep -q lab3 /tmp/scan.txt && break
done
cat /tmp/scan.txt
grep lab3 /tmp/scan.txt | grep -q WPA3 || fail "scan does not show lab3 as WPA3"
echo "correct horse" | ip netns exec g1 /opt/vwifi-guest --link wlan0 connect lab3 --passphrase-stdin --timeout 40 \
    || { dump; fail "vwifi station could not join hostapd (SAE, sae_pwe=$PWE)"; }
log "TIMING: vwifi station joined hostapd (WPA3-SAE, sae_pwe=$PWE) $(awk "BEGIN{print $(now) - $t0}") s after hostapd start"
grep -E 'SAE|AP-STA-CONNECTED|EAPOL-4WAY-HS-COMPLETED' /tmp/hostapd-wlan0.log | grep -v -e 'SAE: ' | tail -n 8
grep -q 'AP-STA-CONNECTED' /tmp/hostapd-wlan0.log || fail "hostapd did not see the station connect"
grep -E 'SAE: .*(H2E|hash-to-element|Hunting)' /tmp/hostapd-wlan0.log | head -n 3
ip netns exec g1 ip addr add 10.99.0.2/24 dev wlan0
ip netns exec g1 ping -c 3 -i 0.5 -W 5 10.99.0.1 > /dev/null
ip netns exec g1 ping -c 20 -i 0.2 -W 2 10.99.0.1 | tee /tmp/ping.out
grep -q ' 0% packet loss' /tmp/ping.out || { dump; fail "ping through hostapd (WPA3) lost packets"; }

# PMF: hostapd's SA Query (a protected Action frame) is answered by the vwifi station (the
# kernel passes hostapd only a response that is CCMP-protected; hostapd then logs that no
# SA Query of its own state machine was pending, since the ctrl command sends one outside it).
sta_mac=$(grep -o 'AP-STA-CONNECTED [0-9a-f:]*' /tmp/hostapd-wlan0.log | head -n 1 | cut -d' ' -f2)
hostapd_cli -p /run/hostapd -i wlan0 sa_query "$sta_mac" || fail "hostapd_cli sa_query $sta_mac"
wait_for 5 "grep -qi 'SA Query Response' /tmp/hostapd-wlan0.log" || { dump; fail "no SA Query Response from the vwifi station"; }
grep -i 'SA Query' /tmp/hostapd-wlan0.log | tail -n 2

# A wrong password: refused, and told as such.
ip netns add g2
/opt/vwifi-host attach --netns g2 || fail "attach --netns g2"
echo "battery staple" | ip netns exec g2 /opt/vwifi-guest --link wlan0 connect lab3 --passphrase-stdin --timeout 40 > /tmp/wrong.txt 2>&1
cat /tmp/wrong.txt
grep -qi 'wrong passphrase' /tmp/wrong.txt || { dump; fail "a wrong SAE password was not told as a wrong passphrase"; }
ip netns exec g1 ping -c 3 -i 0.2 -W 2 10.99.0.1 > /dev/null || fail "the first guest lost its link"
kill "$(pidof vwifi-host)" 2>/dev/null
sleep 0.5
stop_all
log "hwsim-sta-hostapd-sae: OK (sae_pwe=$PWE)"
