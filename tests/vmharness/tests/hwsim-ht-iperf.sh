# 802.11n on hwsim with vwifi as the medium, beside the kernel's own medium, in one VM:
# hostapd with ieee80211n=1 (HT20, short GI) on wlan0 and a native wpa_supplicant station on
# wlan1 (netns sta), iperf3 TCP from the station to the AP; first through the kernel's direct
# delivery, then again with vwifi-host registered as the medium (its frames go at the HT MCS
# the kernel's minstrel_ht picks, with vwifi's airtime and loss). Then a vwifi guest (netns g1)
# joins the same AP, reports an 802.11n link, and sends it iperf3 TCP in A-MSDUs (mac80211
# receives them).
# Needs -f /usr/bin/iperf3:/opt/iperf3 and vwifi binaries at /opt/vwifi-host, /opt/vwifi-guest
# (release ones for figures worth quoting; selftest runs the debug ones and checks the rest).
# Prints "IPERF-HT: kernel medium N Mbit/s, vwifi medium N Mbit/s" and
# "IPERF-HT-GUEST: vwifi guest to the HT AP N Mbit/s, A-MSDUs sent (and MSDUs): N M".
. /usr/lib/vwifi-harness/lib.sh
H=/opt/vwifi-host G=/opt/vwifi-guest I=/opt/iperf3
SECS=${SECS:-5}
[ -x $I ] || fail "no $I (run-vm.sh -f /usr/bin/iperf3:/opt/iperf3)"
[ -x $H ] && [ -x $G ] || fail "vwifi binaries not copied in (run-vm.sh -f)"
HT="ieee80211n=1
ht_capab=[SHORT-GI-20]
wmm_enabled=1"

hwsim_load 3 || fail "mac80211_hwsim"
modprobe tun || fail "tun"

# rate: iperf3 TCP upload for SECS seconds from netns sta; prints Mbit/s (receiver side).
rate() {
    ip netns exec sta $I -c 10.99.2.1 -t "$SECS" -f m > /tmp/iperf-sta.txt 2>&1 || { cat /tmp/iperf-sta.txt; return 1; }
    cat /tmp/iperf-sta.txt >&2
    awk '/receiver/ { for (i = 1; i <= NF; i++) if ($(i+1) == "Mbits/sec") print $i }' /tmp/iperf-sta.txt
}

# run_pair: AP + native station + iperf3; prints the rate (the helpers' logs go to stderr);
# leaves nothing running.
run_pair() {
    ap_start wlan0 lab-n "correct horse" 1 "$HT" >&2 || return 1
    ip addr add 10.99.2.1/24 dev wlan0 2>/dev/null
    $I -s -D -B 10.99.2.1 --logfile /tmp/iperf3-server.log || return 1
    [ -e /run/netns/sta ] || iface_to_netns wlan1 sta >&2 || return 1
    sta_start wlan1 lab-n "correct horse" sta >&2 || return 1
    sta_wait_connected wlan1 40 sta >&2 || return 1
    ip netns exec sta ip addr add 10.99.2.2/24 dev wlan1 2>/dev/null
    ip netns exec sta ping -c 3 -i 0.3 -W 3 10.99.2.1 > /dev/null || return 1
    r=$(rate) || return 1
    ip netns exec sta iw dev wlan1 station dump | grep -E 'tx bitrate|rx bitrate' >&2
    kill "$(pidof iperf3)" 2>/dev/null
    stop_all
    sleep 1
    echo "$r"
}

kernel=$(run_pair) || fail "kernel medium run"
log "kernel medium: $kernel Mbit/s"

mkdir -p /run/vwifi
printf '[sim]\nseed = 1\n[hwsim]\n' > /tmp/host.toml
RUST_LOG=info $H run --config /tmp/host.toml > /tmp/vwifi-host.log 2>&1 &
wait_for 10 "grep -q 'registered as the medium' /tmp/vwifi-host.log" || fail "vwifi-host did not register"
vw=$(run_pair) || fail "vwifi medium run"
log "vwifi medium: $vw Mbit/s"
log "IPERF-HT: kernel medium $kernel Mbit/s, vwifi medium $vw Mbit/s"

# A vwifi guest joins the HT AP: its link is 802.11n.
ap_start wlan0 lab-n "correct horse" 1 "$HT" || fail "hostapd again"
ip netns add g1 && ip netns exec g1 ip link set lo up
$H attach --netns g1 || fail "attach --netns g1"
echo "correct horse" | ip netns exec g1 $G --link wlan0 connect lab-n --passphrase-stdin --timeout 40 \
    || fail "vwifi guest could not join the HT AP"
ip netns exec g1 $G --link wlan0 scan | tee /tmp/scan.txt
grep -q 'lab-n.* n 20 MHz' /tmp/scan.txt || fail "scan does not show an 802.11n network"
ip netns exec g1 $G --link wlan0 status | tee /tmp/status.txt
grep -q 'phy: *802.11n' /tmp/status.txt || fail "status does not show an 802.11n link"
# Its own bulk traffic to the AP: the frames its TAP reads together go in A-MSDUs (WPA2, one
# CCMP per A-MSDU; the HT AP takes them), which hostapd's mac80211 opens and splits.
ip addr add 10.99.2.1/24 dev wlan0 2>/dev/null
ip netns exec g1 ip addr add 10.99.2.3/24 dev wlan0
ip netns exec g1 ping -c 3 -i 0.5 -W 5 10.99.2.1 > /dev/null || fail "the vwifi guest cannot ping the HT AP"
$I -s -D -B 10.99.2.1 --logfile /tmp/iperf3-server2.log || fail "iperf3 server"
sleep 1
ip netns exec g1 $I -c 10.99.2.1 -t "$SECS" -f m > /tmp/iperf-g1.txt 2>&1 || { cat /tmp/iperf-g1.txt; fail "iperf3 from the vwifi guest"; }
g1rate=$(awk '/receiver/ { for (i = 1; i <= NF; i++) if ($(i+1) == "Mbits/sec") print $i }' /tmp/iperf-g1.txt)
$H status | tee /tmp/host-status.txt
amsdus=$(sed -n 's/^A-MSDUs: \([0-9]*\) sent (\([0-9]*\) MSDUs).*/\1 \2/p' /tmp/host-status.txt)
log "IPERF-HT-GUEST: vwifi guest to the HT AP $g1rate Mbit/s, A-MSDUs sent (and MSDUs): ${amsdus:-none}"
[ -n "$amsdus" ] && [ "${amsdus%% *}" -gt 0 ] || fail "the vwifi guest sent no A-MSDU to the HT AP"
stop_all
log "hwsim-ht-iperf: OK"
