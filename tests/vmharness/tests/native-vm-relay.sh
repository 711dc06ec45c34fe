# A VM with its own Wi-Fi stack on vwifi's air (issue 20 item 3): the daemon runs OUTSIDE the
# VM (on the host, as selftest.sh's check starts it); inside, mac80211_hwsim gives the VM a
# radio, `vwifi-guest radio --serial` relays it over a virtio-serial port to the daemon's radio
# socket, and the VM's own `iw` scans the host's simulated APs, its own wpa_supplicant joins the
# WPA2 AP "vwifi-lab", and it pings the host over the uplink and a namespace guest on the host.
# Needs /opt/vwifi-guest and run-vm.sh -p vwifi-radio=SOCK (the daemon's [hwsim] relay_socket).
# Debugging: WPA_DEBUG=1 (wpa_supplicant -dd) and RADIO_LOG=debug (the relay's RUST_LOG) pass
# through selftest.sh; a failing run leaves /tmp/vwifi-native-relay-{host,vm}.log on the host.
. /usr/lib/vwifi-harness/lib.sh

step() { log "STEP: $*"; }
dump() { tail -n 20 /tmp/radio.log; grep -E "Drv Event|SME|CTRL-EVENT|wlan0: (State|Trying|Assoc|Auth)" /tmp/wpa-vm.log 2>/dev/null | tail -n 30; dmesg | grep -E "wlan|hwsim|phy" | tail -n 40; ip -s link show wlan0; iw dev wlan0 station dump; }

[ -x /opt/vwifi-guest ] || fail "vwifi-guest not copied in (run-vm.sh -f)"
step "the VM's own radio relayed to the host"
hwsim_load 1 || fail "mac80211_hwsim"
dev=$(vport_dev vwifi-radio) || fail "no virtio-serial port vwifi-radio (run-vm.sh -p vwifi-radio=SOCK)"
RUST_LOG=${RADIO_LOG:-info} /opt/vwifi-guest radio --serial "$dev" > /tmp/radio.log 2>&1 &
wait_for 10 "grep -q 'relaying this VM' /tmp/radio.log" || { dump; fail "vwifi-guest radio did not start"; }
ip link set wlan0 up

step "iw dev wlan0 scan in the VM lists the host's simulated APs"
ok=
for i in 1 2 3 4 5; do
    iw dev wlan0 scan freq 2412 > /tmp/scan.txt 2>&1 && grep -q "SSID: vwifi-lab" /tmp/scan.txt && { ok=1; break; }
    sleep 1
done
[ -n "$ok" ] || { cat /tmp/scan.txt; dump; fail "the VM's scan did not list vwifi-lab"; }
grep -E "^BSS|signal:|SSID:" /tmp/scan.txt

step "the VM's own wpa_supplicant joins vwifi-lab"
t0=$(now)
printf 'ctrl_interface=/run/wpa-vm\nnetwork={\n ssid="vwifi-lab"\n psk="correct horse battery staple"\n key_mgmt=WPA-PSK\n scan_freq=2412\n}\n' > /tmp/wpa-vm.conf
wpa_supplicant ${WPA_DEBUG:+-dd -t} -B -i wlan0 -D nl80211 -c /tmp/wpa-vm.conf -P /run/wpa-vm.pid -f /tmp/wpa-vm.log || fail "wpa_supplicant"
wait_for 60 "wpa_cli -p /run/wpa-vm -i wlan0 status 2>/dev/null | grep -q wpa_state=COMPLETED" || { dump; fail "the VM did not join vwifi-lab"; }
log "TIMING: the VM joined in $(awk "BEGIN{print $(now) - $t0}") s"
iw dev wlan0 link | grep -E "Connected|signal"

step "pings: the host's uplink and a namespace guest on the host"
ip addr add 10.79.0.2/24 dev wlan0
for dst in 10.79.0.1 ${PEER:-}; do
    ping -c 2 -i 0.3 -W 5 $dst > /dev/null
    ping -c 5 -i 0.3 -W 3 $dst > /tmp/ping.out || { cat /tmp/ping.out; dump; fail "ping $dst"; }
    grep round-trip /tmp/ping.out
done
kill "$(cat /run/wpa-vm.pid)"
kill %1 2>/dev/null
log "native-vm-relay: OK"
