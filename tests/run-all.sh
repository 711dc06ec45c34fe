#!/bin/bash
# Runs every test of the workspace, as root (re-runs itself with sudo when started by another
# user): installs what is missing (tests/install-deps.sh), then
#   1. cargo test --workspace -- --include-ignored  (unit, property, vector, simulation, CLI,
#      daemon, fuzz-corpus tests, and those marked as needing root, namespaces, wpa_passphrase,
#      tshark, iperf3 or the VM harness)
#   2. tests/vmharness/selftest.sh -j 2               (real hostapd / wpa_supplicant /
#      mac80211_hwsim checks in qemu)
# Env: VWIFI_HARNESS_DIR (default /tmp/vwifi-harness), SKIP_VM=1 skips step 2 and the harness
# install (the root tests that need the harness then fail, saying so).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "run-all: run as root (no sudo here)" >&2; exit 1; }
    exec sudo --preserve-env=VWIFI_HARNESS_DIR,SKIP_VM,PATH,CARGO_HOME,RUSTUP_HOME,CARGO_TARGET_DIR "$0" "$@"
fi
export VWIFI_HARNESS_DIR=${VWIFI_HARNESS_DIR:-/tmp/vwifi-harness}
tests/install-deps.sh
cargo test --workspace -- --include-ignored
if [ "${SKIP_VM:-0}" != 1 ]; then
    tests/vmharness/selftest.sh -d "$VWIFI_HARNESS_DIR" -j 2
fi
echo "run-all: every test passed"
