# Power save against REAL APs with two time-shared channels: two hostapd (WPA2, different
# passphrases) on two kernel hwsim radios, channel 1 (wlan0, lab1) and channel 6 (wlan1,
# lab6); vwifi-host is the medium of those radios and its one radio serves two guests
# (network namespaces g1, g2), one joined to each network. The Mux gives each channel a time
# share; before leaving a channel its station tells the AP it sleeps (null frame with the
# power-management bit), so hostapd (mac80211) buffers its frames until it is back. Both
# guests ping their AP, and the AP side pings both guests, every 0.2 s for PS_SECONDS (default
# 60): no ping may be lost.
# Evidence of the sharing and the buffering: the radio's channel changes (vwifi-host
# status); per AP radio (vwifi-host's summary at exit), the null frames with the
# power-management bit it received (a station going to sleep) and its beacons whose TIM
# announced frames buffered for a sleeping station (mac80211 held them back; required of the
# full-minute run), and the frames already on their way when the station went to sleep, which
# vwifi holds for it as AP hardware does (see vwifi-host/src/hwsim/radio.rs).
# Needs /opt/vwifi-host and /opt/vwifi-guest (run-vm.sh -f target/debug/vwifi-host -f ...).
. /usr/lib/vwifi-harness/lib.sh

SECS=${PS_SECONDS:-60}
dump() {
    for g in g1 g2; do ip netns exec $g /opt/vwifi-guest --link wlan0 status 2>&1 | grep -E 'state|network|rx|tx'; done
    /opt/vwifi-host status 2>&1 | tail -n 6
    kill "$(pidof vwifi-host)" 2>/dev/null; sleep 1
    grep -v -e TRACE -e transport /tmp/vwifi-host.log | cut -c12-300 | tail -n 40
    [ -n "${VWIFI_DUMP:-}" ] && grep TRACE /tmp/vwifi-host.log | grep -e "$VWIFI_DUMP" | cut -c12-230 | head -n 150
}

[ -x /opt/vwifi-host ] && [ -x /opt/vwifi-guest ] || fail "vwifi binaries not copied in (run-vm.sh -f)"
hwsim_load 2 || fail "mac80211_hwsim"
modprobe tun || fail "tun"
mount -t debugfs none /sys/kernel/debug 2>/dev/null
mkdir -p /run/vwifi
printf '[sim]\nseed = 1\n[hwsim]\n' > /tmp/host.toml
RUST_LOG=${VWIFI_LOG:-info,vwifi_host::hwsim=debug} /opt/vwifi-host run --config /tmp/host.toml > /tmp/vwifi-host.log 2>&1 &
wait_for 10 "grep -q 'registered as the medium' /tmp/vwifi-host.log" || fail "vwifi-host did not register"

ap_start wlan0 lab1 "passphrase one" 1 || fail "hostapd on channel 1"
ap_start wlan1 lab6 "passphrase six" 6 || fail "hostapd on channel 6"
ip addr add 10.99.1.1/24 dev wlan0
ip addr add 10.99.6.1/24 dev wlan1
for g in g1 g2; do
    ip netns add $g
    /opt/vwifi-host attach --netns $g || fail "attach --netns $g"
    ip netns exec $g ip link set lo up
done
# join GUEST SSID PASSPHRASE: connect, up to 3 attempts. A guest that scans while the radio
# already time-shares with another guest's home channel may miss its network in one scan
# (the scan visits each channel only in the scan's own slots): ask again, as a user would.
join() {
    for attempt in 1 2 3; do
        echo "$3" | ip netns exec $1 /opt/vwifi-guest --link wlan0 connect $2 --passphrase-stdin --timeout 40 && return 0
        log "$1: connect attempt $attempt to $2 failed"
    done
    return 1
}
join g1 lab1 "passphrase one" || { dump; fail "g1 could not join lab1 (channel 1)"; }
join g2 lab6 "passphrase six" || { dump; fail "g2 could not join lab6 (channel 6)"; }
grep -c EAPOL-4WAY-HS-COMPLETED /tmp/hostapd-wlan0.log /tmp/hostapd-wlan1.log
ip netns exec g1 ip addr add 10.99.1.2/24 dev wlan0
ip netns exec g2 ip addr add 10.99.6.2/24 dev wlan0
# Warm-up: addresses resolved on both sides.
ip netns exec g1 ping -c 3 -i 0.5 -W 5 10.99.1.1 > /dev/null
ip netns exec g2 ping -c 3 -i 0.5 -W 5 10.99.6.1 > /dev/null
before=$(/opt/vwifi-host status | sed -n 's/.* \([0-9]*\) channel changes.*/\1/p')

n=$((SECS * 5))
# Both ways: each guest pings its AP, and the AP side pings each guest. A guest's own ping is
# answered while it is there (it has just sent it), so few replies meet it asleep; the AP
# side's pings start whenever, so about half of them find the guest on the other channel and
# must wait in mac80211's power-save buffer (announced in the beacons' TIM) until it is back.
log "pinging both APs and both guests for $SECS s ($n pings each way)"
ip netns exec g1 ping -c $n -i 0.2 -W 5 10.99.1.1 > /tmp/ping-g1.out 2>&1 &
p1=$!
ip netns exec g2 ping -c $n -i 0.2 -W 5 10.99.6.1 > /tmp/ping-g2.out 2>&1 &
p2=$!
ping -c $n -i 0.2 -W 5 10.99.1.2 > /tmp/ping-ap1.out 2>&1 &
p3=$!
ping -c $n -i 0.2 -W 5 10.99.6.2 > /tmp/ping-ap6.out 2>&1 &
p4=$!
# The pings run; meanwhile, nothing to do but wait.
wait $p1; wait $p2; wait $p3; wait $p4
after=$(/opt/vwifi-host status | sed -n 's/.* \([0-9]*\) channel changes.*/\1/p')
for g in g1 g2 ap1 ap6; do echo "ping-$g: $(grep 'packet loss' /tmp/ping-$g.out)"; tail -n 1 /tmp/ping-$g.out; done
/opt/vwifi-host status
for g in g1 g2 ap1 ap6; do
    grep -q ' 0% packet loss' /tmp/ping-$g.out || { dump; fail "ping-$g lost pings while the channels were time-shared: $(grep 'packet loss' /tmp/ping-$g.out)"; }
done
[ $((after - before)) -ge $SECS ] || { dump; fail "the radio hardly changed channels ($((after - before)) times in $SECS s): no time-sharing"; }
kill "$(pidof vwifi-host)" 2>/dev/null
wait_for 5 "grep -q 'hwsim: stopped' /tmp/vwifi-host.log" || fail "vwifi-host did not stop"
grep -E 'hwsim radio' /tmp/vwifi-host.log | cut -c30-
for r in 00:00 01:00; do
    line=$(grep "hwsim radio radio=42:00:00:00:$r" /tmp/vwifi-host.log)
    sleeps=$(echo "$line" | sed -n 's/.*sleep_nulls_rx=\([0-9]*\).*/\1/p')
    tims=$(echo "$line" | sed -n 's/.*tim_buffered=\([0-9]*\).*/\1/p')
    held=$(echo "$line" | sed -n 's/.*held_for_sleeper=\([0-9]*\).*/\1/p')
    log "POWERSAVE: AP radio 42:00:00:00:$r: ${sleeps:-0} sleep announcements received, ${tims:-0} beacons announcing buffered frames, ${held:-0} frames in flight held for the sleeping station"
    [ "${sleeps:-0}" -gt 0 ] || fail "no station told the AP on radio $r that it sleeps"
    tim_total=$(( ${tim_total:-0} + ${tims:-0} ))
done
# mac80211 announces buffered frames in the next beacon only if they are still held then: a
# matter of timing, so it is required of the full-minute run only.
if [ "$SECS" -ge 60 ] && [ "$tim_total" -eq 0 ]; then
    fail "in $SECS s neither AP announced frames buffered for a sleeping station"
fi
log "POWERSAVE: $SECS s, $((after - before)) channel changes during the pings, no ping lost"
stop_all
log "hwsim-powersave: OK"
