# Cards as they are (issue 12 item 3): vwifi-host's nl80211 radio with [radio]
# max_interfaces = 1 on a mac80211_hwsim card. Three namespace guests join the same WPA2
# network: ONE station interface (the first guest's), one association; the other two share it
# behind vwifi's MAC-translating bridge, each with its own MAC and address. Each pings the AP
# side; a capture inside each guest (tools/guest-capture) shows no unicast of another guest.
# A fourth guest asking for another network is told "radio busy: the card takes 1 station
# interface"; once the owner is detached, that guest gets the free interface for lab-b.
# phy0 (wlan0): hostapd, lab-a and lab-b (WPA2); phy1 (wlan1): vwifi-host.
. /usr/lib/vwifi-harness/lib.sh
H=/opt/vwifi-host G=/opt/vwifi-guest CAP=/opt/guest-capture
fail() {
    log "FAIL: $*"
    echo "----- vwifi-host"; grep -v TRACE /tmp/vwifi-host.log | cut -c1-300 | tail -n 80
    exit 1
}
export RUST_LOG=${RUST_LOG:-info,vwifi_host=debug}
[ -x $H ] && [ -x $G ] && [ -x $CAP ] || fail "binaries not copied in (run-vm.sh -f)"
modprobe tun || fail "tun"
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

bss=wlan0_1
ctrl_interface=/run/hostapd
ssid=lab-b
wpa=2
wpa_key_mgmt=WPA-PSK
rsn_pairwise=CCMP
wpa_passphrase=passphrase-of-b
EOT
hostapd -B -P /run/hostapd.pid -f /tmp/hostapd.log /tmp/hostapd.conf || fail "hostapd"
wait_for 10 "grep -q AP-ENABLED /tmp/hostapd.log" || fail "AP-ENABLED"
ip addr add 10.99.1.1/24 dev wlan0
wait_for 5 "[ -e /sys/class/net/wlan0_1 ]" || fail "lab-b's interface"
ip addr add 10.99.2.1/24 dev wlan0_1
mkdir -p /run/vwifi
printf '[host]\nsocket = "/run/vwifi/host.sock"\n[radio]\nkind = "nl80211"\nifname = "wlan1"\nmax_interfaces = 1\n' > /tmp/host.toml
$H run --config /tmp/host.toml >> /tmp/vwifi-host.log 2>&1 &
wait_for 10 "[ -S /run/vwifi/host.sock.ctl ]" || fail "vwifi-host run"
for g in g1 g2 g3 g4; do
    ip netns add $g && ip netns exec $g ip link set lo up
    $H attach --netns $g || fail "attach $g"
done
for try in 1 2 3; do
    ip netns exec g1 $G --link wlan0 scan > /tmp/scan.txt 2>&1
    grep -q lab-a /tmp/scan.txt && break
done
echo passphrase-of-a | ip netns exec g1 $G --link wlan0 connect lab-a --passphrase-stdin > /tmp/c1.txt 2>&1 \
    || { cat /tmp/c1.txt; fail "g1 -> lab-a"; }
log "STEP 1 ok: g1 joined lab-a on the card's one station interface"
ip netns exec g2 $G --link wlan0 scan | grep -q lab-a || fail "g2 (no interface of its own) does not see lab-a in the scan"
for g in g2 g3; do
    echo passphrase-of-a | ip netns exec $g $G --link wlan0 connect lab-a --passphrase-stdin > /tmp/c-$g.txt 2>&1 \
        || { cat /tmp/c-$g.txt; fail "$g -> lab-a (shared)"; }
done
echo not-the-passphrase | ip netns exec g4 $G --link wlan0 connect lab-a --passphrase-stdin > /tmp/c-g4w.txt 2>&1
grep -qi 'wrong passphrase' /tmp/c-g4w.txt || { cat /tmp/c-g4w.txt; fail "g4 shared lab-a with a wrong passphrase"; }
n=$(ls /sys/class/net | grep -c '^vw')
[ "$n" = 1 ] || { iw dev; fail "$n station interfaces, expected 1"; }
[ "$(grep -c 'AP-STA-CONNECTED' /tmp/hostapd.log)" = 1 ] || fail "hostapd saw more than one association"
$H status | grep -E 'station interfaces|stations'
log "STEP 2 ok: g2 and g3 share g1's interface (one interface, one association); a wrong passphrase cannot share"
i=2
for g in g1 g2 g3; do
    ip netns exec $g ip addr add 10.99.1.$i/24 dev wlan0
    ip netns exec $g ip link set wlan0 up
    i=$((i + 1))
done
caps=""
for g in g1 g2 g3; do
    ip netns exec $g $CAP wlan0 12 > /tmp/cap-$g.txt &
    caps="$caps $!"
done
sleep 1
for g in g1 g2 g3; do
    ip netns exec $g ping -c 5 -i 0.3 -W 2 10.99.1.1 > /tmp/ping-$g.txt 2>&1 &
done
wait_for 20 "[ \$(grep -l ' 0% packet loss' /tmp/ping-g*.txt 2>/dev/null | wc -l) -eq 3 ]" \
    || { cat /tmp/ping-g*.txt; fail "not every guest pinged the AP side without loss"; }
cat /tmp/ping-g*.txt | grep -E 'transmitted|round-trip'
wait $caps
i=2
for g in g1 g2 g3; do
    mac=$(ip netns exec $g cat /sys/class/net/wlan0/address)
    lines=$(wc -l < /tmp/cap-$g.txt)
    ours=$(grep -c " 10.99.1.$i\$" /tmp/cap-$g.txt)
    [ "$ours" -ge 5 ] || { cat /tmp/cap-$g.txt; fail "$g captured only $ours frames for its address"; }
    for j in 2 3 4; do
        [ $j = $i ] && continue
        if awk -v ip="10.99.1.$j" '$1 !~ /^(ff:ff:ff:ff:ff:ff|01:00:5e|33:33)/ && $NF == ip' /tmp/cap-$g.txt | grep -q .; then
            cat /tmp/cap-$g.txt; fail "$g saw unicast for 10.99.1.$j"
        fi
    done
    if awk -v m="$mac" '$1 !~ /^(ff:ff:ff:ff:ff:ff|01:00:5e|33:33)/ && $1 != m' /tmp/cap-$g.txt | grep -q .; then
        cat /tmp/cap-$g.txt; fail "$g saw unicast to another MAC"
    fi
    log "capture in $g: $lines frames, $ours for its own address, none of another guest's unicast"
    i=$((i + 1))
done
log "STEP 3 ok: each guest pinged the AP side with its own address; none saw another's unicast"
echo passphrase-of-b | ip netns exec g4 $G --link wlan0 connect lab-b --passphrase-stdin > /tmp/c-g4.txt 2>&1
rc=$?
cat /tmp/c-g4.txt
[ $rc != 0 ] && grep -q 'radio busy: the card takes 1 station interface' /tmp/c-g4.txt \
    || fail "g4 asking for lab-b was not told 'radio busy' (rc $rc)"
log "STEP 4 ok: a fourth guest asking for another network told \"radio busy\""
ip netns exec g1 $G --link wlan0 disconnect > /dev/null 2>&1
wait_for 10 "ip netns exec g2 $G --link wlan0 status 2>/dev/null | grep -q 'state: *disconnected'" \
    || { ip netns exec g2 $G --link wlan0 status; fail "g2 still connected after the interface's owner left"; }
log "STEP 5 ok: the owner leaving takes the sharing guests off the network"
# The owner goes: its interface is deleted, and a guest asking for another network gets the
# free interface of its own.
$H detach --netns g1 || fail "detach g1"
wait_for 10 "! ls /sys/class/net | grep -q '^vw'" || fail "g1's interface stayed"
echo passphrase-of-b | ip netns exec g4 $G --link wlan0 connect lab-b --passphrase-stdin > /tmp/c-g4b.txt 2>&1 \
    || { cat /tmp/c-g4b.txt; fail "g4 did not get the free interface for lab-b"; }
[ "$(ls /sys/class/net | grep -c '^vw')" = 1 ] || { iw dev; fail "not one station interface for g4"; }
ip netns exec g4 ip addr add 10.99.2.2/24 dev wlan0
ip netns exec g4 ip link set wlan0 up
ip netns exec g4 ping -c 3 -i 0.3 -W 2 10.99.2.1 > /dev/null || fail "g4 could not ping lab-b's side"
log "STEP 6 ok: the owner gone, a guest without an interface gets the free one for another network"
kill "$(pidof vwifi-host)" 2>/dev/null
sleep 0.5
stop_all
log "nl80211-share: OK"
