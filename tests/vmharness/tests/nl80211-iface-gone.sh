# A real card's station interface deleted under vwifi-host (issue 19 item 2).
# phy0 (wlan0): hostapd, lab-a (WPA2) at 10.99.1.1. phy1 (wlan1): vwifi-host with
# [radio] kind = "nl80211" (kernel data path: each guest's wlan0 a veth joined to its station
# interface by tc filters). Guests: namespaces g1 (joins and pings) and g2 (attached, idle).
# Steps (each logged as "STEP n ok"):
#  1 g1 joins lab-a through its station interface and pings the AP
#  2 `iw dev <g1's interface> del`: g1 is told it was disconnected; within seconds the
#    daemon's log and `status` report it, the interface is back (same name, g1's MAC), g1 is
#    connected again (a second association in hostapd's log) and pings again, through the
#    kernel data path joined to the new interface
#  2b the name taken (a veth named vw0, the daemon stopped meanwhile) before it recreates it: status says MISSING and
#    why; the dummy deleted, the next try recreates it and g1 rejoins and pings
#  3 the idle g2's interface deleted: recreated, g2 stays idle, status counts it; g2 then
#    joins and pings on the new interface
#  4 data_path = "socket" (a TAP and a packet socket): the same for g3, the packet socket
#    reopened on the new interface and the old receive thread gone
. /usr/lib/vwifi-harness/lib.sh
H=/opt/vwifi-host G=/opt/vwifi-guest
fail() {
    log "FAIL: $*"
    echo "----- vwifi-host"; grep -v TRACE /tmp/vwifi-host.log | cut -c1-300 | tail -n 80
    echo "----- hostapd"; tail -n 30 /tmp/hostapd.log
    exit 1
}
export RUST_LOG=${RUST_LOG:-info,vwifi_host=debug}
[ -x $H ] && [ -x $G ] || fail "vwifi binaries not copied in (run-vm.sh -f)"
modprobe -a veth sch_ingress cls_u32 act_mirred act_gact || fail "tc modules"
hwsim_load 2 || fail "mac80211_hwsim"
cat > /tmp/hostapd.conf <<'EOT'
interface=wlan0
driver=nl80211
ctrl_interface=/run/hostapd
hw_mode=g
channel=1
ssid=lab-a
wpa=2
wpa_key_mgmt=WPA-PSK
rsn_pairwise=CCMP
wpa_passphrase=passphrase-of-a
EOT
hostapd -B -P /run/hostapd.pid -f /tmp/hostapd.log /tmp/hostapd.conf || fail "hostapd"
wait_for 10 "grep -q AP-ENABLED /tmp/hostapd.log" || fail "AP-ENABLED"
ip addr add 10.99.1.1/24 dev wlan0
mkdir -p /run/vwifi
printf '[host]\nsocket = "/run/vwifi/host.sock"\n[radio]\nkind = "nl80211"\nifname = "wlan1"\n' > /tmp/host.toml
$H run --config /tmp/host.toml >> /tmp/vwifi-host.log 2>&1 &
echo $! > /run/vwifi-host.pid
wait_for 10 "[ -S /run/vwifi/host.sock.ctl ]" || fail "vwifi-host run"
for g in g1 g2; do
    ip netns add $g && ip netns exec $g ip link set lo up
    $H attach --netns $g || fail "attach $g"
done
wait_for 10 "[ -e /sys/class/net/vw1 ]" || { iw dev; fail "station interfaces"; }
g1mac=$(ip netns exec g1 cat /sys/class/net/wlan0/address)
g2mac=$(ip netns exec g2 cat /sys/class/net/wlan0/address)
g1if=$(grep -l "$g1mac" /sys/class/net/vw*/address | cut -d/ -f5)
g2if=$(grep -l "$g2mac" /sys/class/net/vw*/address | cut -d/ -f5)
[ -n "$g1if" ] && [ -n "$g2if" ] || { iw dev; fail "no station interface with g1's or g2's MAC"; }

# 1: join and ping
for try in 1 2 3; do
    echo passphrase-of-a | ip netns exec g1 $G --link wlan0 connect lab-a --passphrase-stdin > /tmp/c1.txt 2>&1 && break
done
grep -q 'connected to lab-a' /tmp/c1.txt || { cat /tmp/c1.txt; fail "g1 -> lab-a"; }
ip netns exec g1 ip addr add 10.99.1.2/24 dev wlan0
ip netns exec g1 ip link set wlan0 up
ip netns exec g1 ping -c 3 -i 0.2 -W 2 10.99.1.1 > /dev/null || fail "ping lab-a from g1"
log "STEP 1 ok: g1 joined lab-a on $g1if and pings"

# 2: g1's interface deleted under the daemon
ip netns exec g1 $G --link wlan0 events --count 3 > /tmp/ev1.txt 2>&1 &
e1=$!
sleep 3   # the listener up (a debug binary starts slowly under TCG)
old_index=$(cat /sys/class/net/$g1if/ifindex)
t0=$(now)
iw dev "$g1if" del || fail "iw dev $g1if del"
wait_for 20 "[ -e /sys/class/net/$g1if ] && [ \"\$(cat /sys/class/net/$g1if/ifindex)\" != $old_index ]" \
    || { iw dev; fail "$g1if was not recreated"; }
log "TIMING: $g1if recreated $(awk "BEGIN{print $(now) - $t0}")s after iw dev del"
[ "$(cat /sys/class/net/$g1if/address)" = "$g1mac" ] || fail "$g1if came back with another MAC"
[ "$(cat /sys/class/net/$g1if/phy80211/name)" = phy1 ] || fail "$g1if came back on another card"
grep -q "the station's interface was deleted under the daemon: recreating it" /tmp/vwifi-host.log \
    || fail "the daemon did not log the deletion"
wait_for 30 "ip netns exec g1 $G --link wlan0 status 2>/dev/null | grep -q 'state: *connected'" \
    || { ip netns exec g1 $G --link wlan0 status; fail "g1 is not connected again"; }
log "TIMING: g1 connected again $(awk "BEGIN{print $(now) - $t0}")s after iw dev del"
wait_for 10 "grep -q 'disconnected' /tmp/ev1.txt && grep -q 'connected to lab-a' /tmp/ev1.txt" \
    || { cat /tmp/ev1.txt; kill $e1 2>/dev/null; fail "g1 was not told of the disconnection and the new connection"; }
kill $e1 2>/dev/null; wait $e1 2>/dev/null
cat /tmp/ev1.txt
# Told in that order: first the disconnection, then the new connection.
[ "$(grep -n 'disconnected' /tmp/ev1.txt | head -n 1 | cut -d: -f1)" -lt "$(grep -n 'connected to lab-a' /tmp/ev1.txt | head -n 1 | cut -d: -f1)" ] \
    || fail "g1 heard of the new connection before the disconnection"
[ "$(grep -c 'AP-STA-CONNECTED' /tmp/hostapd.log)" -ge 2 ] || fail "hostapd saw no second association"
$H status > /tmp/status2.txt || fail "status"
cat /tmp/status2.txt
grep -q "station interfaces deleted under the daemon: .*$g1if (guest [0-9]*): recreated 1 time(s)" /tmp/status2.txt \
    || fail "status does not report $g1if recreated"
grep -q "kernel data path (veth + tc): .*$g1if<->" /tmp/status2.txt || fail "status: g1's kernel data path"
wait_for 10 "ip netns exec g1 ping -c 1 -W 1 10.99.1.1 > /dev/null" || fail "no ping from g1 after the recreation"
ip netns exec g1 ping -c 5 -i 0.2 -W 2 10.99.1.1 | tee /tmp/ping2.txt
grep -q ' 0% packet loss' /tmp/ping2.txt || fail "g1 lost pings on the recreated interface"
log "TIMING: g1 pings again $(awk "BEGIN{print $(now) - $t0}")s after iw dev del"
[ "$(grep -c 'kernel data path joined' /tmp/vwifi-host.log)" -ge 3 ] \
    || fail "g1's veth was not joined to the new interface"
log "STEP 2 ok: $g1if deleted: reported, recreated with g1's MAC, g1 told, rejoined lab-a, pings through the new interface"

# 2b: the name taken by another interface before the daemon could recreate it: status says
# the interface is MISSING and why; once the name is free again it comes back and g1 rejoins.
old_index=$(cat /sys/class/net/$g1if/ifindex)
# The daemon held (SIGSTOP) meanwhile: it recreates the interface in well under 0.1 s otherwise.
kill -STOP "$(cat /run/vwifi-host.pid)"
iw dev "$g1if" del && ip link add "$g1if" type veth peer name vwtaken
rc=$?
kill -CONT "$(cat /run/vwifi-host.pid)"
[ $rc = 0 ] || fail "$g1if could not be deleted and taken by a veth"
wait_for 10 "$H status | grep -q '$g1if (guest [0-9]*): MISSING (deleted under the daemon; not recreated yet: the name $g1if is taken by another interface)'" \
    || { $H status; fail "status does not report $g1if missing"; }
$H status | grep 'deleted under the daemon'
ip link del "$g1if" || fail "deleting the veth that took the name"
t0=$(now)
wait_for 10 "[ -d /sys/class/net/$g1if/phy80211 ] && [ \"\$(cat /sys/class/net/$g1if/ifindex)\" != $old_index ]" \
    || { iw dev; fail "$g1if was not recreated once its name was free"; }
wait_for 30 "ip netns exec g1 $G --link wlan0 status 2>/dev/null | grep -q 'state: *connected'" \
    || { ip netns exec g1 $G --link wlan0 status; fail "g1 is not connected again after the retry"; }
wait_for 10 "ip netns exec g1 ping -c 1 -W 1 10.99.1.1 > /dev/null" || fail "no ping from g1 after the retry"
log "TIMING: $g1if back, g1 connected and pinging $(awk "BEGIN{print $(now) - $t0}")s after its name was free"
$H status | grep -q "$g1if (guest [0-9]*): recreated 2 time(s)" || { $H status; fail "status: $g1if recreated twice"; }
log "STEP 2b ok: $g1if's name taken: reported MISSING with the kernel's reason, recreated on the next try once free, g1 rejoined and pings"

# 3: an idle guest's interface deleted: recreated, not joined anywhere
old_index=$(cat /sys/class/net/$g2if/ifindex)
iw dev "$g2if" del || fail "iw dev $g2if del"
wait_for 20 "[ -e /sys/class/net/$g2if ] && [ \"\$(cat /sys/class/net/$g2if/ifindex)\" != $old_index ]" \
    || { iw dev; fail "$g2if was not recreated"; }
[ "$(cat /sys/class/net/$g2if/address)" = "$g2mac" ] || fail "$g2if came back with another MAC"
wait_for 10 "$H status | grep -q '$g2if (guest [0-9]*): recreated 1 time(s)'" || { $H status; fail "status: $g2if"; }
sleep 2
ip netns exec g2 $G --link wlan0 status | grep -q 'state: *disconnected' || { ip netns exec g2 $G --link wlan0 status; fail "g2 is not idle (disconnected)"; }
grep -q "kernel data path joined guest=[0-9]* outer=[0-9a-z]* station_if=$(cat /sys/class/net/$g2if/ifindex)" /tmp/vwifi-host.log \
    || fail "g2's veth was not joined to its new interface"
echo passphrase-of-a | ip netns exec g2 $G --link wlan0 connect lab-a --passphrase-stdin > /tmp/c2.txt 2>&1
grep -q 'connected to lab-a' /tmp/c2.txt || { cat /tmp/c2.txt; fail "g2 cannot join lab-a on its recreated interface"; }
ip netns exec g2 ip addr add 10.99.1.3/24 dev wlan0
ip netns exec g2 ip link set wlan0 up
ip netns exec g2 ping -c 3 -i 0.2 -W 2 10.99.1.1 > /dev/null || fail "ping lab-a from g2 on its recreated interface"
ip netns exec g1 ping -c 2 -i 0.2 -W 2 10.99.1.1 > /dev/null || fail "g1 lost its link when g2's interface went"
$H status | grep 'deleted under the daemon'
log "STEP 3 ok: idle g2's $g2if recreated, g2 left idle, then joins and pings on it; g1 undisturbed"

# 4: the socket data path (data_path = "socket": the guest's TAP, a packet socket on the
# station interface): the packet socket is opened again on the new interface.
for g in g1 g2; do $H detach --netns $g || fail "detach $g"; done
hp=$(cat /run/vwifi-host.pid)
kill "$hp"
wait_for 10 "! grep -qE 'State:.*[RSD]' /proc/$hp/status 2>/dev/null" || fail "vwifi-host did not stop"
rm -f /run/vwifi/host.sock /run/vwifi/host.sock.ctl
printf '[host]\nsocket = "/run/vwifi/host.sock"\n[radio]\nkind = "nl80211"\nifname = "wlan1"\ndata_path = "socket"\n' > /tmp/host-socket.toml
$H run --config /tmp/host-socket.toml >> /tmp/vwifi-host.log 2>&1 &
echo $! > /run/vwifi-host.pid
wait_for 10 "[ -S /run/vwifi/host.sock.ctl ]" || fail "vwifi-host run (socket path)"
ip netns add g3 && ip netns exec g3 ip link set lo up
$H attach --netns g3 || fail "attach g3 (socket path)"
ip netns exec g3 /usr/sbin/ip -d link show wlan0 | grep -q tun || fail "g3's wlan0 is not a TAP on the socket path"
g3mac=$(ip netns exec g3 cat /sys/class/net/wlan0/address)
wait_for 10 "grep -ql '$g3mac' /sys/class/net/vw*/address" || { iw dev; fail "g3's station interface"; }
g3if=$(grep -l "$g3mac" /sys/class/net/vw*/address | cut -d/ -f5)
echo passphrase-of-a | ip netns exec g3 $G --link wlan0 connect lab-a --passphrase-stdin > /tmp/c3.txt 2>&1
grep -q 'connected to lab-a' /tmp/c3.txt || { cat /tmp/c3.txt; fail "g3 -> lab-a (socket path)"; }
ip netns exec g3 ip addr add 10.99.1.4/24 dev wlan0
ip netns exec g3 ip link set wlan0 up
ip netns exec g3 ping -c 3 -i 0.2 -W 2 10.99.1.1 > /dev/null || fail "ping lab-a from g3 (socket path)"
old_index=$(cat /sys/class/net/$g3if/ifindex)
t0=$(now)
iw dev "$g3if" del || fail "iw dev $g3if del"
wait_for 20 "[ -e /sys/class/net/$g3if ] && [ \"\$(cat /sys/class/net/$g3if/ifindex)\" != $old_index ]" \
    || { iw dev; fail "$g3if was not recreated (socket path)"; }
wait_for 30 "ip netns exec g3 $G --link wlan0 status 2>/dev/null | grep -q 'state: *connected'" \
    || { ip netns exec g3 $G --link wlan0 status; fail "g3 is not connected again (socket path)"; }
wait_for 10 "ip netns exec g3 ping -c 1 -W 1 10.99.1.1 > /dev/null" || fail "no ping from g3 after the recreation (socket path)"
ip netns exec g3 ping -c 5 -i 0.2 -W 2 10.99.1.1 | tee /tmp/ping3.txt
grep -q ' 0% packet loss' /tmp/ping3.txt || fail "g3 lost pings on the recreated interface (socket path)"
log "TIMING: g3 (socket path) pings again $(awk "BEGIN{print $(now) - $t0}")s after iw dev del"
n=$(ls /proc/$(cat /run/vwifi-host.pid)/task | while read t; do cat /proc/$(cat /run/vwifi-host.pid)/task/$t/comm; done | grep -c "vwifi-rx-$g3if")
[ "$n" = 1 ] || fail "$n receive threads for $g3if, expected 1 (the old one ends)"
$H status | grep 'deleted under the daemon' || fail "status (socket path)"
log "STEP 4 ok: socket data path: $g3if recreated, its packet socket reopened (one receive thread), g3 rejoined and pings"
kill "$(cat /run/vwifi-host.pid)"
stop_all
log "nl80211-iface-gone: OK"
