#!/bin/bash
# Installs what the full test suite needs on Debian, as root (re-runs itself with sudo when
# started by another user): the VM harness (qemu, hostapd, wpa_supplicant, the kernel; see
# tests/vmharness/setup.sh), and the peers the root tests use: wpa_passphrase, tshark, iperf3,
# ping, gcc for the harness tools. Idempotent: packages already installed are not fetched again.
# Env: VWIFI_HARNESS_DIR (harness dir, default /tmp/vwifi-harness), SKIP_VM=1 (no harness).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "install-deps: run as root (no sudo here)" >&2; exit 1; }
    exec sudo --preserve-env=VWIFI_HARNESS_DIR,SKIP_VM "$0" "$@"
fi
export DEBIAN_FRONTEND=noninteractive
APT="apt-get -o DPkg::Lock::Timeout=600 -q"
missing=""
for p in tshark wpasupplicant gcc libc6-dev python3 ca-certificates iproute2 iputils-ping iperf3; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    # tshark asks whether non-root users may capture: answer no, non-interactively.
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
    $APT update -qq
    echo "install-deps: installing$missing"
    # shellcheck disable=SC2086
    $APT install -y -qq --no-install-recommends $missing > /tmp/install-deps-apt.log 2>&1 \
        || { tail -n 30 /tmp/install-deps-apt.log >&2; exit 1; }
else
    echo "install-deps: test peers already installed"
fi
command -v wpa_passphrase tshark gcc python3 iperf3 ping > /dev/null
# Container engines for the CNI, podman and docker tests (issue 17): podman with its CNI
# backend and Debian's CNI plugins (host-local), busybox-static for a local image (no image
# registry needed), docker.io (its daemon is started by the tests, not by apt).
missing=""
for p in podman containernetworking-plugins busybox-static docker.io util-linux systemd; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    $APT update -qq
    echo "install-deps: installing$missing"
    # shellcheck disable=SC2086
    $APT install -y -qq --no-install-recommends $missing > /tmp/install-deps-engines.log 2>&1 \
        || { tail -n 30 /tmp/install-deps-engines.log >&2; exit 1; }
fi
if [ "${SKIP_VM:-0}" != 1 ]; then
    # With vhost-device-vsock (built from crates.io, ~60 s once) for the vsock checks.
    VWIFI_WITH_VSOCK=1 tests/vmharness/setup.sh ${VWIFI_HARNESS_DIR:+"$VWIFI_HARNESS_DIR"}
fi
