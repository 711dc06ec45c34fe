//! The `vwifi-host` binary, run as a user would run it.

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_vwifi-host");

/// Runs the binary with `args`, feeding `stdin`.
fn vwifi_host(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run vwifi-host");
    // The process may exit before reading its input; a broken pipe is then expected.
    let _ = child.stdin.take().expect("stdin").write_all(stdin);
    child.wait_with_output().expect("wait for vwifi-host")
}

fn psk(ssid: &str, passphrase: &str) -> Output {
    vwifi_host(&["psk", "--ssid", ssid, "--passphrase", passphrase], b"")
}

fn stdout(o: &Output) -> &str {
    std::str::from_utf8(&o.stdout).expect("UTF-8 stdout")
}

fn stderr(o: &Output) -> &str {
    std::str::from_utf8(&o.stderr).expect("UTF-8 stderr")
}

/// Asserts a failure with `code` whose stderr contains `needle` and never the passphrase.
fn assert_fails(o: &Output, code: i32, needle: &str, secret: &str) {
    assert_eq!(o.status.code(), Some(code), "stderr: {}", stderr(o));
    assert!(o.stdout.is_empty(), "stdout: {}", stdout(o));
    assert!(stderr(o).contains(needle), "stderr: {}", stderr(o));
    if !secret.is_empty() {
        assert!(!stderr(o).contains(secret), "stderr leaks: {}", stderr(o));
    }
}

/// IEEE 802.11-2020 Annex J.4.2, test vectors 1 to 3, through the CLI.
#[test]
fn prints_annex_j4_vectors_as_one_hex_line() {
    for (ssid, passphrase, key) in [
        (
            "IEEE",
            "password",
            "f42c6fc52df0ebef9ebb4b90b38a5f902e83fe1b135a70e23aed762e9710a12e",
        ),
        (
            "ThisIsASSID",
            "ThisIsAPassword",
            "0dc0d6eb90555ed6419756b9a15ec3e3209b63df707dd508d14581f8982721af",
        ),
        (
            "ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ",
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "becb93866bb8c3832cb777c2f559807c8c59afcb6eae734885001300a981cc62",
        ),
    ] {
        let o = psk(ssid, passphrase);
        assert!(o.status.success(), "stderr: {}", stderr(&o));
        assert_eq!(stdout(&o), format!("{key}\n"));
        assert!(o.stderr.is_empty());
    }
}

#[test]
fn reads_the_passphrase_from_stdin() {
    let o = vwifi_host(
        &["psk", "--ssid", "IEEE", "--passphrase-stdin"],
        b"password\n",
    );
    assert!(o.status.success(), "stderr: {}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "f42c6fc52df0ebef9ebb4b90b38a5f902e83fe1b135a70e23aed762e9710a12e\n"
    );
}

#[test]
fn config_prints_a_network_block_without_the_plaintext() {
    let o = vwifi_host(
        &["psk", "--ssid", "IEEE", "--passphrase-stdin", "--config"],
        b"password",
    );
    assert!(o.status.success(), "stderr: {}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "network={\n\tssid=\"IEEE\"\n\tpsk=f42c6fc52df0ebef9ebb4b90b38a5f902e83fe1b135a70e23aed762e9710a12e\n}\n"
    );
    assert!(!stdout(&o).contains("password"));
}

#[test]
fn rejects_passphrases_of_the_wrong_length_with_status_1() {
    assert_fails(
        &psk("IEEE", "seven77"),
        1,
        "invalid passphrase: passphrase must be 8 to 63 characters long, got 7",
        "seven77",
    );
    let long = "x".repeat(64);
    assert_fails(
        &psk("IEEE", &long),
        1,
        "must be 8 to 63 characters long, got 64",
        &long,
    );
}

#[test]
fn rejects_non_printable_and_non_ascii_passphrases_with_status_1() {
    assert_fails(
        &psk("IEEE", "pass\tword"),
        1,
        "printable ASCII characters (byte 0x09 at position 4)",
        "pass\tword",
    );
    assert_fails(
        &psk("IEEE", "pässword1"),
        1,
        "printable ASCII characters (byte 0xc3 at position 1)",
        "pässword1",
    );
}

#[test]
fn rejects_an_ssid_over_32_bytes_with_status_1() {
    assert_fails(
        &psk(&"s".repeat(33), "password"),
        1,
        "invalid SSID: 33 bytes long, the limit is 32",
        "password",
    );
    // 17 characters but 33 bytes: the limit is in bytes.
    assert_fails(
        &psk(&format!("a{}", "é".repeat(16)), "password"),
        1,
        "33 bytes long",
        "password",
    );
}

#[test]
fn reports_empty_stdin_with_status_1() {
    let o = vwifi_host(&["psk", "--ssid", "IEEE", "--passphrase-stdin"], b"");
    assert_fails(&o, 1, "no passphrase on standard input", "");
}

#[test]
fn usage_errors_exit_with_status_2() {
    let missing_passphrase = vwifi_host(&["psk", "--ssid", "IEEE"], b"");
    assert_fails(
        &missing_passphrase,
        2,
        "required arguments were not provided",
        "",
    );
    let missing_ssid = vwifi_host(&["psk", "--passphrase", "password"], b"");
    assert_fails(&missing_ssid, 2, "--ssid <SSID>", "");
    let both = vwifi_host(
        &[
            "psk",
            "--ssid",
            "IEEE",
            "--passphrase",
            "password",
            "--passphrase-stdin",
        ],
        b"password\n",
    );
    assert_fails(&both, 2, "cannot be used with", "");
    let unknown = vwifi_host(&["frobnicate"], b"");
    assert_fails(&unknown, 2, "unrecognized subcommand", "");
    let nothing = vwifi_host(&[], b"");
    assert_fails(&nothing, 2, "Usage: vwifi-host <COMMAND>", "");
}

#[test]
fn help_explains_psk_and_the_process_list_risk() {
    let o = vwifi_host(&["psk", "--help"], b"");
    assert!(o.status.success());
    let help = stdout(&o);
    for needle in [
        "wpa_passphrase",
        "--passphrase-stdin",
        "process list",
        "64 lowercase hex digits",
        "Exit status",
    ] {
        assert!(help.contains(needle), "help lacks {needle:?}:\n{help}");
    }
}

/// Inputs valid for both vwifi and wpa_passphrase: spaces, symbols, shortest and longest
/// passphrases, 32-byte SSIDs (ASCII and UTF-8), UTF-8 SSIDs,
/// an empty SSID.
const COMPARED: &[(&str, &str)] = &[
    ("IEEE", "password"),
    ("home network", "correct horse battery staple"),
    ("lab", "p@$$w0rd!#%&*()[]{};:'\",.<>/?\\|`~^-_=+"),
    ("x", "12345678"),
    (
        "edge",
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!",
    ),
    (
        "ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ",
        "  spaces at both ends  ",
    ),
    ("café ☕", "unicode ssid"),
    ("日本語のネットワーク", "ascii passphrase"),
    ("éééééééééééééééé", "32-byte UTF-8 SSID"),
    ("", "empty ssid"),
];

#[test]
#[ignore = "needs Debian's wpa_passphrase (apt-get install wpasupplicant); .ci/run provides it"]
fn matches_wpa_passphrase() {
    for &(ssid, passphrase) in COMPARED {
        let theirs = Command::new("wpa_passphrase")
            .args([ssid, passphrase])
            .output()
            .expect("run wpa_passphrase (apt-get install wpasupplicant)");
        assert!(theirs.status.success(), "wpa_passphrase {ssid:?} failed");
        let theirs = String::from_utf8(theirs.stdout).expect("UTF-8");
        let key = theirs
            .lines()
            .find_map(|l| l.trim().strip_prefix("psk="))
            .unwrap_or_else(|| panic!("no psk= line in {theirs:?}"));
        let ours = psk(ssid, passphrase);
        assert!(ours.status.success(), "stderr: {}", stderr(&ours));
        assert_eq!(
            stdout(&ours),
            format!("{key}\n"),
            "{ssid:?} / {passphrase:?}"
        );
    }
}
