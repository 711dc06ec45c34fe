#!/bin/bash
# record-handshake.sh [--check] [-d DIR] [-o OUTDIR] — record a real WPA2-PSK
# 4-way handshake (hostapd 2.10 <-> wpa_supplicant 2.10 on mac80211_hwsim, in
# the harness VM) and turn it into test fixtures.
#
#   (default)  write the fixtures to OUTDIR (default: the repository's
#              vwifi-core/tests/fixtures/), replacing the recorded ones.
#              The recording is retried (up to 3 boots) until every EAPOL-Key
#              message was sent exactly once.
#   --check    record afresh into a temporary dir and only check it: a
#              well-formed handshake (tools/extract-handshake.py), the same
#              SSID, AA, SPA and RSNEs as the committed fixtures, and, when
#              tshark is installed, that tshark with the passphrase numbers
#              messages 1-4, derives the KCK and decrypts the CCMP ping.
#              Never touches the committed fixtures (CI mode).
#   -d DIR     harness dir made by setup.sh (default $VWIFI_HARNESS_DIR or
#              /tmp/vwifi-harness)
#
# Guest side: tests/record-handshake.sh; capture tool: tools/hwsim-capture.c
# (built here with the host gcc, -static). Needs python3 on the host.
# Exit 0 on success; on failure the tail of the VM console is printed.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
DIR=${VWIFI_HARNESS_DIR:-/tmp/vwifi-harness}
OUT=$REPO/vwifi-core/tests/fixtures
CHECK=0
while [ $# -gt 0 ]; do
    case $1 in
        --check) CHECK=1 ;;
        -d) DIR=$2; shift ;;
        -o) OUT=$2; shift ;;
        *) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
    esac
    shift
done
SSID="vwifi-fixture"
PASS="correct horse battery staple"

W=$(mktemp -d /tmp/vwifi-record.XXXXXX)
trap 'rm -rf "$W"' EXIT
gcc -O2 -Wall -static -o "$W/hwsim-capture" "$HERE/tools/hwsim-capture.c"

KPKG=$(cut -d' ' -f1,2 "$DIR/kernel.txt" 2>/dev/null | tr ' ' '=' || echo '?')
record() {  # record CONSOLE.log: one boot; 0 when the guest said PASS
    if ! "$HERE/run-vm.sh" -d "$DIR" -t 120 -f "$W/hwsim-capture" \
            -e SSID="$SSID" -e PASS="$PASS" "$HERE/tests/record-handshake.sh" > "$1" 2>&1; then
        echo "record-handshake: the VM run failed; console tail:" >&2
        grep -v 'VWIFI-PCAP:' "$1" | tail -n 40 >&2
        return 1
    fi
}
extract() {  # extract CONSOLE.log OUTDIR [extra args]
    local log=$1 out=$2; shift 2
    python3 "$HERE/tools/extract-handshake.py" "$log" "$out" \
        --command "tests/vmharness/record-handshake.sh" \
        --meta "kernel_package=${KPKG%%=*}" --meta "kernel_package_version=${KPKG#*=}" "$@"
}
# toml_get FILE KEY: the string value of a top-level key (no toml parser needed).
toml_get() { sed -n "s/^$2 = \"\(.*\)\"$/\1/p" "$1" | head -n1; }

if [ $CHECK = 0 ]; then
    for try in 1 2 3; do
        record "$W/console.log" || exit 1
        if extract "$W/console.log" "$W/fx" --clean; then
            mkdir -p "$OUT"
            rm -f "$OUT"/handshake-wpa2*
            cp "$W/fx"/* "$OUT"/
            echo "record-handshake: fixtures written to $OUT (try $try)"
            ls -l "$OUT"
            exit 0
        fi
        echo "record-handshake: recording $try not clean, recording again" >&2
    done
    exit 1
fi

# --- check mode -----------------------------------------------------------
record "$W/console.log" || exit 1
extract "$W/console.log" "$W/fx" || { grep -v 'VWIFI-PCAP:' "$W/console.log" | tail -n 40 >&2; exit 1; }
if [ -f "$OUT/handshake-wpa2.toml" ]; then
    for k in ssid aa spa ap_rsne sta_rsne; do
        a=$(toml_get "$OUT/handshake-wpa2.toml" $k) b=$(toml_get "$W/fx/handshake-wpa2.toml" $k)
        [ "$a" = "$b" ] || { echo "record-handshake: $k differs: committed '$a', fresh '$b'" >&2; exit 1; }
    done
    echo "record-handshake: SSID, AA, SPA and RSNEs match the committed fixtures"
else
    echo "record-handshake: no committed fixtures in $OUT to compare with" >&2
fi
if command -v tshark > /dev/null; then
    ts() {
        tshark -r "$W/fx/handshake-wpa2.pcap" -o wlan.enable_decryption:TRUE \
            -o "uat:80211_keys:\"wpa-pwd\",\"$PASS:$SSID\"" "$@" 2>/dev/null
    }
    # retransmitted messages (slow machine) are squeezed: 1 1 2 3 4 -> 1 2 3 4
    msgs=$(ts -Y eapol -T fields -e wlan_rsna_eapol.keydes.msgnr | uniq | tr '\n' ' ')
    kck=$(ts -Y eapol -T fields -e wlan.analysis.kck | grep . | tail -n 1 || true)
    want_kck=$(sed -n 's/^kck = "\(.*\)"$/\1/p' "$W/fx/handshake-wpa2.toml")
    replies=$(ts -Y 'icmp.type == 0' | wc -l)
    echo "record-handshake: tshark: EAPOL msgs [$msgs], KCK ${kck:-none}, decrypted echo replies $replies"
    case " $msgs" in *" 1 2 3 4 "*) ;; *) false ;; esac || { echo "record-handshake: tshark does not see messages 1-4 in order" >&2; exit 1; }
    [ -n "$kck" ] && [ "$kck" = "$want_kck" ] \
        || { echo "record-handshake: tshark's KCK '$kck' != wpa_supplicant's '$want_kck'" >&2; exit 1; }
    [ "$replies" -ge 1 ] || { echo "record-handshake: tshark could not decrypt the ping" >&2; exit 1; }
else
    echo "record-handshake: tshark not installed; skipped the tshark cross-check" >&2
fi
echo "record-handshake: check OK"
