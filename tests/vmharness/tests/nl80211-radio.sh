# vwifi-host's nl80211 radio on a real (mac80211_hwsim) card against real hostapd.
# phy0 (wlan0): ONE hostapd, two WPA2 BSSes on channel 1 (lab-a, lab-b, different
# passphrases) and an open one (lab-open), AP-side addresses 10.99.1.1, .2.1, .3.1.
# phy1 (wlan1): vwifi-host run with [radio] kind = "nl80211", ifname = "wlan1".
# Guests are network namespaces g1..g3 attached to the daemon (a TAP wlan0 in each),
# driven with vwifi-guest --link wlan0 (in-band control).
# Steps (each logged as "STEP n ok"):
#  1 discovery: `vwifi-host status` shows the card's bands, ciphers and combinations
#  2 one kernel station interface per guest, with the guest's MAC (vw0..vw2 on phy1)
#  3 scan: g1 sees lab-a and lab-b with BSSID, channel, signal, security
#  4 join: g1 -> lab-a, g2 -> lab-b (WPA2, vwifi's supplicant over the control port);
#    g3 -> lab-a with a wrong passphrase is refused with "wrong passphrase"
#  5 data: g1 pings 10.99.1.1, g2 pings 10.99.2.1 (packet socket <-> guest TAP); g3
#    then joins the open network lab-open and pings 10.99.3.1
#  6 events: hostapd killed -> the three guests are told of the disconnection
#  7 a detached guest's interface goes; SIGKILL the daemon: its interfaces go; a restart
#    deletes a planted stale one
. /usr/lib/vwifi-harness/lib.sh
# On failure: the daemon's whole log (lib.sh's fail shows only tails).
fail() {
    log "FAIL: $*"
    for f in /tmp/hostapd-wlan0.log /tmp/vwifi-host.log; do
        echo "----- $f"
        grep -v ' TRACE ' "$f" | tail -n 150
    done
    exit 1
}
H=/opt/vwifi-host G=/opt/vwifi-guest
export RUST_LOG=${RUST_LOG:-info,vwifi_host=debug}

# The kernel data path (veth + clsact filters) of namespace guests.
modprobe -a veth sch_ingress cls_u32 act_mirred act_gact cls_bpf || fail "tc modules"
hwsim_load 3 || fail "mac80211_hwsim"
cat > /tmp/hostapd-multi.conf <<'EOF'
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

bss=wlan0_1
ctrl_interface=/run/hostapd
ssid=lab-b
wpa=2
wpa_key_mgmt=WPA-PSK
rsn_pairwise=CCMP
wpa_passphrase=passphrase-of-b

bss=wlan0_2
ctrl_interface=/run/hostapd
ssid=lab-open
EOF
hostapd -B -P /run/hostapd-wlan0.pid -f /tmp/hostapd-wlan0.log /tmp/hostapd-multi.conf || fail "hostapd"
wait_for 10 "grep -q AP-ENABLED /tmp/hostapd-wlan0.log" || fail "AP-ENABLED"
wait_for 5 "[ -e /sys/class/net/wlan0_2 ]" || fail "second and third BSS interfaces"
ip addr add 10.99.1.1/24 dev wlan0
ip addr add 10.99.2.1/24 dev wlan0_1
ip addr add 10.99.3.1/24 dev wlan0_2

cat > /tmp/host.toml <<'EOF'
[host]
socket = "/run/vwifi/host.sock"
[radio]
kind = "nl80211"
ifname = "wlan1"
EOF
start_daemon() {
    $H run --config /tmp/host.toml >> /tmp/vwifi-host.log 2>&1 &
    echo $! > /run/vwifi-host.pid
    wait_for 10 "[ -S /run/vwifi/host.sock.ctl ]" || return 1
}
start_daemon || fail "vwifi-host run"

# 1: discovery
$H status > /tmp/status1.txt 2>&1 || { cat /tmp/status1.txt; fail "vwifi-host status"; }
cat /tmp/status1.txt
grep -q 'radio: nl80211' /tmp/status1.txt || fail "status: radio kind"
grep -q 'phy: phy1' /tmp/status1.txt || fail "status: the card"
grep -q '2.4 GHz: channels 1,' /tmp/status1.txt || fail "status: bands"
grep -q 'CCMP-128' /tmp/status1.txt || fail "status: ciphers"
grep -q 'interface combinations: .*managed' /tmp/status1.txt || fail "status: combinations"
log "STEP 1 ok: discovery"

# 2: one interface per guest
for g in g1 g2 g3; do
    ip netns add $g || fail "netns $g"
    ip netns exec $g ip link set lo up
    $H attach --netns $g || fail "attach $g"
done
wait_for 10 "[ -e /sys/class/net/vw2 ]" || { iw dev; fail "station interfaces"; }
iw dev | grep -E 'Interface|addr|type'
for g in g1 g2 g3; do
    gmac=$(ip netns exec $g cat /sys/class/net/wlan0/address)
    iw dev | grep -q "addr $gmac" || fail "no kernel interface with $g's MAC $gmac"
    [ "$(cat /sys/class/net/$(grep -l "$gmac" /sys/class/net/vw*/address | cut -d/ -f5)/phy80211/name)" = phy1 ] \
        || fail "$g's interface is not on phy1"
done
for g in g1 g2 g3; do
    wait_for 5 "[ \"\$(ip netns exec $g cat /sys/class/net/wlan0/operstate)\" = dormant ]" \
        || fail "$g's wlan0 is $(ip netns exec $g cat /sys/class/net/wlan0/operstate), not dormant, before any association"
done
log "STEP 2 ok: one station interface per guest, with the guest's MAC, on phy1; the guests' links dormant"

# 3: scan
# A probe response can be missed on the busy emulated air: scan again as a user would.
for try in 1 2 3; do
    ip netns exec g1 $G --link wlan0 scan > /tmp/scan.txt 2>&1 || { cat /tmp/scan.txt; fail "scan"; }
    cat /tmp/scan.txt
    grep -q 'lab-a' /tmp/scan.txt && grep -q 'lab-b' /tmp/scan.txt && grep -q 'lab-open' /tmp/scan.txt && break
done
grep -q 'lab-a' /tmp/scan.txt && grep -q 'lab-b' /tmp/scan.txt || fail "scan results lack lab-a/lab-b"
grep 'lab-a' /tmp/scan.txt | grep -qi 'wpa2' || fail "scan: lab-a's security"
grep 'lab-open' /tmp/scan.txt | grep -qi 'open' || log "lab-open not (yet) in the scan: the join scans for it"
log "STEP 3 ok: scan"

# 4: join
t0=$(now)
echo passphrase-of-a | ip netns exec g1 $G --link wlan0 connect lab-a --passphrase-stdin > /tmp/c1.txt 2>&1 &
c1=$!
echo passphrase-of-b | ip netns exec g2 $G --link wlan0 connect lab-b --passphrase-stdin > /tmp/c2.txt 2>&1 &
c2=$!
echo not-the-passphrase | ip netns exec g3 $G --link wlan0 connect lab-a --passphrase-stdin > /tmp/c3.txt 2>&1 &
c3=$!
wait $c1; rc1=$?
wait $c2; rc2=$?
log "TIMING: two guests connected through the nl80211 radio in $(awk "BEGIN{print $(now) - $t0}")s"
wait $c3; rc3=$?
log "TIMING: the wrong passphrase refused after $(awk "BEGIN{print $(now) - $t0}")s (beside the two joins)"
for i in 1 2 3; do echo "--- connect g$i:"; cat /tmp/c$i.txt; done
[ $rc1 = 0 ] || fail "g1 did not connect to lab-a (rc $rc1)"
[ $rc2 = 0 ] || fail "g2 did not connect to lab-b (rc $rc2)"
[ $rc3 = 1 ] || fail "g3 with a wrong passphrase: rc $rc3, expected 1"
grep -qi 'passphrase' /tmp/c3.txt || fail "g3 was not told its passphrase is wrong"
grep -q 'AP-STA-POSSIBLE-PSK-MISMATCH' /tmp/hostapd-wlan0.log || fail "hostapd saw no PSK mismatch"
iw dev vw0 link; iw dev vw1 link
$H status
log "STEP 4 ok: two joins, the wrong passphrase refused with its reason"
# The wrong passphrase again, g3 alone: how long vwifi takes to say so.
t0=$(now)
echo not-the-passphrase | ip netns exec g3 $G --link wlan0 connect lab-a --passphrase-stdin > /tmp/c3b.txt 2>&1
rc3=$?
log "TIMING: the wrong passphrase refused after $(awk "BEGIN{print $(now) - $t0}")s (alone)"
[ $rc3 = 1 ] && grep -qi 'passphrase' /tmp/c3b.txt || { cat /tmp/c3b.txt; fail "g3 alone with a wrong passphrase: rc $rc3"; }
# The same wrong passphrase given to a native wpa_supplicant (phy2, own namespace): how long
# it takes to say so (WRONG_KEY), for comparison.
iface_to_netns wlan2 nat || fail "netns nat"
t0=$(now)
sta_start wlan2 lab-a not-the-passphrase nat || fail "native wpa_supplicant"
if wait_for 40 "grep -qE 'WRONG_KEY|may be incorrect' /tmp/wpa-wlan2.log"; then
    log "TIMING: native wpa_supplicant reported the wrong passphrase after $(awk "BEGIN{print $(now) - $t0}")s"
else
    log "native wpa_supplicant did not report the wrong passphrase in 40s"
fi
kill "$(cat /run/wpa-wlan2.pid)" 2>/dev/null; rm -f /run/wpa-wlan2.pid

# 5: data
ip netns exec g1 ip addr add 10.99.1.2/24 dev wlan0
ip netns exec g2 ip addr add 10.99.2.2/24 dev wlan0
ip netns exec g1 ip link set wlan0 up
ip netns exec g2 ip link set wlan0 up
ip netns exec g1 ping -c 3 -i 0.2 -W 2 10.99.1.1 || fail "ping lab-a from g1"
ip netns exec g2 ping -c 3 -i 0.2 -W 2 10.99.2.1 || fail "ping lab-b from g2"
# The refused guest joins the open network instead.
ip netns exec g3 $G --link wlan0 connect lab-open > /tmp/c3o.txt 2>&1 || { cat /tmp/c3o.txt; fail "g3 -> lab-open"; }
cat /tmp/c3o.txt
ip netns exec g3 ip addr add 10.99.3.2/24 dev wlan0
ip netns exec g3 ip link set wlan0 up
ip netns exec g3 ping -c 3 -i 0.2 -W 2 10.99.3.1 || fail "ping lab-open from g3"
# The data path is in the kernel: each guest's wlan0 is a veth whose outer end (vpMAC) is
# joined to its station interface by tc filters; the daemon sees only in-band control.
for g in g1 g2 g3; do
    ip netns exec $g /usr/sbin/ip -d link show wlan0 | grep -q veth || fail "$g's wlan0 is not a veth"
done
log "kernel data path: $(ls /sys/class/net | grep -c '^vp') veth outer ends"
# station_if NS: the station interface (vwN) of namespace NS's guest (the one with its MAC).
station_if() {
    m=$(ip netns exec "$1" cat /sys/class/net/wlan0/address)
    for i in $(ls /sys/class/net | grep '^vw'); do
        [ "$(cat /sys/class/net/$i/address)" = "$m" ] && { echo "$i"; return 0; }
    done
    return 1
}
# check_peer NS: the frames from the air reach NS's guest through the BPF classifier
# (bpf_redirect_peer into its wlan0, no backlog pass), not the u32/mirred fallback.
check_peer() {
    s=$(station_if "$1") || { iw dev; fail "no station interface for $1"; }
    /usr/sbin/tc filter show dev "$s" ingress > /tmp/tc-$s.txt
    cat /tmp/tc-$s.txt
    grep -q 'bpf.*vwifi_peer.*direct-action' /tmp/tc-$s.txt && ! grep -q u32 /tmp/tc-$s.txt \
        || { grep -i 'classifier\|mirred' /tmp/vwifi-host.log; fail "$s ($1): no bpf_redirect_peer classifier at its ingress"; }
}
for g in g1 g2 g3; do check_peer $g; done
log "receive path: a bpf_redirect_peer classifier at each station interface's ingress"
$H status | grep -q 'kernel data path (veth + tc): vw' || { $H status; fail "status does not show the kernel data path"; }
# A guest that sends from another address than its station's is not carried (nor reaches the
# host): g2 with a foreign MAC cannot ping; with its own again it can.
g2mac=$(ip netns exec g2 cat /sys/class/net/wlan0/address)
ip netns exec g2 /usr/sbin/ip link set wlan0 address 02:00:00:00:99:99 || fail "g2: set a foreign MAC"
ip netns exec g2 ping -c 2 -i 0.2 -W 1 10.99.2.1 > /dev/null && fail "g2 reached its AP from a foreign MAC"
ip netns exec g2 /usr/sbin/ip link set wlan0 address "$g2mac" || fail "g2: restore its MAC"
ip netns exec g2 ping -c 3 -i 0.2 -W 2 10.99.2.1 > /dev/null || fail "ping lab-b from g2 with its own MAC again"
log "spoofing: frames from a foreign source dropped at the veth"
[ "$(ip netns exec g1 cat /sys/class/net/wlan0/operstate)" = up ] || fail "g1's wlan0 is not up while associated"
log "STEP 5 ok: data both ways, WPA2 and open"

# 6: the AP disappears
ip netns exec g1 $G --link wlan0 events --count 1 > /tmp/ev1.txt 2>&1 &
e1=$!
ip netns exec g2 $G --link wlan0 events --count 1 > /tmp/ev2.txt 2>&1 &
e2=$!
ip netns exec g3 $G --link wlan0 events --count 1 > /tmp/ev3.txt 2>&1 &
e3=$!
sleep 4   # both listeners up (a debug binary starts slowly under TCG)
kill "$(cat /run/hostapd-wlan0.pid)"
wait_for 30 "grep -qi disconnect /tmp/ev1.txt && grep -qi disconnect /tmp/ev2.txt && grep -qi disconnect /tmp/ev3.txt" \
    || { cat /tmp/ev1.txt /tmp/ev2.txt /tmp/ev3.txt; kill $e1 $e2 $e3 2>/dev/null; fail "no disconnection event"; }
wait $e1 $e2 $e3
cat /tmp/ev1.txt /tmp/ev2.txt /tmp/ev3.txt
ip netns exec g1 $G --link wlan0 status
wait_for 5 "[ \"\$(ip netns exec g1 cat /sys/class/net/wlan0/operstate)\" = dormant ]" || fail "g1's wlan0 is not dormant after the AP left"
log "STEP 6 ok: the AP's disappearance reached all three guests; their links dormant again"

# A guest that goes takes its interface with it.
g3if=$(grep -l "$(ip netns exec g3 cat /sys/class/net/wlan0/address)" /sys/class/net/vw*/address | cut -d/ -f5)
$H detach --netns g3 || fail "detach g3"
wait_for 10 "[ ! -e /sys/class/net/$g3if ]" || fail "$g3if stayed after g3 was detached"
wait_for 10 "! ip netns exec g3 /usr/sbin/ip link show wlan0 > /dev/null 2>&1" || fail "g3's wlan0 (veth) stayed after detach"
log "detached g3: $g3if and its veth pair deleted"
# A VM's vhost-user port on this radio: its station gets an interface on the card too (its data
# goes through the daemon; no VM runs here).
$H vhost-user --socket /run/vm1.sock --name vm1 > /tmp/vu.txt 2>&1 || { cat /tmp/vu.txt; fail "vhost-user on the nl80211 radio"; }
cat /tmp/vu.txt
vmac=$(sed -n 's/.*station \([0-9a-f:]*\) .*/\1/p' /tmp/vu.txt)
[ -n "$vmac" ] || fail "vhost-user printed no station address"
wait_for 10 "iw dev | grep -q 'addr $vmac'" || { iw dev; fail "no station interface for the VM's station $vmac"; }
log "vhost-user: the VM's station $vmac has its interface on the card"

# 7: SIGKILL and restart
kill -9 "$(cat /run/vwifi-host.pid)"
wait_for 10 "! ls /sys/class/net | grep -q '^vw'" || { iw dev; fail "stale interfaces after SIGKILL"; }
# The AP back, for the restored guests to rejoin.
hostapd -B -P /run/hostapd-wlan0.pid -f /tmp/hostapd-wlan0-2.log /tmp/hostapd-multi.conf || fail "hostapd again"
wait_for 10 "grep -q AP-ENABLED /tmp/hostapd-wlan0-2.log" || fail "AP-ENABLED again"
ip addr replace 10.99.1.1/24 dev wlan0
iw phy phy1 interface add vw7 type managed || fail "planting a stale interface"
rm -f /run/vwifi/host.sock /run/vwifi/host.sock.ctl
start_daemon || fail "restart"
grep -q 'stale station interface of an earlier run deleted' /tmp/vwifi-host.log || fail "the restart did not report the cleanup"
[ -e /sys/class/net/vw7 ] && fail "the stale vw7 survived the restart"
# The daemon's state brings back the namespaces still attached (g1, g2; g3 was detached): their
# stations get fresh interfaces, and those are the only ones on the card.
macs="$(ip netns exec g1 cat /sys/class/net/wlan0/address) $(ip netns exec g2 cat /sys/class/net/wlan0/address)"
wait_for 20 "[ \$(ls /sys/class/net | grep -c '^vw') -eq 2 ]" || { iw dev; fail "g1 and g2 were not attached again"; }
for i in $(ls /sys/class/net | grep '^vw'); do
    m=$(cat /sys/class/net/$i/address)
    case " $macs " in *" $m "*) ;; *) iw dev; fail "$i ($m) is not a restored guest's station: stale";; esac
done
$H status | grep -E 'radio|stale|station interfaces'
# The restored g1 rejoins lab-a on its own; its wlan0 kept its address across the restart and
# its data path is joined to the new station interface.
wait_for 30 "ip netns exec g1 $G --link wlan0 status 2>/dev/null | grep -q 'state: *connected'" \
    || { ip netns exec g1 $G --link wlan0 status; fail "g1 did not rejoin after the restart"; }
# The status names the channel with its frequency (a 6 GHz channel 1 is another channel).
ip netns exec g1 $G --link wlan0 status | grep -q 'channel: *1 (2412 MHz)' \
    || { ip netns exec g1 $G --link wlan0 status; fail "g1's status lacks the channel's frequency"; }
ip netns exec g1 ping -c 3 -i 0.2 -W 2 10.99.1.1 || fail "ping lab-a from g1 after the restart"
check_peer g1
log "STEP 7 ok: no stale interface after SIGKILL and restart (g1, g2 restored from the state; g1 rejoined and pings)"
# SIGTERM with a guest attached: the daemon ends and its interface goes.
ip netns add g4 && $H attach --netns g4 || fail "attach g4"
wait_for 10 "ls /sys/class/net | grep -q '^vw'" || fail "g4's interface"
hp=$(cat /run/vwifi-host.pid)
kill "$hp"
wait_for 10 "! grep -qE 'State:.*[RSD]' /proc/$hp/status 2>/dev/null" || fail "vwifi-host did not stop on SIGTERM"
wait_for 5 "! ls /sys/class/net | grep -q '^vw'" || fail "an interface stayed after SIGTERM"
log "SIGTERM: the daemon stopped and took its interfaces"
# From the socket data path to the kernel one: a namespace attached with data_path = "socket"
# has a persistent TAP; the next daemon on the kernel path replaces it with its veth.
sed 's/^kind = "nl80211"$/kind = "nl80211"\ndata_path = "socket"/' /tmp/host.toml > /tmp/host-socket.toml
grep -q 'data_path = "socket"' /tmp/host-socket.toml || fail "socket config"
$H run --config /tmp/host-socket.toml >> /tmp/vwifi-host.log 2>&1 &
echo $! > /run/vwifi-host.pid
wait_for 10 "[ -S /run/vwifi/host.sock.ctl ]" || fail "vwifi-host run (socket path)"
ip netns add g5 && $H attach --netns g5 || fail "attach g5 (socket path)"
ip netns exec g5 /usr/sbin/ip -d link show wlan0 | grep -q tun || fail "g5's wlan0 is not a TAP on the socket path"
hp=$(cat /run/vwifi-host.pid)
kill "$hp"
wait_for 10 "! grep -qE 'State:.*[RSD]' /proc/$hp/status 2>/dev/null" || fail "vwifi-host (socket path) did not stop"
rm -f /run/vwifi/host.sock /run/vwifi/host.sock.ctl
start_daemon || fail "restart on the kernel path"
wait_for 20 "ip netns exec g5 /usr/sbin/ip -d link show wlan0 2>/dev/null | grep -q veth" \
    || { ip netns exec g5 /usr/sbin/ip -d link show; fail "g5's TAP was not replaced by a veth"; }
log "socket -> kernel path: g5's TAP replaced by a veth at the restart"
kill "$(cat /run/vwifi-host.pid)"
stop_all
log "nl80211-radio: OK"
