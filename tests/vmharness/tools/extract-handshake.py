#!/usr/bin/env python3
"""Turn the console log of tests/record-handshake.sh into handshake fixtures.

usage: extract-handshake.py CONSOLE.log OUTDIR [--check] [--clean]
                            [--command CMD] [--meta KEY=VALUE]

Reads the base64 pcap between the VWIFI-PCAP-BEGIN/END markers (checking its
sha256 and length), the VWIFI-KEY / VWIFI-VERSIONS lines, strips the radiotap
header of every frame, finds the AP's beacon and probe response, the
station's authentication and (re)association frames and the four EAPOL-Key
messages of the 4-way handshake, and checks that they are well formed:
key-info bits of each message, equal replay counters per request/response
pair, ANonce equal in msgs 1 and 3, non-zero nonces and MICs, the RSNE of
msg 2 equal to the one in the association request, encrypted key data in
msg 3, CCMP-protected data frames after the handshake.

Without --check it writes into OUTDIR: handshake-wpa2.pcap (the capture,
radiotap), handshake-wpa2-*.bin (802.11 frames, no radiotap, no FCS) and
handshake-wpa2.toml (what, who, keys; pcap_frame is the 1-based frame
number as Wireshark/tshark count). With --check it writes nothing and only
validates. --clean also demands that each EAPOL-Key message was sent exactly
once (no retransmissions), for recordings meant to be committed.
--meta KEY=VALUE adds KEY to the [versions] table.
Exit 0 when everything checks out; 1 with a message otherwise.
No Wi-Fi cryptography here: MIC/key checks belong to vwifi's own tests.
"""
import base64
import datetime
import hashlib
import os
import re
import struct
import sys

PREFIX = "handshake-wpa2"
EAPOL_SNAP = bytes.fromhex("aaaa03000000888e")


class Bad(Exception):
    pass


def need(cond, msg):
    if not cond:
        raise Bad(msg)


def mac(b):
    return ":".join(f"{x:02x}" for x in b)


def read_console(path):
    lines = open(path, encoding="utf-8", errors="replace").read().splitlines()
    b64, begin, end, keys, versions = [], None, False, [], {}
    for ln in lines:
        m = re.search(r"VWIFI-PCAP-BEGIN sha256=([0-9a-f]{64}) bytes=(\d+)", ln)
        if m:
            begin, b64 = (m.group(1), int(m.group(2))), []
            continue
        if "VWIFI-PCAP-END" in ln:
            end = True
            continue
        m = re.search(r"VWIFI-PCAP: ([A-Za-z0-9+/=]+)\s*$", ln)
        if m and begin:
            b64.append(m.group(1))
        m = re.search(r"VWIFI-KEY: WPA: (.+?) - hexdump\(len=\d+\): ([0-9a-f ]+)$", ln)
        if m:
            keys.append((m.group(1), m.group(2).replace(" ", "")))
        m = re.search(r"VWIFI-VERSIONS: (.*)$", ln)
        if m:
            versions = dict(kv.split("=", 1) for kv in m.group(1).split())
    need(begin and end, "no VWIFI-PCAP-BEGIN/END block in the console log")
    pcap = base64.b64decode("".join(b64))
    need(len(pcap) == begin[1], f"pcap is {len(pcap)} bytes, guest said {begin[1]}")
    need(hashlib.sha256(pcap).hexdigest() == begin[0], "pcap sha256 differs from the guest's")
    return pcap, keys, versions


def read_pcap(pcap):
    need(len(pcap) >= 24, "pcap shorter than its header")
    magic, _, _, _, _, _, linktype = struct.unpack_from("<IHHiIII", pcap, 0)
    need(magic == 0xA1B2C3D4, f"pcap magic {magic:#x}")
    need(linktype == 127, f"pcap linktype {linktype}, want 127 (radiotap)")
    off, out = 24, []
    while off < len(pcap):
        need(off + 16 <= len(pcap), "truncated pcap record header")
        sec, usec, incl, orig = struct.unpack_from("<IIII", pcap, off)
        off += 16
        need(off + incl <= len(pcap) and incl == orig, "truncated pcap record")
        out.append((sec + usec / 1e6, pcap[off:off + incl]))
        off += incl
    return out


def strip_radiotap(pkt):
    need(len(pkt) >= 8 and pkt[0] == 0, "bad radiotap header")
    rt_len = struct.unpack_from("<H", pkt, 2)[0]
    present = struct.unpack_from("<I", pkt, 4)[0]
    need(not present & 0x80000000, "extended radiotap present bitmap not handled")
    fcs = False
    if present & 0x2:  # Flags (bit 1) follows the header and, if present, TSFT (bit 0, u64)
        off = 8 + (8 if present & 0x1 else 0)  # the header is 8 bytes: TSFT is aligned already
        need(off < rt_len, "radiotap header too short for Flags")
        fcs = bool(pkt[off] & 0x10)
    need(not fcs, "frame carries an FCS (radiotap flag 0x10); fixtures assume none")
    return pkt[rt_len:]


def ies(body):
    out, i = {}, 0
    while i + 2 <= len(body):
        eid, ln = body[i], body[i + 1]
        need(i + 2 + ln <= len(body), f"truncated element {eid}")
        out.setdefault(eid, body[i + 2:i + 2 + ln])
        i += 2 + ln
    need(i == len(body), "trailing bytes after elements")
    return out


def parse_key(frame):
    """Return a dict for an EAPOL-Key data frame, else None."""
    fc0, fc1 = frame[0], frame[1]
    if (fc0 >> 2) & 3 != 2:
        return None
    hdr = 24 + (6 if fc1 & 3 == 3 else 0) + (2 if fc0 & 0x80 else 0)
    if fc1 & 0x40:  # protected: not an EAPOL frame in the clear
        return None
    body = frame[hdr:]
    if body[:8] != EAPOL_SNAP:
        return None
    e = body[8:]
    need(len(e) >= 4 and e[1] == 3, "EAPOL frame that is not EAPOL-Key")
    plen = struct.unpack_from(">H", e, 2)[0]
    need(len(e) == 4 + plen, f"EAPOL length {plen} vs {len(e) - 4} bytes")
    k = e[4:]
    need(len(k) >= 95 and k[0] == 2, "not an RSN EAPOL-Key descriptor")
    info = struct.unpack_from(">H", k, 1)[0]
    kdl = struct.unpack_from(">H", k, 93)[0]
    need(len(k) == 95 + kdl, "key data length mismatch")
    return {
        "info": info, "version": info & 7, "keylen": struct.unpack_from(">H", k, 3)[0],
        "replay": struct.unpack_from(">Q", k, 5)[0], "nonce": k[13:45], "iv": k[45:61],
        "rsc": k[61:69], "mic": k[77:93], "keydata": k[95:],
        "da": frame[4:10], "sa": frame[10:16], "eapol": e,
    }


def classify(k):
    pairwise, install, ack, mic, secure, enc = (bool(k["info"] & b) for b in (0x8, 0x40, 0x80, 0x100, 0x200, 0x1000))
    need(pairwise, "group-key handshake frame")
    if ack and not mic:
        return 1
    if mic and not ack and not secure:
        return 2
    if ack and mic and install and secure and enc:
        return 3
    if mic and secure and not ack:
        return 4
    raise Bad(f"EAPOL-Key with unexpected key info {k['info']:#06x}")


def analyse(frames):
    beacon = probe = auth_req = auth_resp = assoc_req = assoc_resp = None
    msgs = {1: [], 2: [], 3: [], 4: []}
    protected_data = 0
    for idx, (_, pkt) in enumerate(frames):
        f = strip_radiotap(pkt)
        if len(f) < 10:
            continue  # ACK / CTS
        t, st = (f[0] >> 2) & 3, f[0] >> 4
        if t == 0 and st == 8 and beacon is None:
            beacon = (idx, f)
        elif t == 0 and st == 5 and probe is None:
            probe = (idx, f)
        elif t == 0 and st == 11:
            seq = struct.unpack_from("<H", f, 26)[0]
            if seq == 1 and auth_req is None:
                auth_req = (idx, f)
            elif seq == 2 and auth_resp is None:
                auth_resp = (idx, f)
        elif t == 0 and st == 0 and assoc_req is None:
            assoc_req = (idx, f)
        elif t == 0 and st == 1 and assoc_resp is None:
            assoc_resp = (idx, f)
        elif t == 2:
            k = parse_key(f)
            if k is not None:
                msgs[classify(k)].append((idx, f, k))
            elif f[1] & 0x40:
                protected_data += 1
    need(beacon, "no beacon captured")
    need(assoc_req and assoc_resp, "no association request/response captured")
    need(auth_req and auth_resp, "no authentication frames captured")
    aa = beacon[1][10:16]
    spa = assoc_req[1][10:16]
    need(assoc_req[1][4:10] == aa, "association request not addressed to the AP")
    for n in (1, 2, 3, 4):
        need(msgs[n], f"EAPOL-Key message {n} not captured")
    # The completed exchange: the last msg 4, the msg 3 it answers, the msg 2
    # that msg 3 follows (replay counter one less or equal), its msg 1.
    m4 = msgs[4][-1]
    m3 = [m for m in msgs[3] if m[2]["replay"] == m4[2]["replay"]]
    need(m3, "no msg 3 with msg 4's replay counter")
    m3 = m3[-1]
    m2 = [m for m in msgs[2] if m[0] < m3[0] and m[2]["replay"] < m3[2]["replay"]]
    need(m2, "no msg 2 before msg 3")
    m2 = m2[-1]
    m1 = [m for m in msgs[1] if m[0] < m2[0] and m[2]["replay"] == m2[2]["replay"]]
    need(m1, "no msg 1 with msg 2's replay counter")
    m1 = m1[-1]
    hs = {1: m1, 2: m2, 3: m3, 4: m4}
    for n, (_, f, k) in hs.items():
        to_sta = n in (1, 3)
        need((k["da"], k["sa"]) == ((spa, aa) if to_sta else (aa, spa)), f"msg {n} addresses")
        need(k["version"] == 2, f"msg {n}: key descriptor version {k['version']}, want 2 (HMAC-SHA1/AES)")
        need((any(k["mic"])) == (n != 1), f"msg {n}: MIC {'zero' if n != 1 else 'non-zero'}")
    need(any(m1[2]["nonce"]), "msg 1: ANonce is zero")
    need(any(m2[2]["nonce"]), "msg 2: SNonce is zero")
    need(m1[2]["nonce"] == m3[2]["nonce"], "ANonce differs between msg 1 and msg 3")
    need(not any(m4[2]["nonce"]), "msg 4: nonce not zero")
    need(m3[2]["replay"] == m1[2]["replay"] + 1, "msg 3 replay counter is not msg 1's + 1")
    need(len(m3[2]["keydata"]) % 8 == 0 and len(m3[2]["keydata"]) >= 24, "msg 3: key data not AES-wrapped")
    need(m4[2]["keydata"] == b"", "msg 4 carries key data")
    ar_ies = ies(assoc_req[1][24 + 4:])  # capability + listen interval
    need(48 in ar_ies, "association request has no RSNE")
    m2_ies = ies(m2[2]["keydata"])
    need(m2_ies.get(48) == ar_ies[48], "msg 2 RSNE differs from the association request's")
    b_ies = ies(beacon[1][24 + 12:])  # timestamp, interval, capability
    need(48 in b_ies, "beacon has no RSNE")
    need(protected_data >= 2, f"only {protected_data} protected data frames after the handshake")
    return {
        "aa": aa, "spa": spa, "ssid": b_ies.get(0, b"").decode(), "hs": hs, "beacon": beacon,
        "probe": probe, "auth_req": auth_req, "auth_resp": auth_resp, "assoc_req": assoc_req,
        "assoc_resp": assoc_resp, "protected_data": protected_data, "msgs": msgs,
        "beacon_rsne": b_ies[48], "sta_rsne": ar_ies[48],
    }


def toml_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def main():
    args = sys.argv[1:]
    check = "--check" in args
    clean = "--clean" in args
    command = "tests/vmharness/record-handshake.sh"
    if "--command" in args:
        i = args.index("--command")
        command = args[i + 1]
        del args[i:i + 2]
    extra = {}
    while "--meta" in args:
        i = args.index("--meta")
        key, _, val = args[i + 1].partition("=")
        extra[key] = val
        del args[i:i + 2]
    args = [a for a in args if a not in ("--check", "--clean")]
    if len(args) != 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    console, outdir = args
    try:
        pcap, keys, versions = read_console(console)
        versions.update(extra)
        frames = read_pcap(pcap)
        r = analyse(frames)
    except Bad as e:
        print(f"extract-handshake: BAD: {e}", file=sys.stderr)
        return 1
    hs = r["hs"]
    retries = {n: len(v) for n, v in r["msgs"].items()}
    print(f"extract-handshake: {len(frames)} frames; AA {mac(r['aa'])} SPA {mac(r['spa'])} "
          f"SSID {r['ssid']!r}; EAPOL-Key msgs seen {retries}; handshake frames "
          f"#{hs[1][0]} #{hs[2][0]} #{hs[3][0]} #{hs[4][0]}; {r['protected_data']} protected data frames")
    if clean and any(n != 1 for n in retries.values()):
        print("extract-handshake: BAD: --clean wants each EAPOL-Key message exactly once", file=sys.stderr)
        return 1
    if check:
        print("extract-handshake: OK (check mode, nothing written)")
        return 0

    files = [
        ("beacon", r["beacon"], "AP beacon (RSNE of the AP)"),
        ("probe-resp", r["probe"], "AP probe response to the station"),
        ("auth-req", r["auth_req"], "open system authentication, station -> AP"),
        ("auth-resp", r["auth_resp"], "open system authentication, AP -> station"),
        ("assoc-req", r["assoc_req"], "association request (RSNE of the station)"),
        ("assoc-resp", r["assoc_resp"], "association response"),
        ("eapol-m1", hs[1][:2], "EAPOL-Key msg 1/4 (ANonce), AP -> station"),
        ("eapol-m2", hs[2][:2], "EAPOL-Key msg 2/4 (SNonce, MIC, station RSNE), station -> AP"),
        ("eapol-m3", hs[3][:2], "EAPOL-Key msg 3/4 (ANonce, MIC, wrapped GTK + RSNE), AP -> station"),
        ("eapol-m4", hs[4][:2], "EAPOL-Key msg 4/4 (MIC), station -> AP"),
    ]
    os.makedirs(outdir, exist_ok=True)
    with open(os.path.join(outdir, f"{PREFIX}.pcap"), "wb") as fh:
        fh.write(pcap)
    lines = [
        "# A real WPA2-PSK (CCMP) association between hostapd and wpa_supplicant,",
        "# recorded on mac80211_hwsim's monitor interface inside the harness VM.",
        "# Generated by tests/vmharness/tools/extract-handshake.py; do not edit by hand.",
        "# Frame files: complete 802.11 frames (MAC header first), radiotap header",
        "# removed, NO FCS. The .pcap keeps the radiotap headers (linktype 127).",
        f"ssid = {toml_str(r['ssid'])}",
        'passphrase = "correct horse battery staple"',
        f'aa = "{mac(r["aa"])}"',
        f'spa = "{mac(r["spa"])}"',
        f'anonce = "{hs[1][2]["nonce"].hex()}"',
        f'snonce = "{hs[2][2]["nonce"].hex()}"',
        f"replay_counter_m1 = {hs[1][2]['replay']}",
        f"replay_counter_m3 = {hs[3][2]['replay']}",
        f'mic_m2 = "{hs[2][2]["mic"].hex()}"',
        f'mic_m3 = "{hs[3][2]["mic"].hex()}"',
        f'mic_m4 = "{hs[4][2]["mic"].hex()}"',
        f'ap_rsne = "{r["beacon_rsne"].hex()}"',
        f'sta_rsne = "{r["sta_rsne"].hex()}"',
        f'recorded = "{datetime.date.today().isoformat()}"',
        f"command = {toml_str(command)}",
        "fcs = false",
        "radiotap = false",
        "",
        "[versions]",
    ]
    for k in ("kernel", "kernel_package", "kernel_package_version", "hostapd", "wpa_supplicant"):
        if k in versions:
            lines.append(f"{k} = {toml_str(versions[k])}")
    lines += ["", "# As logged by wpa_supplicant -dd -K during the recording (its own derivation).", "[keys]"]
    names = {"PMK": "pmk", "PTK": "ptk", "KCK": "kck", "KEK": "kek", "TK": "tk", "Group Key": "gtk"}
    done = set()
    for name, hexv in keys:
        k = names.get(name)
        if k and k not in done:
            done.add(k)
            lines.append(f'{k} = "{hexv}"')
    for stem, found, what in files:
        if found is None:
            continue
        idx, frame = found
        fn = f"{PREFIX}-{stem}.bin"
        with open(os.path.join(outdir, fn), "wb") as fh:
            fh.write(frame)
        lines += ["", "[[frame]]", f'file = "{fn}"', f"pcap_frame = {idx + 1}", f"len = {len(frame)}",
                  f"what = {toml_str(what)}"]
    with open(os.path.join(outdir, f"{PREFIX}.toml"), "w") as fh:
        fh.write("\n".join(lines) + "\n")
    print(f"extract-handshake: wrote {len(files)} frames, {PREFIX}.pcap and {PREFIX}.toml to {outdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
