# Record a real WPA2-PSK association between real hostapd and real
# wpa_supplicant: /opt/hwsim-capture (tools/hwsim-capture.c, copied in with
# `run-vm.sh -f`) reads mac80211_hwsim's monitor interface hwsim0, which
# shows every frame any simulated radio transmits (radiotap header, no FCS),
# and writes a pcap. After the 4-way handshake and a short ping (CCMP data
# frames), the pcap is printed base64-encoded between the console markers
#   VWIFI-PCAP-BEGIN sha256=<hex> bytes=<n>
#   VWIFI-PCAP: <base64 line>            (repeated)
#   VWIFI-PCAP-END
# and wpa_supplicant's own key hexdumps (-dd -K: PMK, PTK, KCK, KEK, TK,
# GTK) as "VWIFI-KEY: <line>". tests/vmharness/record-handshake.sh (host)
# turns that into vwifi-core/tests/fixtures/.
# Env: SSID, PASS (defaults: the fixture's).
. /usr/lib/vwifi-harness/lib.sh

SSID=${SSID:-vwifi-fixture}
PASS=${PASS:-correct horse battery staple}

[ -x /opt/hwsim-capture ] || fail "/opt/hwsim-capture not copied in (run-vm.sh -f hwsim-capture)"
hwsim_load 2 || fail "mac80211_hwsim"
ip link set hwsim0 up || fail "hwsim0 monitor interface"
/opt/hwsim-capture hwsim0 60 /tmp/air.pcap > /tmp/capture.log 2>&1 &
cap=$!
wait_for 5 "grep -q 'CAPTURE: ready' /tmp/capture.log" || fail "capture did not start"

ap_start wlan0 "$SSID" "$PASS" 1 || fail "hostapd"
ip addr add 10.99.0.1/24 dev wlan0
iface_to_netns wlan1 sta || fail "netns"

# wpa_supplicant as in lib.sh's sta_start, but with -dd -K so that its log
# holds the derived keys (fixture values for vwifi's own key derivation).
cat > /tmp/wpa-wlan1.conf <<EOF
ctrl_interface=/run/wpa_supplicant
network={
  ssid="$SSID"
  psk="$PASS"
  key_mgmt=WPA-PSK
  proto=RSN
  pairwise=CCMP
  group=CCMP
  scan_freq=2412
}
EOF
ip netns exec sta wpa_supplicant -B -dd -K -i wlan1 -D nl80211 -c /tmp/wpa-wlan1.conf \
    -P /run/wpa-wlan1.pid -f /tmp/wpa-wlan1.log || fail "wpa_supplicant"
sta_wait_connected wlan1 30 sta || fail "association"
ip netns exec sta ip addr add 10.99.0.2/24 dev wlan1
ip netns exec sta ping -c 2 -i 0.3 -W 2 10.99.0.1 || fail "ping over the air"
sleep 0.5
kill "$cap"; wait "$cap"
cat /tmp/capture.log
stop_all

echo "VWIFI-VERSIONS: kernel=$(uname -r) hostapd=$(hostapd -v 2>&1 | sed -n 's/^hostapd v//p' | head -n1) wpa_supplicant=$(wpa_supplicant -v 2>&1 | sed -n 's/^wpa_supplicant v//p' | head -n1)"
grep -E 'WPA: (PMK|PTK|KCK|KEK|TK|Group Key|GTK)[^a-zA-Z]* - hexdump' /tmp/wpa-wlan1.log \
    | sed 's/^[0-9.]*: //; s/^/VWIFI-KEY: /'
sum=$(sha256sum /tmp/air.pcap | cut -d' ' -f1)
echo "VWIFI-PCAP-BEGIN sha256=$sum bytes=$(wc -c < /tmp/air.pcap)"
base64 /tmp/air.pcap | sed 's/^/VWIFI-PCAP: /'
echo "VWIFI-PCAP-END"
log "record-handshake: OK"
