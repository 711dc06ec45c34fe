# Throughput of a guest through vwifi-host's nl80211 radio beside a native
# wpa_supplicant station, same kind of radio, same AP, same VM, one after the other.
# phy0 (wlan0): hostapd, WPA2 network lab-a on channel 1, iperf3 server on 10.99.1.1.
# phy1 (wlan1): vwifi-host's nl80211 radio; guest = network namespace g1 (TAP wlan0).
# phy2 (wlan2): native wpa_supplicant in network namespace nat.
# Needs -f /usr/bin/iperf3:/opt/iperf3 (with its libraries) and release binaries.
# With -f /usr/bin/strace:/opt/strace the daemon runs under `strace -f -c` and its system calls
# are printed at the end ("STRACE", with the guest's frame counters in the status just before).
# With -f /usr/bin/perf:/opt/perf (Debian's linux-perf for the same kernel) the first native and
# vwifi runs are profiled (perf record -a, cpu-clock) and the top symbols printed ("PROFILE").
# PAIRS (default 3) alternations of SECS (default 5) seconds each and PINGS (default 10) pings;
# REVERSE=1: download (iperf3 -R, the AP side sends) instead of upload; DATA_PATH=socket: the guest's data through the daemon
# (`[radio] data_path`, default kernel), for comparison.
# Prints "IPERF: native N.. Mbit/s, vwifi N.. Mbit/s, ratio R", the ping RTTs ("RTT:") and the VM's
# CPU time per Mbit/s during each run ("CPU:", busy share of the vCPU / Mbit/s, from /proc/stat).
. /usr/lib/vwifi-harness/lib.sh
H=/opt/vwifi-host G=/opt/vwifi-guest I=/opt/iperf3
SECS=${SECS:-5}
PAIRS=${PAIRS:-3}
PINGS=${PINGS:-10}
[ -x $I ] || fail "no $I (run-vm.sh -f /usr/bin/iperf3:/opt/iperf3)"

# The kernel data path (veth + clsact filters) of namespace guests.
modprobe -a veth sch_ingress cls_u32 act_mirred act_gact || fail "tc modules"
# The receive classifier (bpf_redirect_peer); without it the daemon keeps mirred (an older
# harness base without cls_bpf, or a build before it).
modprobe cls_bpf || log "no cls_bpf: the receive direction falls back to mirred"
hwsim_load 3 || fail "mac80211_hwsim"
ap_start wlan0 lab-a passphrase-of-a 1 || fail "hostapd"
ip addr add 10.99.1.1/24 dev wlan0
$I -s -D -B 10.99.1.1 --logfile /tmp/iperf3-server.log || fail "iperf3 server"

# The native station.
iface_to_netns wlan2 nat || fail "netns nat"
sta_start wlan2 lab-a passphrase-of-a nat || fail "wpa_supplicant"
sta_wait_connected wlan2 30 nat || fail "native association"
ip netns exec nat ip addr add 10.99.1.3/24 dev wlan2
ip netns exec nat ping -c 2 -W 2 10.99.1.1 > /dev/null || fail "native ping"

# The vwifi guest.
cat > /tmp/host.toml <<'EOF'
[host]
socket = "/run/vwifi/host.sock"
log = "warn"
[radio]
kind = "nl80211"
ifname = "wlan1"
EOF
echo "data_path = \"${DATA_PATH:-kernel}\"" >> /tmp/host.toml
if [ -x /opt/strace ]; then
    /opt/strace -f -c -o /tmp/strace-run.txt $H run --config /tmp/host.toml > /tmp/vwifi-host.log 2>&1 &
else
    $H run --config /tmp/host.toml > /tmp/vwifi-host.log 2>&1 &
fi
hp=$!
wait_for 10 "[ -S /run/vwifi/host.sock.ctl ]" || fail "vwifi-host run"
ip netns add g1 && ip netns exec g1 ip link set lo up
$H attach --netns g1 || fail "attach"
echo passphrase-of-a | ip netns exec g1 $G --link wlan0 connect lab-a --passphrase-stdin || fail "guest connect"
ip netns exec g1 ip addr add 10.99.1.2/24 dev wlan0
ip netns exec g1 ip link set wlan0 up
ip netns exec g1 ping -c 2 -W 2 10.99.1.1 > /dev/null || fail "guest ping"
# Which way the air's frames reach the guest: the bpf_redirect_peer classifier or mirred.
for s in $(ls /sys/class/net | grep '^vw'); do
    if /usr/sbin/tc filter show dev "$s" ingress | grep -q 'bpf.*vwifi_peer'; then
        log "RECEIVE: $s bpf_redirect_peer"
    else
        log "RECEIVE: $s mirred"
    fi
done

# busy_total: the VM's busy and total CPU jiffies so far ("busy total").
busy_total() { awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t; exit }' /proc/stat; }
# rate NS: iperf3 TCP upload for SECS seconds from NS; prints Mbit/s (receiver side) and the
# VM's busy CPU share during the run.
rate() {
    if [ -x /opt/perf ] && [ ! -e "/tmp/perf-$1.data" ]; then
        /opt/perf record -a -e cpu-clock -F 1000 -o "/tmp/perf-$1.data" -- sleep "$SECS" > /dev/null 2>&1 &
        echo $! >> /tmp/perf.pids
    fi
    set -- "$1" $(busy_total)
    ip netns exec "$1" $I -c 10.99.1.1 ${REVERSE:+-R} -t "$SECS" -f m > "/tmp/iperf-$1.txt" 2>&1 || { cat "/tmp/iperf-$1.txt"; return 1; }
    set -- "$1" "$2" "$3" $(busy_total)
    cat "/tmp/iperf-$1.txt" >&2
    mbit=$(awk '/receiver/ { for (i = 1; i <= NF; i++) if ($(i+1) == "Mbits/sec") print $i }' "/tmp/iperf-$1.txt")
    echo "$mbit $(awk "BEGIN{printf \"%.3f\", ($4 - $2) / ($5 - $3)}")"
}
# rtt NS: the average and the smallest ping RTT (ms) of PINGS pings to the AP from NS.
rtt() { ip netns exec "$1" ping -c "$PINGS" -i 0.2 -W 2 10.99.1.1 | awk -F'= ' '/min\/avg/ { split($2, a, "/"); print a[2], a[1] }'; }
# Alternate, PAIRS times, so that the emulator's ups and downs hit both paths alike: ping, then
# iperf3, from the native station and from the guest. Sums: Mbit/s, busy CPU share, RTT (ms).
sn=0 sv=0 cn=0 cv=0 tn=0 tv=0 mn=0 mv=0 list_n="" list_v=""
i=0
while [ $i -lt "$PAIRS" ]; do
    i=$((i + 1))
    a=$(rtt nat); b=$(rtt g1)
    [ -n "$a" ] && [ -n "$b" ] || fail "no ping figures"
    set -- $a $b
    a=$1 an=$2 b=$3 bn=$4
    r=$(rate nat) || fail "iperf3 native"; set -- $r; n=$1 c1=$2
    if [ $i = "$PAIRS" ]; then
        ( sleep 3; top -b -n 1 | head -n 14 > /tmp/top-vwifi.txt ) &
        tp=$!
    fi
    r=$(rate g1) || fail "iperf3 through vwifi"; set -- $r; v=$1 c2=$2
    [ -n "$n" ] && [ -n "$v" ] || fail "no iperf3 figures"
    log "PAIR $i: native $n Mbit/s ($a ms), vwifi $v Mbit/s ($b ms)"
    list_n="$list_n $n" list_v="$list_v $v"
    set -- $(awk "BEGIN{print $sn + $n, $sv + $v, $cn + $c1, $cv + $c2, $tn + $a, $tv + $b, $mn + $an, $mv + $bn}")
    sn=$1 sv=$2 cn=$3 cv=$4 tn=$5 tv=$6 mn=$7 mv=$8
done
wait $tp
log "CPU during the last vwifi run:"; cat /tmp/top-vwifi.txt
log "IPERF: native$list_n Mbit/s, vwifi$list_v Mbit/s, ratio $(awk "BEGIN{printf \"%.2f\", $sv / $sn}")"
log "RTT: native $(awk "BEGIN{printf \"%.3f\", $tn / $PAIRS}") ms, vwifi $(awk "BEGIN{printf \"%.3f\", $tv / $PAIRS}") ms, ratio $(awk "BEGIN{printf \"%.2f\", $tv / $tn}")"
# The smallest RTT of each batch (the path's own cost, less of the emulator's scheduling).
log "RTT min: native $(awk "BEGIN{printf \"%.3f\", $mn / $PAIRS}") ms, vwifi $(awk "BEGIN{printf \"%.3f\", $mv / $PAIRS}") ms, ratio $(awk "BEGIN{printf \"%.2f\", $mv / $mn}")"
# CPU per Mbit/s: the busy share of the vCPU over the runs, per Mbit/s they carried.
log "CPU: busy share native $(awk "BEGIN{printf \"%.2f\", $cn / $PAIRS}"), vwifi $(awk "BEGIN{printf \"%.2f\", $cv / $PAIRS}"); per Mbit/s ratio vwifi/native $(awk "BEGIN{printf \"%.2f\", ($cv / $sv) / ($cn / $sn)}")"
if [ -x /opt/perf ]; then
    for p in $(cat /tmp/perf.pids); do wait "$p"; done
    for ns in nat g1; do
        log "PROFILE $ns (self, top 45):"
        /opt/perf report -i "/tmp/perf-$ns.data" --stdio --no-children --sort sym 2>/dev/null \
            | grep -v '^#' | grep '%' | head -n 45
    done
fi
$H status
if [ -x /opt/strace ]; then
    # The daemon ends, then strace writes its summary.
    kill "$(pidof vwifi-host)" 2>/dev/null
    wait_for 10 "[ -s /tmp/strace-run.txt ]" || log "no strace summary"
    log "STRACE (the daemon's whole run):"; head -n 30 /tmp/strace-run.txt
fi
kill $hp 2>/dev/null
stop_all
log "nl80211-iperf: OK"
