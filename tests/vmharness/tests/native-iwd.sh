# A container's own iwd on a native radio (issue 20, "one with iwd"): `vwifi-host attach --netns
# NAME --native` gives the namespace a mac80211_hwsim radio on vwifi's air, and iwd (not
# wpa_supplicant) running in it joins the simulated WPA2 AP "vwifi-lab" from a known-network
# file, then pings the host over the uplink and a wpa_supplicant container on the same AP.
# iwd needs a D-Bus system bus (a dbus-daemon started here with a minimal config) and the
# kernel's AF_ALG crypto (af_alg, algif_hash, algif_skcipher, ecb, md4, des: copied in as
# /opt/kmod/*.ko by selftest.sh, the harness image does not carry them).
# Needs /opt/vwifi-host, /opt/iwd, /opt/dbus-daemon (run-vm.sh -f ...).
. /usr/lib/vwifi-harness/lib.sh

PASS="correct horse battery staple"
step() { log "STEP: $*"; }
dump() {
    /opt/vwifi-host status 2>&1 | tail -n 10
    tail -n 30 /tmp/iwd.log; tail -n 10 /tmp/dbus.log
    grep -v TRACE /tmp/vwifi-host.log | cut -c12-250 | tail -n 20
}

for x in /opt/vwifi-host /opt/iwd /opt/dbus-daemon; do [ -x $x ] || fail "$x not copied in (run-vm.sh -f)"; done
for m in af_alg algif_hash algif_skcipher libdes des_generic ecb md4; do
    [ -f /opt/kmod/$m.ko ] && insmod /opt/kmod/$m.ko 2>/dev/null
done
grep -q algif_hash /proc/modules || log "no algif_hash module (built in?)"
modprobe tun || fail "tun"
modprobe mac80211_hwsim radios=0 || fail "mac80211_hwsim"
cat > /tmp/host.toml <<EOT
[host]
state_dir = "/tmp/vwstate"
uplink_tap = "vwup"
[hwsim]
[sim]
seed = 1
[[sim.aps]]
ssid = "vwifi-lab"
channel = 1
bssid = "02:76:77:00:00:02"
passphrase = "$PASS"
position = [5.0, 0.0]
uplink = true
EOT
mkdir -p /run/vwifi
RUST_LOG=${VWIFI_LOG:-info} /opt/vwifi-host run --config /tmp/host.toml >> /tmp/vwifi-host.log 2>&1 &
wait_for 15 "/opt/vwifi-host status > /dev/null 2>&1" || { dump; fail "vwifi-host did not start"; }
ip link set vwup up && ip addr add 10.78.0.1/24 dev vwup
for n in ci cw; do ip netns add $n; ip netns exec $n ip link set lo up; done
/opt/vwifi-host attach --netns ci --native --position 3,0 || { dump; fail "attach --native ci"; }
/opt/vwifi-host attach --netns cw --native --position 7,0 || { dump; fail "attach --native cw"; }

step "a D-Bus system bus for iwd"
mkdir -p /run/dbus
cat > /tmp/dbus.conf <<'EOT'
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=/run/dbus/system_bus_socket</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
EOT
/opt/dbus-daemon --config-file=/tmp/dbus.conf --nofork --nopidfile > /tmp/dbus.log 2>&1 &
wait_for 10 "[ -S /run/dbus/system_bus_socket ]" || { dump; fail "dbus-daemon did not start"; }

step "iwd in container ci joins vwifi-lab from a known-network file"
mkdir -p /tmp/iwd-state /tmp/iwd-conf
printf '[Security]\nPassphrase=%s\n' "$PASS" > /tmp/iwd-state/vwifi-lab.psk
printf '[General]\nEnableNetworkConfiguration=false\nUseDefaultInterface=true\n[DriverQuirks]\nDefaultInterface=*\n' > /tmp/iwd-conf/main.conf
t0=$(now)
ip netns exec ci env STATE_DIRECTORY=/tmp/iwd-state CONFIGURATION_DIRECTORY=/tmp/iwd-conf \
    /opt/iwd -d > /tmp/iwd.log 2>&1 &
wait_for 90 "ip netns exec ci iw dev 2>/dev/null | grep -q ssid" || { dump; fail "iwd did not join vwifi-lab"; }
log "TIMING: iwd joined in $(awk "BEGIN{print $(now) - $t0}") s"
dev=$(ip netns exec ci iw dev | awk '/Interface/{print $2; exit}')
ip netns exec ci iw dev "$dev" link > /tmp/link.txt 2>&1
grep -q "SSID: vwifi-lab" /tmp/link.txt || { cat /tmp/link.txt; ip netns exec ci iw dev; dump; fail "iwd's $dev is not on vwifi-lab"; }
log "iwd's interface: $dev; $(grep -E "Connected|signal" /tmp/link.txt | tr -s '\t\n' '  ')"

step "wpa_supplicant in container cw joins the same AP"
printf 'ctrl_interface=/run/wpa-cw\nnetwork={\n ssid="vwifi-lab"\n psk="%s"\n key_mgmt=WPA-PSK\n scan_freq=2412\n}\n' "$PASS" > /tmp/wpa-cw.conf
ip netns exec cw wpa_supplicant -B -i wlan0 -D nl80211 -c /tmp/wpa-cw.conf -f /tmp/wpa-cw.log || fail "wpa_supplicant"
wait_for 90 "ip netns exec cw wpa_cli -p /run/wpa-cw -i wlan0 status 2>/dev/null | grep -q wpa_state=COMPLETED" || { dump; fail "cw did not join"; }

step "pings from the iwd container: the uplink and the wpa_supplicant container"
ip netns exec ci ip addr add 10.78.0.2/24 dev "$dev"
ip netns exec cw ip addr add 10.78.0.3/24 dev wlan0
for dst in 10.78.0.1 10.78.0.3; do
    ip netns exec ci ping -c 2 -i 0.3 -W 5 $dst > /dev/null
    ip netns exec ci ping -c 5 -i 0.3 -W 3 $dst > /tmp/ping.out || { cat /tmp/ping.out; dump; fail "ping $dst"; }
    grep round-trip /tmp/ping.out
done
log "native-iwd: OK"
