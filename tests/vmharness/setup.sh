#!/bin/bash
# setup.sh [DIR] — prepare the real-Wi-Fi-stack test VM (idempotent).
#
# Installs Debian packages (qemu, busybox, hostapd, wpa_supplicant, iw,
# iproute2), downloads the current Debian linux-image-*-amd64 package with
# `apt-get download`, and builds in DIR (default $VWIFI_HARNESS_DIR or
# /tmp/vwifi-harness):
#   DIR/vmlinuz         the Debian kernel
#   DIR/rootfs/         busybox + hostapd + wpa_supplicant + iw + ip + tc + the
#                       wireless/virtio kernel modules + guest/init, guest/lib.sh
#   DIR/base.cpio       that rootfs as an initramfs (run-vm.sh appends the test)
# Nothing is fetched from anywhere but Debian's apt repositories.
# Re-running is cheap: packages and the kernel are only fetched when missing;
# the rootfs and base.cpio are rebuilt (a few seconds).
# Env: VWIFI_KERNEL_PKG=linux-image-...-amd64 to pin a kernel package.
#      VWIFI_WITH_VSOCK=1 also builds vhost-device-vsock (rust-vmm, from
#      crates.io, ~75 s) into DIR/cargo/bin, for run-vm.sh -V (AF_VSOCK).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
DIR=${1:-${VWIFI_HARNESS_DIR:-/tmp/vwifi-harness}}
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)

say() { echo "setup: $*" >&2; }
# Wait for a concurrent apt/dpkg (another job on the machine) instead of failing.
APT="apt-get -o DPkg::Lock::Timeout=600"
export DEBIAN_FRONTEND=noninteractive
[ "$(id -u)" = 0 ] || { say "must run as root (apt-get)"; exit 1; }

# --- 1. Debian packages ---------------------------------------------------
PKGS="qemu-system-x86 busybox-static hostapd wpasupplicant iw iproute2 cpio kmod wireless-regdb xz-utils zstd
      iwd dbus-daemon"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
apt_updated=0
if [ -n "$missing" ]; then
    say "installing:$missing"
    $APT update -qq
    apt_updated=1
    $APT install -y -qq --no-install-recommends $missing >/dev/null
fi

# --- 2. Kernel package (vmlinuz + modules), extracted, not installed ------
KPKG=${VWIFI_KERNEL_PKG:-}
if [ -z "$KPKG" ]; then
    # linux-image-amd64 is the meta package; it depends on the current ABI.
    KPKG=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-/{print $2; exit}' || true)
    if [ -z "$KPKG" ] && [ $apt_updated = 0 ]; then
        $APT update -qq; apt_updated=1
        KPKG=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-/{print $2; exit}')
    fi
fi
[ -n "$KPKG" ] || { say "cannot resolve the linux-image-amd64 package"; exit 1; }
KDIR=$DIR/kernel/$KPKG
if [ ! -d "$KDIR/boot" ]; then
    say "downloading $KPKG"
    mkdir -p "$DIR/debs"
    rm -f "$DIR/debs/${KPKG}_"*.deb
    # apt drops privileges to _apt for downloads; a root-only dir just warns.
    (cd "$DIR/debs" && $APT download -qq "$KPKG" 2>/dev/null) \
        || { [ $apt_updated = 0 ] && $APT update -qq && (cd "$DIR/debs" && $APT download -qq "$KPKG"); }
    rm -rf "$KDIR.tmp" && mkdir -p "$KDIR.tmp"
    dpkg -x "$DIR/debs/${KPKG}_"*.deb "$KDIR.tmp"
    mv "$KDIR.tmp" "$KDIR"
fi
KVER=$(ls "$KDIR/lib/modules" | head -n1)
cp -p "$KDIR/boot/vmlinuz-$KVER" "$DIR/vmlinuz"

# Under TCG the kernel's own decompressor costs ~4 s per boot. A kernel
# built with CONFIG_PVH=y can instead be booted uncompressed (qemu loads the
# ELF vmlinux through its PVH entry point), so unpack it once here, the way
# the kernel's scripts/extract-vmlinux does.
extract_vmlinux() {
    local in=$1 out=$2 magic cmd off
    for fmt in "\\xfd7zXZ\\x00:xz -dc" "\\x28\\xb5\\x2f\\xfd:zstd -dc" "\\x1f\\x8b\\x08:gzip -dc"; do
        magic=${fmt%%:*} cmd=${fmt#*:}
        for off in $(LC_ALL=C grep -obUaP "$magic" "$in" | cut -d: -f1); do
            tail -c +$((off + 1)) "$in" | $cmd > "$out.tmp" 2>/dev/null || true
            if [ "$(head -c 4 "$out.tmp" | tail -c 3)" = ELF ]; then mv "$out.tmp" "$out"; return 0; fi
        done
    done
    rm -f "$out.tmp"; return 1
}
if ! grep -q '^CONFIG_PVH=y' "$KDIR/boot/config-$KVER"; then
    rm -f "$DIR/vmlinux"
elif [ ! -s "$DIR/vmlinux" ] || [ "$(cat "$DIR/vmlinux.src" 2>/dev/null)" != "$KPKG" ]; then
    rm -f "$DIR/vmlinux" "$DIR/vmlinux.src"
    if extract_vmlinux "$DIR/vmlinuz" "$DIR/vmlinux"; then
        echo "$KPKG" > "$DIR/vmlinux.src"
    else
        say "could not unpack vmlinux; booting vmlinuz (slower)"
    fi
fi
echo "$KPKG $(dpkg-deb -f "$DIR/debs/${KPKG}_"*.deb Version 2>/dev/null || echo '?') $KVER" > "$DIR/kernel.txt"
say "kernel: $(cat "$DIR/kernel.txt")"

# --- 3. Root file system ----------------------------------------------------
R=$DIR/rootfs
rm -rf "$R"
mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,usr/lib/vwifi-harness,lib64,etc,proc,sys,dev,run,tmp,root,var,test,lib/firmware}
ln -s ../run "$R/var/run"

# busybox provides the shell and coreutils; real tools below take precedence
# because PATH in the guest puts /usr/sbin and /usr/bin first.
cp /bin/busybox "$R/bin/busybox"
for a in $(/bin/busybox --list); do
    [ "$a" = busybox ] || ln -sf busybox "$R/bin/$a"
done
ln -sf ../bin/busybox "$R/sbin/modprobe"

# copy_bin PATH: copy an executable and every shared library it needs
# (as reported by ldd) to the same path inside the rootfs.
copy_bin() {
    install -D -m 0755 "$1" "$R/usr/sbin/$(basename "$1")"
    ldd "$1" | grep -o '/[^ ]*' | while read -r lib; do
        [ -e "$R$lib" ] || install -D -m 0755 "$(readlink -f "$lib")" "$R$lib"
    done
}
for b in hostapd hostapd_cli wpa_supplicant wpa_cli iw ip genl tc; do
    copy_bin "$(PATH=/usr/sbin:/sbin:/usr/bin:/bin command -v "$b")"
done

# Regulatory database (signed; the Debian kernel checks the signature).
cp /lib/firmware/regulatory.db /lib/firmware/regulatory.db.p7s "$R/lib/firmware/" 2>/dev/null || true

echo 'root:x:0:0:root:/root:/bin/sh' > "$R/etc/passwd"
echo 'root:x:0:' > "$R/etc/group"
printf 'hosts: files\n' > "$R/etc/nsswitch.conf"
printf '127.0.0.1 localhost\n' > "$R/etc/hosts"

# Kernel modules: the named ones plus everything they depend on (sch_ingress, cls_u32,
# act_mirred, act_gact and cls_bpf: the clsact filters of the nl80211 radio's kernel data path).
MODS="mac80211_hwsim ccm ctr gcm ghash-generic cmac aesni-intel
      virtio_pci virtio_mmio virtio_console virtio_net vmw_vsock_virtio_transport
      veth tun 9pnet_virtio 9p
      sch_ingress cls_u32 act_mirred act_gact cls_bpf"
KM=$KDIR/lib/modules/$KVER
declare -A seen=()
add_mod() {
    local name=${1//-/_} f dep
    [ -n "${seen[$name]:-}" ] && return 0
    seen[$name]=1
    f=$(find "$KM/kernel" -name "$name.ko*" -o -name "${1}.ko*" | head -n1)
    [ -n "$f" ] || { say "module $1 not in $KPKG (built in?)"; return 0; }
    install -D -m 0644 "$f" "$R/lib/modules/$KVER/${f#"$KM"/}"
    for dep in $(modinfo -F depends "$f" | tr ',' ' '); do add_mod "$dep"; done
}
for m in $MODS; do add_mod "$m"; done
cp "$KM"/modules.{order,builtin,builtin.modinfo} "$R/lib/modules/$KVER/" 2>/dev/null || true
# Decompress modules if this kernel ships them compressed (busybox modprobe
# then needs no decompressor).
find "$R/lib/modules" -name '*.ko.xz' -exec xz -d {} + 2>/dev/null || true
find "$R/lib/modules" -name '*.ko.zst' -exec zstd -q -d --rm {} + 2>/dev/null || true
depmod -b "$R" "$KVER"

install -m 0755 "$HERE/guest/init" "$R/init"
install -m 0644 "$HERE/guest/lib.sh" "$R/usr/lib/vwifi-harness/lib.sh"

# --- 4. Optional: vhost-user vsock backend (no /dev/vhost-vsock here) -------
if [ "${VWIFI_WITH_VSOCK:-0}" = 1 ] && [ ! -x "$DIR/cargo/bin/vhost-device-vsock" ]; then
    say "building vhost-device-vsock (cargo install, crates.io)"
    cargo install --quiet --locked --root "$DIR/cargo" vhost-device-vsock
fi

# --- 5. Base initramfs ------------------------------------------------------
# Uncompressed: the guest runs under TCG, where unpacking a compressed
# archive costs more than qemu copying a bigger file into guest memory.
(cd "$R" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet) > "$DIR/base.cpio"
say "base initramfs: $DIR/base.cpio ($(du -h "$DIR/base.cpio" | cut -f1))"
say "ready: run tests with $HERE/run-vm.sh -d $DIR TEST.sh"
