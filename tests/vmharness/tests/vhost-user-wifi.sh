# A VM whose NIC is vwifi-host's vhost-user-net device (run-vm.sh -x plus the
# -q arguments in tests/vmharness/README.md). Driven by the host-side root
# test vwifi-host/tests/vhost_user.rs, which starts vwifi-host and passes:
#   STATION_MAC  the MAC vwifi-host gave the VM's station (eth0 must have it)
#   SSID, PASSPHRASE  the network to join (no PASSPHRASE: an open one; with BAD_PASSPHRASE: a wrong one,
#                which must fail clearly and leave the station disconnected)
#   GUEST_IP, PEER_IP  addresses on the network: ping PEER_IP (a namespace
#                guest on the same network, on the host) after connecting; the first
#                reply may take PING_WAIT seconds (default 10)
#   IPERF_SECS   optional: iperf3 client (copied in at /opt/iperf3) to PEER_IP for
#                that many seconds, printed as VWIFI-IPERF-VHOST: lines
#   TAP_MAC, TAP_IP, TAP_PEER_IP  optional, with IPERF_SECS: the same VM's second NIC
#                (a plain -netdev tap backend, MAC TAP_MAC) gets TAP_IP and runs iperf3
#                to TAP_PEER_IP on the host too (VWIFI-IPERF-TAP: lines)
#   IPERF_REVERSE  optional, with IPERF_SECS: each iperf3 also runs reversed (-R: the host
#                sends, the VM receives), printed as VWIFI-IPERF-VHOST-R: and VWIFI-IPERF-TAP-R:
#   RESUME_IP    optional: after the first pings, say VWIFI-WAITING-FOR-RESUME and ping RESUME_IP
#                until it answers (RESUME_TRIES tries, default 200, each 0.5-1.5 s): meanwhile the
#                host stops the VM (SIGSTOP to QEMU) and resumes it, and only then gives a namespace
#                guest that address; then ping PEER_IP again (VWIFI-RESUMED-PING-OK)
# The vwifi-guest binary is copied in with `-f .../vwifi-guest`.
. /usr/lib/vwifi-harness/lib.sh
modprobe virtio_pci 2>/dev/null
modprobe virtio_net || fail "virtio_net"
wait_for 10 "[ -e /sys/class/net/eth0 ]" || fail "no eth0"
mac=$(cat /sys/class/net/eth0/address)
log "eth0 $mac (station $STATION_MAC)"
[ "$mac" = "$STATION_MAC" ] || fail "eth0 has $mac, not the station's MAC $STATION_MAC"
ip link set eth0 up || fail "eth0 up"
VG=/opt/vwifi-guest
[ -n "${SSID:-}" ] || { log "vhost-user-wifi: eth0 OK"; exit 0; }

$VG --link eth0 status || fail "status in-band"
# The link state follows the association (QEMU keeps the carrier up): dormant until connected.
$VG --link eth0 events --follow-link > /tmp/events.log 2>&1 &
wait_for 10 "grep -qx dormant /sys/class/net/eth0/operstate" || fail "eth0 is not dormant before connecting: $(cat /sys/class/net/eth0/operstate)"
log "VWIFI-LINK: $(cat /sys/class/net/eth0/operstate) before connecting"
$VG --link eth0 scan > /tmp/scan.txt 2>&1 || { cat /tmp/scan.txt; fail "scan"; }
cat /tmp/scan.txt
grep -q "$SSID" /tmp/scan.txt || fail "scan does not show $SSID"

if [ -n "${BAD_PASSPHRASE:-}" ]; then
    if printf '%s\n' "$BAD_PASSPHRASE" | $VG --link eth0 connect "$SSID" --passphrase-stdin --timeout 20 > /tmp/connect.txt 2>&1; then
        cat /tmp/connect.txt; fail "connect with a wrong passphrase succeeded"
    fi
    cat /tmp/connect.txt
    log "VWIFI-CONNECT-REFUSED: $(tr '\n' ' ' < /tmp/connect.txt)"
    $VG --link eth0 status > /tmp/status.txt 2>&1; cat /tmp/status.txt
    grep -Eq "^state: +connected" /tmp/status.txt && fail "connected after a wrong passphrase"
    grep -qx dormant /sys/class/net/eth0/operstate || fail "eth0 not dormant after a refused connect"
    log "VWIFI-LINK: $(cat /sys/class/net/eth0/operstate) after the refusal"
    log "vhost-user-wifi: wrong passphrase refused"
    exit 0
fi

if [ -n "${PASSPHRASE:-}" ]; then
    printf '%s\n' "$PASSPHRASE" | $VG --link eth0 connect "$SSID" --passphrase-stdin --timeout 30 || fail "connect to $SSID"
else
    $VG --link eth0 connect "$SSID" --timeout 30 || fail "connect to the open $SSID"
fi
$VG --link eth0 status || fail "status after connect"
cat /sys/class/net/eth0/carrier 2>/dev/null | sed 's/^/carrier: /'
wait_for 10 "grep -qx up /sys/class/net/eth0/operstate" || { cat /tmp/events.log; fail "eth0 is not up once connected: $(cat /sys/class/net/eth0/operstate)"; }
log "VWIFI-LINK: $(cat /sys/class/net/eth0/operstate) once connected"
ip addr add "$GUEST_IP/24" dev eth0 || fail "address"
# With stations on several channels the radio time-shares them: the first ARP may wait for
# the peer's channel slot (PING_WAIT seconds at most).
ping -c 1 -w "${PING_WAIT:-10}" "$PEER_IP" > /dev/null || fail "no first reply from $PEER_IP"
ping -c 5 -i 0.2 -W 3 "$PEER_IP" || fail "ping the namespace guest $PEER_IP"
log "VWIFI-PING-OK"
if [ -n "${RESUME_IP:-}" ]; then
    log "VWIFI-WAITING-FOR-RESUME $RESUME_IP"
    tries=0
    until ping -c 1 -W 1 "$RESUME_IP" > /dev/null 2>&1; do
        tries=$((tries + 1))
        [ $tries -lt "${RESUME_TRIES:-200}" ] || fail "$RESUME_IP never answered"
        sleep 0.5
    done
    log "VWIFI-RESUME-IP-ANSWERED after $tries tries"
    ping -c 5 -i 0.2 -W 3 "$PEER_IP" || fail "ping $PEER_IP after the stall"
    log "VWIFI-RESUMED-PING-OK"
fi
# One iperf3 client run, printed as TAG lines: a run that hangs (the emulator has stalled a
# client once in many runs, its console silent until run-vm's limit) is stopped after
# IPERF_SECS + 40 s and tried once more, saying so; a second failure fails the check.
iperf_run() {
    tag=$1 what=$2 out=$3
    shift 3
    for attempt in 1 2; do
        if timeout $((IPERF_SECS + 40)) /opt/iperf3 --connect-timeout 10000 \
            -t "$IPERF_SECS" -f m "$@" > "$out" 2>&1; then
            grep -E "sender|receiver" "$out" | sed "s/^/$tag /"
            return 0
        fi
        cat "$out"
        [ $attempt = 2 ] && fail "iperf3 $what failed twice"
        log "VWIFI-IPERF-RETRY: iperf3 $what failed or hung (attempt $attempt); once more"
        sleep 2
    done
}
if [ -n "${IPERF_SECS:-}" ]; then
    iperf_run VWIFI-IPERF-VHOST: "over vwifi" /tmp/iperf.txt -c "$PEER_IP"
    if [ -n "${IPERF_REVERSE:-}" ]; then
        iperf_run VWIFI-IPERF-VHOST-R: "-R over vwifi" /tmp/iperf-r.txt -c "$PEER_IP" -R
    fi
    if [ -n "${TAP_MAC:-}" ]; then
        tap=$(for d in /sys/class/net/*; do [ "$(cat $d/address)" = "$TAP_MAC" ] && basename $d; done)
        [ -n "$tap" ] || fail "no NIC with $TAP_MAC"
        ip link set "$tap" up && ip addr add "$TAP_IP/24" dev "$tap" || fail "$tap"
        iperf_run VWIFI-IPERF-TAP: "over the TAP" /tmp/iperf-tap.txt -c "$TAP_PEER_IP"
        if [ -n "${IPERF_REVERSE:-}" ]; then
            iperf_run VWIFI-IPERF-TAP-R: "-R over the TAP" /tmp/iperf-tap-r.txt -c "$TAP_PEER_IP" -R
        fi
    fi
fi
log "vhost-user-wifi: OK"
