# vwifi-host's nl80211 radio (the kernel's MLME on a real card, mac80211_hwsim here) joins REAL
# hostapd running WPA3-Personal (wpa_key_mgmt=SAE, ieee80211w=2; with -e SAE_PWE=1
# hash-to-element only): vwifi's SAE through NL80211_CMD_AUTHENTICATE (AUTH_TYPE SAE,
# AUTH_DATA), ASSOCIATE with AKM 8 and USE_MFP, the 4-way handshake on the control port, the
# IGTK installed; a ping; an SA Query answered; a reconnect skips SAE (cached PMKSA). A wrong password is told as "wrong passphrase",
# timed beside a native wpa_supplicant given the same wrong password.
# phy0 (wlan0): hostapd; phy1 (wlan1): vwifi-host [radio] kind = "nl80211"; phy2 (wlan2):
# native wpa_supplicant (timing comparison).
. /usr/lib/vwifi-harness/lib.sh
H=/opt/vwifi-host G=/opt/vwifi-guest
PWE=${SAE_PWE:-0}
fail() {
    log "FAIL: $*"
    echo "----- vwifi-host"; grep -v -e TRACE /tmp/vwifi-host.log | cut -c1-300 | tail -n 80
    echo "----- hostapd"; grep -E 'SAE|EAPOL|WPA:|RSN|assoc|MIC|auth' /tmp/hostapd-wlan0.log | grep -v 'nl80211:' | tail -n 60
    exit 1
}
export RUST_LOG=${RUST_LOG:-info,vwifi_host=debug}
[ -x $H ] && [ -x $G ] || fail "vwifi binaries not copied in (run-vm.sh -f)"
modprobe -a veth sch_ingress cls_u32 act_mirred act_gact || fail "tc modules"
hwsim_load 3 || fail "mac80211_hwsim"
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
hostapd -B -P /run/hostapd-wlan0.pid -f /tmp/hostapd-wlan0.log -dd /tmp/hostapd-wlan0.conf || fail "hostapd"
wait_for 10 "grep -q AP-ENABLED /tmp/hostapd-wlan0.log" || fail "AP-ENABLED"
ip addr add 10.99.0.1/24 dev wlan0
mkdir -p /run/vwifi
printf '[host]\nsocket = "/run/vwifi/host.sock"\n[radio]\nkind = "nl80211"\nifname = "wlan1"\n' > /tmp/host.toml
$H run --config /tmp/host.toml >> /tmp/vwifi-host.log 2>&1 &
wait_for 10 "[ -S /run/vwifi/host.sock.ctl ]" || fail "vwifi-host run"
for g in g1 g2; do
    ip netns add $g && ip netns exec $g ip link set lo up
    $H attach --netns $g || fail "attach $g"
done
for try in 1 2 3 4 5; do
    ip netns exec g1 $G --link wlan0 scan > /tmp/scan.txt 2>&1
    grep -q lab3 /tmp/scan.txt && break
done
cat /tmp/scan.txt
grep lab3 /tmp/scan.txt | grep -q WPA3 || fail "scan does not show lab3 as WPA3"
log "STEP 1 ok: the nl80211 radio's scan shows lab3 as WPA3"

t0=$(now)
echo "correct horse" | ip netns exec g1 $G --link wlan0 connect lab3 --passphrase-stdin --timeout 40 > /tmp/c1.txt 2>&1 \
    || { cat /tmp/c1.txt; fail "g1 did not join lab3 (SAE, sae_pwe=$PWE) through the nl80211 radio"; }
log "TIMING: g1 joined hostapd WPA3-SAE (sae_pwe=$PWE) through the nl80211 radio in $(awk "BEGIN{print $(now) - $t0}")s"
grep -q 'AP-STA-CONNECTED' /tmp/hostapd-wlan0.log || fail "hostapd did not see the station connect"
grep -q 'SAE: commit' /tmp/vwifi-host.log && grep -q 'SAE complete: associating' /tmp/vwifi-host.log \
    || fail "the join did not go through vwifi's SAE"
grep -q 'IGTK installed' /tmp/vwifi-host.log || fail "no IGTK installed"
if [ "$PWE" = 1 ]; then
    grep 'SAE: commit' /tmp/vwifi-host.log | grep -q 'h2e=true' || fail "vwifi did not use H2E"
    grep -q 'RSNXE in EAPOL-Key' /tmp/hostapd-wlan0.log || fail "hostapd saw no RSNXE in message 2"
fi
iw dev vw0 link
ip netns exec g1 ip addr add 10.99.0.2/24 dev wlan0
ip netns exec g1 ip link set wlan0 up
ip netns exec g1 ping -c 3 -i 0.5 -W 5 10.99.0.1 > /dev/null
ip netns exec g1 ping -c 10 -i 0.2 -W 2 10.99.0.1 | tee /tmp/ping.out
grep -q ' 0% packet loss' /tmp/ping.out || fail "ping through hostapd (WPA3) lost packets"
log "STEP 2 ok: SAE join (AKM 8, PMF), IGTK installed, ping"

# PMF: hostapd's SA Query is answered (by the kernel, protected with the station's PTK).
sta_mac=$(ip netns exec g1 cat /sys/class/net/wlan0/address)
hostapd_cli -p /run/hostapd -i wlan0 sa_query "$sta_mac" || fail "hostapd_cli sa_query $sta_mac"
wait_for 5 "grep -qi 'SA Query Response' /tmp/hostapd-wlan0.log" || fail "no SA Query Response"
log "STEP 3 ok: SA Query answered on the protected link"

# A reconnect skips SAE: the PMKSA of the first join (Open System authentication, the PMKID).
ip netns exec g1 $G --link wlan0 disconnect > /dev/null || fail "g1 disconnect"
t0=$(now)
echo "correct horse" | ip netns exec g1 $G --link wlan0 connect lab3 --passphrase-stdin --timeout 40 > /tmp/c1b.txt 2>&1 \
    || { cat /tmp/c1b.txt; fail "g1 did not rejoin lab3"; }
log "TIMING: g1 rejoined with its cached PMKSA in $(awk "BEGIN{print $(now) - $t0}")s"
grep -q 'SAE skipped: PMKSA cached' /tmp/vwifi-host.log || fail "the rejoin ran SAE again"
grep -q 'did not take the cached PMKSA' /tmp/vwifi-host.log && fail "hostapd did not take the cached PMKSA"
ip netns exec g1 ping -c 3 -i 0.2 -W 2 10.99.0.1 > /dev/null || fail "ping after the PMKSA rejoin"
log "STEP 3b ok: a reconnect skipped SAE with the cached PMKSA and pings"

t0=$(now)
echo "battery staple" | ip netns exec g2 $G --link wlan0 connect lab3 --passphrase-stdin --timeout 40 > /tmp/c2.txt 2>&1
rc=$?
log "TIMING: the wrong SAE password refused by vwifi after $(awk "BEGIN{print $(now) - $t0}")s"
cat /tmp/c2.txt
[ $rc = 1 ] && grep -qi 'wrong passphrase' /tmp/c2.txt || fail "a wrong SAE password was not told as a wrong passphrase (rc $rc)"
ip netns exec g1 ping -c 3 -i 0.2 -W 2 10.99.0.1 > /dev/null || fail "g1 lost its link"
iface_to_netns wlan2 nat || fail "netns nat"
cat > /tmp/wpa-wlan2.conf <<EOT
ctrl_interface=/run/wpa_supplicant
sae_pwe=$PWE
network={
  ssid="lab3"
  sae_password="battery staple"
  key_mgmt=SAE
  ieee80211w=2
  scan_freq=2412
}
EOT
t0=$(now)
ip netns exec nat wpa_supplicant -B -i wlan2 -D nl80211 -c /tmp/wpa-wlan2.conf -P /run/wpa-wlan2.pid -f /tmp/wpa-wlan2.log \
    || fail "native wpa_supplicant"
if wait_for 40 "grep -qE 'WRONG_KEY|may be incorrect|AUTH-REJECTED|SSID-TEMP-DISABLED' /tmp/wpa-wlan2.log"; then
    grep -E 'WRONG_KEY|may be incorrect|AUTH-REJECTED|SSID-TEMP-DISABLED' /tmp/wpa-wlan2.log | head -n 2
    log "TIMING: native wpa_supplicant reported the wrong SAE password after $(awk "BEGIN{print $(now) - $t0}")s"
else
    log "native wpa_supplicant did not report the wrong SAE password in 40s"
    tail -n 15 /tmp/wpa-wlan2.log
fi
kill "$(cat /run/wpa-wlan2.pid)" 2>/dev/null
log "STEP 4 ok: the wrong password told as such"

# hostapd restarted (its PMKSA cache gone): the cached PMKSA is refused and the join falls
# back to SAE.
kill "$(cat /run/hostapd-wlan0.pid)"
wait_for 15 "ip netns exec g1 $G --link wlan0 status 2>/dev/null | grep -q 'state: *disconnected'" || true
hostapd -B -P /run/hostapd-wlan0.pid -f /tmp/hostapd-wlan0-2.log -dd /tmp/hostapd-wlan0.conf || fail "hostapd again"
wait_for 10 "grep -q AP-ENABLED /tmp/hostapd-wlan0-2.log" || fail "AP-ENABLED again"
ip addr replace 10.99.0.1/24 dev wlan0
t0=$(now)
echo "correct horse" | ip netns exec g1 $G --link wlan0 connect lab3 --passphrase-stdin --timeout 40 > /tmp/c1c.txt 2>&1 \
    || { cat /tmp/c1c.txt; fail "g1 did not rejoin the restarted AP"; }
log "TIMING: g1 rejoined the restarted AP (cached PMKSA refused, then SAE) in $(awk "BEGIN{print $(now) - $t0}")s"
grep -q 'did not take the cached PMKSA' /tmp/vwifi-host.log || fail "no fallback from the cached PMKSA to SAE"
ip netns exec g1 ping -c 3 -i 0.2 -W 2 10.99.0.1 > /dev/null || fail "ping after the fallback to SAE"
log "STEP 5 ok: a PMKSA the AP forgot falls back to SAE"
kill "$(pidof vwifi-host)" 2>/dev/null
sleep 0.5
stop_all
log "nl80211-sae: OK (sae_pwe=$PWE)"
