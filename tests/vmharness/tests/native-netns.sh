# Containers with their own Wi-Fi stack (issue 20 item 1): `vwifi-host attach --netns NAME
# --native` gives each namespace a mac80211_hwsim radio of its own on vwifi's simulated air.
# Inside, the container's own tools work: `iw dev wlan0 scan` lists vwifi's simulated APs with
# their signal, wpa_supplicant joins the simulated WPA2 AP "vwifi-lab", and the two native
# containers ping each other, a CLI-driven guest (a TAP namespace joined with vwifi-guest) and
# the host over the uplink TAP. A native radio claiming another node's address is refused;
# detach deletes the radio; SIGKILL leaves no stale radio and a restarted daemon gives the
# recorded namespaces their radio again.
# Needs /opt/vwifi-host and /opt/vwifi-guest (run-vm.sh -f target/debug/vwifi-host -f ...).
. /usr/lib/vwifi-harness/lib.sh

PASS="correct horse battery staple"
step() { log "STEP: $*"; }
dump() {
    /opt/vwifi-host status 2>&1 | tail -n 20
    for n in c1 c2; do echo "scan in $n:"; ip netns exec $n iw dev wlan0 scan 2>&1 | grep -E "^BSS|SSID|signal" | head -6; done
    grep -E "INFO|WARN|ERROR" /tmp/vwifi-host.log | cut -c12-250 | tail -n 25
    for n in c1 c2; do tail -n 15 "/tmp/wpa-$n.log" 2>/dev/null; done
    grep -v TRACE /tmp/vwifi-host.log | cut -c12-300 | tail -n 40
}
# radios: every wiphy in the root namespace and in the namespaces named.
radios() {
    { ls /sys/class/ieee80211; for n in "$@"; do ip netns exec "$n" ls /sys/class/ieee80211; done; } 2>/dev/null | sort | tr '\n' ' '
}
# wpas NETNS: the namespace's own wpa_supplicant on its wlan0 joins vwifi-lab.
wpas() {
    mkdir -p "/run/wpa-$1"
    printf 'ctrl_interface=/run/wpa-%s\nnetwork={\n ssid="vwifi-lab"\n psk="%s"\n key_mgmt=WPA-PSK\n}\n' "$1" "$PASS" > "/tmp/wpa-$1.conf"
    ip netns exec "$1" wpa_supplicant -B -i wlan0 -D nl80211 -c "/tmp/wpa-$1.conf" -P "/run/wpa-$1.pid" -f "/tmp/wpa-$1.log"
}
connected() {
    wait_for "$2" "ip netns exec $1 wpa_cli -p /run/wpa-$1 -i wlan0 status 2>/dev/null | grep -q wpa_state=COMPLETED"
}
start_daemon() {
    RUST_LOG=${VWIFI_LOG:-info} /opt/vwifi-host run --config /tmp/host.toml >> /tmp/vwifi-host.log 2>&1 &
    wait_for 15 "/opt/vwifi-host status > /dev/null 2>&1" || { dump; fail "vwifi-host did not start"; }
}

[ -x /opt/vwifi-host ] && [ -x /opt/vwifi-guest ] || fail "vwifi binaries not copied in (run-vm.sh -f)"
modprobe tun || fail "tun"
mkdir -p /run/vwifi
cat > /tmp/host.toml <<EOF
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
[[sim.aps]]
ssid = "vwifi-open"
channel = 6
bssid = "02:76:77:00:00:01"
position = [0.0, 0.0]
uplink = true
EOF

step "the module missing is told with the command that loads it"
/opt/vwifi-host run --config /tmp/host.toml > /tmp/nomod.log 2>&1 && fail "vwifi-host ran without mac80211_hwsim"
grep -i "modprobe mac80211_hwsim" /tmp/nomod.log || { cat /tmp/nomod.log; fail "no modprobe advice"; }

modprobe mac80211_hwsim radios=0 || fail "mac80211_hwsim"
start_daemon
ip link set vwup up && ip addr add 10.77.0.1/24 dev vwup
for n in c1 c2 g3; do ip netns add $n; ip netns exec $n ip link set lo up; done

step "attach --native: each namespace gets its own radio and wlan0"
/opt/vwifi-host attach --netns c1 --native --position 3,0 || { dump; fail "attach --native c1"; }
/opt/vwifi-host attach --netns c2 --native --position 7,0 || { dump; fail "attach --native c2"; }
/opt/vwifi-host attach --netns c2 --native 2>&1 | grep -q "attached already" || fail "a second attach of c2 was not refused"
ip netns exec c1 iw dev | grep -q "Interface wlan0" || fail "no wlan0 in c1"
ip netns exec c2 iw phy | grep -q "Wiphy vw-c2" || fail "no vw-c2 in c2"
log "radios: $(radios c1 c2)"
/opt/vwifi-host status | grep native || fail "status lists no native guest"

step "iw dev wlan0 scan inside lists vwifi's APs with signal"
ip netns exec c1 ip link set wlan0 up
ok=
for i in 1 2 3; do
    ip netns exec c1 iw dev wlan0 scan > /tmp/scan.txt 2>&1 && grep -q "SSID: vwifi-lab" /tmp/scan.txt && { ok=1; break; }
    sleep 1
done
[ -n "$ok" ] || { cat /tmp/scan.txt; dump; fail "scan in c1 did not list vwifi-lab"; }
grep -E "^BSS|signal:|SSID:" /tmp/scan.txt
grep -A8 "02:76:77:00:00:02" /tmp/scan.txt | grep -q "signal: -" || fail "no signal for vwifi-lab"

step "wpa_supplicant in each container joins the simulated WPA2 AP"
t0=$(now)
wpas c1 || fail "wpa_supplicant c1"
wpas c2 || fail "wpa_supplicant c2"
connected c1 90 || { dump; fail "c1 did not join vwifi-lab"; }
connected c2 90 || { dump; fail "c2 did not join vwifi-lab"; }
log "TIMING: both native containers joined in $(awk "BEGIN{print $(now) - $t0}") s"
ip netns exec c1 iw dev wlan0 link | grep -E "Connected|SSID|signal"

step "a CLI-driven guest joins the same AP"
/opt/vwifi-host attach --netns g3 || fail "attach g3"
echo "$PASS" | ip netns exec g3 /opt/vwifi-guest --link wlan0 connect vwifi-lab --passphrase-stdin --timeout 40 || { dump; fail "g3 join"; }
ip netns exec c1 ip addr add 10.77.0.11/24 dev wlan0
ip netns exec c2 ip addr add 10.77.0.12/24 dev wlan0
ip netns exec g3 ip addr add 10.77.0.13/24 dev wlan0

step "pings: native to native, native to the CLI guest, native to the uplink"
for dst in 10.77.0.12 10.77.0.13 10.77.0.1; do
    ip netns exec c1 ping -c 2 -i 0.3 -W 5 $dst > /dev/null
    ip netns exec c1 ping -c 5 -i 0.3 -W 3 $dst > /tmp/ping.out || { cat /tmp/ping.out; dump; fail "c1 -> $dst"; }
    grep -E "round-trip|packets" /tmp/ping.out
done
ip netns exec g3 ping -c 3 -i 0.3 -W 3 10.77.0.12 > /tmp/ping.out || { cat /tmp/ping.out; dump; fail "g3 -> c2"; }

step "a native radio claiming another node's address is refused"
ip netns add c4
/opt/vwifi-host attach --netns c4 --native --position 5,5 || fail "attach c4"
c1mac=$(ip netns exec c1 cat /sys/class/net/wlan0/address)
ip netns exec c4 ip link set wlan0 address "$c1mac"
ip netns exec c4 ip link set wlan0 up
ip netns exec c4 iw dev wlan0 scan > /dev/null 2>&1
/opt/vwifi-host status | grep "native frames refused" || { dump; fail "c4's frames as $c1mac were not refused"; }
connected c1 20 || fail "c1 lost its link to c4's impersonation"

step "detach deletes the radio"
/opt/vwifi-host detach --netns c4 || fail "detach c4"
ip netns exec c4 iw dev | grep -q wlan0 && fail "c4 still has wlan0"
case " $(radios c1 c2 c4) " in *vw-c4*) fail "vw-c4 left behind" ;; esac
/opt/vwifi-host status | grep -q "native c4" && fail "status still lists c4"

step "SIGKILL leaves no stale radio; a restart gives the recorded namespaces their radio again"
kill -9 "$(pidof vwifi-host)"
wait_for 5 "! radios c1 c2 | grep -q vw-" || { log "radios: $(radios c1 c2)"; fail "radios left after SIGKILL"; }
for n in c1 c2; do kill "$(cat /run/wpa-$n.pid)" 2>/dev/null; done
start_daemon
wait_for 10 "ip netns exec c1 iw dev 2>/dev/null | grep -q wlan0" || { dump; fail "c1 has no wlan0 after the restart"; }
wait_for 10 "ip netns exec c2 iw dev 2>/dev/null | grep -q wlan0" || { dump; fail "c2 has no wlan0 after the restart"; }
log "radios after restart: $(radios c1 c2 c4)"
[ "$(radios c1 c2 c4 | wc -w)" = 2 ] || fail "expected exactly 2 radios"
ip netns exec c1 ip link set wlan0 up
ok=
for i in 1 2 3; do
    ip netns exec c1 iw dev wlan0 scan > /tmp/scan.txt 2>&1 && grep -q "SSID: vwifi-lab" /tmp/scan.txt && { ok=1; break; }
    sleep 1
done
[ -n "$ok" ] || { cat /tmp/scan.txt; dmesg | grep -i hwsim | tail; dump; fail "scan in c1 after the restart did not list vwifi-lab"; }
wpas c1 && wpas c2 || fail "wpa_supplicant after restart"
connected c1 90 && connected c2 90 || { dump; fail "rejoin after restart"; }
ip netns exec c1 ip addr add 10.77.0.11/24 dev wlan0
ip netns exec c2 ip addr add 10.77.0.12/24 dev wlan0
ip netns exec c1 ping -c 2 -i 0.3 -W 5 10.77.0.12 > /dev/null
ip netns exec c1 ping -c 5 -i 0.3 -W 3 10.77.0.12 > /tmp/ping.out || { cat /tmp/ping.out; dump; fail "c1 -> c2 after restart"; }
grep -E "round-trip" /tmp/ping.out
/opt/vwifi-host status
kill "$(pidof vwifi-host)"
for n in c1 c2; do kill "$(cat /run/wpa-$n.pid)" 2>/dev/null; done
log "native-netns: OK"
