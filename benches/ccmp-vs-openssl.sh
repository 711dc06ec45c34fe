#!/usr/bin/env bash
# vwifi's CCMP against OpenSSL's AES-128-CCM at 1472 bytes, side by side in one run.
#
# Usage: benches/ccmp-vs-openssl.sh [ROUNDS]   (default 5; needs openssl and python3)
#        CCMP_BENCH_SECONDS=N  seconds per measurement (default 2)
#        CCMP_WALL=1           wall-clock time on both sides instead of CPU time
#
# Each round runs the criterion CCMP benches (`cargo bench -p vwifi-benches --bench crypto`) at
# a 1472-byte frame body (what CCMP encrypts; the 802.11 header is authenticated on top, which
# OpenSSL's figure does not include), each between two runs of
# `openssl speed -evp aes-128-ccm -bytes 1472`, and compares it with the mean of those two:
#   encrypt-into / decrypt-into   one frame per call, into a reused buffer
#   encrypt-batch / decrypt-batch 8 frames per call, in place, CBC-MAC chains interleaved
#   ccm-crate                     the RustCrypto `ccm` crate (vwifi's CCMP before), same frame
# Both sides are measured in CPU time (criterion's `ccmp-cpu` group: the thread's CPU time;
# OpenSSL: its default, user time), so that on a shared machine the time other processes hold
# the core counts on neither side. It prints each figure and its ratio, and at the end the
# range (min..max) over the rounds.
set -euo pipefail

ROUNDS="${1:-5}"
SECONDS_PER="${CCMP_BENCH_SECONDS:-2}"
cd "$(dirname "$0")/.."

command -v openssl >/dev/null || { echo "openssl not found" >&2; exit 1; }
command -v python3 >/dev/null || { echo "python3 not found" >&2; exit 1; }

# Build the bench once and find its executable.
bin="$(cargo bench -p vwifi-benches --bench crypto --no-run --message-format=json 2>/dev/null |
    python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("target", {}).get("name") == "crypto" and m.get("executable"):
        print(m["executable"])')"
[ -x "$bin" ] || { echo "could not build the crypto bench" >&2; exit 1; }

home="$(mktemp -d)"
trap 'rm -rf "$home"' EXIT
results="$home/results.tsv"
benches=(encrypt-into decrypt-into encrypt-batch decrypt-batch ccm-crate)

if [ -n "${CCMP_WALL:-}" ]; then
    group=ccmp elapsed=-elapsed clock="wall-clock time"
else
    group=ccmp-cpu elapsed= clock="CPU time"
fi

# OpenSSL's AES-128-CCM, bytes per second.
ossl() {
    # shellcheck disable=SC2086
    openssl speed $elapsed -evp aes-128-ccm -bytes 1472 -seconds "$SECONDS_PER" 2>/dev/null |
        awk '/^AES-128-CCM/ { sub(/k$/, "", $2); printf "%.0f\n", $2 * 1000 }'
}

# One criterion bench's median, bytes per second.
ours() {
    CRITERION_HOME="$home/criterion" "$bin" --bench --noplot \
        --warm-up-time 1 --measurement-time "$SECONDS_PER" "^$group/$1/1472\$" >/dev/null 2>&1
    python3 -c '
import json, sys
name, path = sys.argv[1], sys.argv[2]
ns = json.load(open(path))["median"]["point_estimate"]
frames = 8 if name.endswith("-batch") else 1
print(f"{frames * 1472 / (ns * 1e-9):.0f}")' "$1" "$home/criterion/$group/$1/1472/new/estimates.json"
}

echo "openssl: $(openssl version)"
echo "measured in $clock, $ROUNDS rounds of $SECONDS_PER s per figure"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq 1 "$ROUNDS"); do
    before="$(ossl)"
    for b in "${benches[@]}"; do
        v="$(ours "$b")"
        after="$(ossl)"
        ratio="$(awk -v v="$v" -v b="$before" -v a="$after" 'BEGIN { printf "%.3f", 2 * v / (a + b) }')"
        printf '%s\t%s\t%s\t%s\n' "$round" openssl "$before" 1 >>"$results"
        printf '%s\t%s\t%s\t%s\n' "$round" "$b" "$v" "$ratio" >>"$results"
        awk -v r="$round" -v n="$b" -v v="$v" -v x="$ratio" -v b="$before" -v a="$after" 'BEGIN {
            printf "round %s  %-14s %6.0f MB/s  %5.2fx OpenSSL (%.0f and %.0f MB/s before and after)\n",
                r, n, v / 1e6, x, b / 1e6, a / 1e6 }'
        before="$after"
    done
done

echo
echo "summary over $ROUNDS rounds, $clock (MB/s = 10^6 bytes/s; ratio: vwifi / mean of the OpenSSL runs just before and after):"
awk -F'\t' '
{
    n = $2; v = $3 / 1e6; x = $4
    if (!(n in lo)) { order[++k] = n; lo[n] = v; hi[n] = v; rlo[n] = x; rhi[n] = x }
    if (v < lo[n]) lo[n] = v
    if (v > hi[n]) hi[n] = v
    if (x < rlo[n]) rlo[n] = x
    if (x > rhi[n]) rhi[n] = x
}
END {
    for (i = 1; i <= k; i++) {
        n = order[i]
        if (n == "openssl") printf "  %-14s %6.0f..%-6.0f MB/s\n", n, lo[n], hi[n]
        else printf "  %-14s %6.0f..%-6.0f MB/s   %.2fx..%.2fx OpenSSL\n", n, lo[n], hi[n], rlo[n], rhi[n]
    }
}' "$results"
