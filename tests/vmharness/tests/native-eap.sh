# A container running hostapd on its own native radio is an AP on vwifi's air (issue 20 item 2):
# WPA2-Enterprise with hostapd's internal EAP server (PEAP and TTLS, MSCHAPv2 inside), joined by
# two other native containers' own wpa_supplicant; a wrong password is refused; pings cross the
# air. No code of vwifi is specific to this: the radios are `attach --native` radios.
# Needs /opt/vwifi-host, /opt/eap.pem and /opt/eap.key (a self-signed server certificate and
# its key; selftest.sh makes them with openssl).
. /usr/lib/vwifi-harness/lib.sh

step() { log "STEP: $*"; }
dump() {
    /opt/vwifi-host status 2>&1 | tail -n 12
    tail -n 25 /tmp/hostapd-eap.log
    for n in peap ttls bad; do tail -n 12 "/tmp/wpa-$n.log" 2>/dev/null; done
    grep -v TRACE /tmp/vwifi-host.log | cut -c12-300 | tail -n 20
    # With VWIFI_LOG=info,vwifi_host::hwsim=trace: the authentication frames (fc 0xb0) and their fate.
    grep TRACE /tmp/vwifi-host.log | grep -E "fc=Some\(\[(176|0|16), " | cut -c12-260 | head -n "${VWIFI_DUMP:-0}"
}
# wpas NETNS EAP PASSWORD: the namespace's own wpa_supplicant joins eap-lab with EAP method EAP.
# scan_freq: the medium hears a kernel radio on the channel it last sent on (the kernel does not
# tell a medium where its radio listens), and hostapd in this emulated VM answers a probe
# request after the scanning station has moved on: scanning only the AP's channel keeps the
# station there (vwifi's simulated APs answer at once and need no such hint).
wpas() {
    mkdir -p "/run/wpa-$1"
    cat > "/tmp/wpa-$1.conf" <<EOF
ctrl_interface=/run/wpa-$1
network={
  ssid="eap-lab"
  key_mgmt=WPA-EAP
  eap=$2
  identity="alice"
  password="$3"
  phase2="auth=MSCHAPV2"
  ca_cert="/opt/eap.pem"
  scan_freq=2437
}
EOF
    ip netns exec "$1" wpa_supplicant -B -i wlan0 -D nl80211 -c "/tmp/wpa-$1.conf" -P "/run/wpa-$1.pid" -f "/tmp/wpa-$1.log"
}
connected() {
    wait_for "$2" "ip netns exec $1 wpa_cli -p /run/wpa-$1 -i wlan0 status 2>/dev/null | grep -q wpa_state=COMPLETED"
}

[ -x /opt/vwifi-host ] && [ -f /opt/eap.pem ] && [ -f /opt/eap.key ] || fail "vwifi-host or the certificate not copied in (run-vm.sh -f)"
modprobe tun || fail "tun"
modprobe mac80211_hwsim radios=0 || fail "mac80211_hwsim"
mkdir -p /run/vwifi
printf '[hwsim]\n[host]\nstate_dir = "/tmp/vwstate"\n[sim]\nseed = 1\n' > /tmp/host.toml
RUST_LOG=${VWIFI_LOG:-info} /opt/vwifi-host run --config /tmp/host.toml > /tmp/vwifi-host.log 2>&1 &
wait_for 15 "/opt/vwifi-host status > /dev/null 2>&1" || fail "vwifi-host did not start"

step "three containers with native radios: ap, peap, ttls (and bad)"
i=0
for n in ap peap ttls bad; do
    ip netns add $n && ip netns exec $n ip link set lo up
    /opt/vwifi-host attach --netns $n --native --position $((i * 3)),0 > /dev/null || { dump; fail "attach $n"; }
    i=$((i + 1))
done

step "hostapd in ap: WPA2-Enterprise, internal EAP server"
cat > /tmp/eap.users <<EOF
* PEAP,TTLS
"alice" MSCHAPV2,TTLS-MSCHAPV2 "wonderland" [2]
EOF
cat > /tmp/hostapd-eap.conf <<EOF
interface=wlan0
driver=nl80211
ctrl_interface=/run/hostapd-eap
ssid=eap-lab
hw_mode=g
channel=6
ieee8021x=1
eap_server=1
eap_user_file=/tmp/eap.users
ca_cert=/opt/eap.pem
server_cert=/opt/eap.pem
private_key=/opt/eap.key
wpa=2
wpa_key_mgmt=WPA-EAP
rsn_pairwise=CCMP
EOF
ip netns exec ap hostapd -B -P /run/hostapd-eap.pid -f /tmp/hostapd-eap.log /tmp/hostapd-eap.conf || { cat /tmp/hostapd-eap.log; fail "hostapd"; }
wait_for 10 "grep -q AP-ENABLED /tmp/hostapd-eap.log" || { dump; fail "hostapd not enabled"; }
ip netns exec ap ip addr add 10.78.0.1/24 dev wlan0

step "wpa_supplicant in peap (PEAP) and ttls (TTLS) join; bad (wrong password) is refused"
t0=$(now)
wpas peap PEAP wonderland || fail "wpa_supplicant peap"
wpas ttls TTLS wonderland || fail "wpa_supplicant ttls"
wpas bad PEAP looking-glass || fail "wpa_supplicant bad"
connected peap 60 || { dump; fail "peap did not join"; }
connected ttls 60 || { dump; fail "ttls did not join"; }
log "TIMING: PEAP and TTLS joined in $(awk "BEGIN{print $(now) - $t0}") s"
grep -E "CTRL-EVENT-EAP-SUCCESS|CTRL-EVENT-CONNECTED" /tmp/wpa-peap.log /tmp/wpa-ttls.log | cut -c1-160
wait_for 30 "grep -q CTRL-EVENT-EAP-FAILURE /tmp/wpa-bad.log" || { dump; fail "the wrong password was not refused"; }
connected bad 1 && fail "bad joined with a wrong password"
grep -m1 CTRL-EVENT-EAP-FAILURE /tmp/wpa-bad.log | cut -c1-160
grep -E "AP-STA-CONNECTED|EAP-SUCCESS" /tmp/hostapd-eap.log | head -4

step "pings over the EAP-keyed air"
ip netns exec peap ip addr add 10.78.0.2/24 dev wlan0
ip netns exec ttls ip addr add 10.78.0.3/24 dev wlan0
for pair in "peap 10.78.0.1" "ttls 10.78.0.1" "peap 10.78.0.3"; do
    set -- $pair
    ip netns exec "$1" ping -c 2 -i 0.3 -W 5 "$2" > /dev/null
    ip netns exec "$1" ping -c 5 -i 0.3 -W 3 "$2" > /tmp/ping.out || { cat /tmp/ping.out; dump; fail "$1 -> $2"; }
    grep round-trip /tmp/ping.out
done
/opt/vwifi-host status | grep native
for p in /run/hostapd-eap.pid /run/wpa-*.pid; do kill "$(cat "$p")" 2>/dev/null; done
kill "$(pidof vwifi-host)"
log "native-eap: OK"
