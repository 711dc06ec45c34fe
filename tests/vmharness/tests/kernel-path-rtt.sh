# The kernel data path's filters on the harness kernel (Debian 6.1), without Wi-Fi: runs
# vwifi-netlink's root tests inside the VM (the receive classifier takes data into the peer
# namespace and drops EAPOL and control; refused without CAP_BPF; pings across every receive and
# transmit way, RTTs printed, ROUNDS times). Needs the test binary:
#   cargo test -p vwifi-netlink --no-run   (prints target/debug/deps/vwifi_netlink-HASH)
#   tests/vmharness/run-vm.sh -f target/debug/deps/vwifi_netlink-HASH:/opt/vwifi-netlink-tests \
#       tests/vmharness/tests/kernel-path-rtt.sh
. /usr/lib/vwifi-harness/lib.sh
T=/opt/vwifi-netlink-tests
[ -x $T ] || fail "no $T (see the head of this script)"
modprobe -a veth sch_ingress cls_u32 act_mirred act_gact cls_bpf || fail "tc modules"
mkdir -p /var/run/netns
cd /tmp
$T --include-ignored --nocapture --test-threads 1 root_ > /tmp/root.txt 2>&1 || { cat /tmp/root.txt; fail "root tests"; }
grep -E "^test |round|test result" /tmp/root.txt
i=1
while [ $i -lt "${ROUNDS:-3}" ]; do
    i=$((i + 1))
    $T --include-ignored --nocapture root_pings 2>&1 | grep -E "round" || fail "pings"
done
log "kernel-path-rtt: OK"
