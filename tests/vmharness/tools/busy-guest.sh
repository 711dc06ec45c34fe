# A VM beside the tests (issue 14 item 6: the test command must pass with two other VMs
# running): for BUSY_SECONDS (default 1800) the guest alternates a second of busy loop with a
# second of rest, i.e. half a host core per VM under TCG. Run it as a guest script:
#   tests/vmharness/run-vm.sh -t 2000 -e BUSY_SECONDS=1800 tests/vmharness/tools/busy-guest.sh &
. /usr/lib/vwifi-harness/lib.sh
end=$(( $(date +%s) + ${BUSY_SECONDS:-1800} ))
rounds=0
while [ "$(date +%s)" -lt "$end" ]; do
    timeout 1 sh -c 'while :; do :; done'
    sleep 1
    rounds=$((rounds + 1))
done
log "busy-guest: $rounds rounds of 1 s busy, 1 s idle"
