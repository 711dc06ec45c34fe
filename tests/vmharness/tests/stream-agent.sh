# A VM that reaches vwifi-host over a stream and runs the vwifi-guest agent: the stream path
# for VMMs without vhost-user (issue 6 item 4). With VSOCK_PORT unset, over a virtio-serial
# port (run-vm.sh -p vwifi=SOCK, where SOCK is the daemon's guest socket: QEMU connects the
# port's host end to it); with VSOCK_PORT=P, over AF_VSOCK to the host's port P (run-vm.sh -V,
# vhost-device-vsock mapping it to the daemon's socket). The agent creates its own TAP
# (vwifi0) with the station's MAC; the CLI talks to the agent. Driven by the host-side root
# tests in vwifi-host/tests/vhost_user.rs, which pass:
#   SSID, PASSPHRASE  the network to join
#   GUEST_IP, PEER_IP  addresses on the network: ping PEER_IP (a namespace guest on the
#                same network, on the host) after connecting
# The vwifi-guest binary is copied in with `-f .../vwifi-guest`.
. /usr/lib/vwifi-harness/lib.sh
VG=/opt/vwifi-guest
if [ -n "${VSOCK_PORT:-}" ]; then
    modprobe virtio_pci 2>/dev/null
    modprobe vmw_vsock_virtio_transport || fail "vsock modules"
    wait_for 5 "[ -e /dev/vsock ]" || fail "no /dev/vsock"
    how="--vsock host:$VSOCK_PORT"
else
    port=$(vport_dev vwifi) || fail "no virtio-serial port named vwifi"
    how="--serial $port"
fi
log "agent $how"
modprobe tun 2>/dev/null
$VG agent $how --tap vwifi0 > /tmp/agent.log 2>&1 &
wait_for 20 "[ -e /sys/class/net/vwifi0 ]" || fail "the agent made no TAP"
log "vwifi0 $(cat /sys/class/net/vwifi0/address)"
ip link set vwifi0 up || fail "vwifi0 up"
wait_for 10 "$VG status > /dev/null 2>&1" || fail "the CLI cannot reach the agent"
$VG scan > /tmp/scan.txt 2>&1 || { cat /tmp/scan.txt; fail "scan"; }
cat /tmp/scan.txt
grep -q "$SSID" /tmp/scan.txt || fail "scan does not show $SSID"
printf '%s\n' "$PASSPHRASE" | $VG connect "$SSID" --passphrase-stdin --timeout 30 || fail "connect to $SSID"
$VG status || fail "status after connect"
log "carrier: $(cat /sys/class/net/vwifi0/carrier 2>/dev/null)"
ip addr add "$GUEST_IP/24" dev vwifi0 || fail "address"
ping -c 1 -w "${PING_WAIT:-10}" "$PEER_IP" > /dev/null || fail "no first reply from $PEER_IP"
ping -c 5 -i 0.2 -W 3 "$PEER_IP" || fail "ping the namespace guest $PEER_IP"
log "VWIFI-PING-OK"
log "stream-agent: OK"
