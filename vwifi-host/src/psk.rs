//! `vwifi-host psk`: derive a WPA2 PSK from a passphrase and an SSID, like `wpa_passphrase`.

use std::borrow::Cow;
use std::ffi::OsStr;
use std::io::{BufRead, Read as _, Write};

use vwifi_core::crypto::psk::MAX_SSID_LEN;
use vwifi_core::crypto::{derive_psk, Passphrase};
use zeroize::Zeroizing;

use crate::cli::PskArgs;
use crate::error::HostError;

/// The most bytes read from standard input for a passphrase: far more than the 63 allowed, so
/// that a too-long passphrase is reported as such, but bounded.
const MAX_STDIN_LINE: u64 = 1024;

/// Runs `psk`: validates the SSID, gets the passphrase (from the arguments or the first line of
/// `stdin`), derives the PSK and writes it to `out`.
pub(crate) fn run(
    mut args: PskArgs,
    stdin: &mut impl BufRead,
    out: &mut impl Write,
) -> Result<(), HostError> {
    let ssid = os_bytes(&args.ssid);
    // Checked before reading standard input, so nobody types a passphrase in vain.
    if ssid.len() > MAX_SSID_LEN {
        return Err(HostError::SsidTooLong {
            len: ssid.len(),
            max: MAX_SSID_LEN,
        });
    }
    // Moved out of the arguments so that it is zeroized once used.
    let text = match args.passphrase.passphrase.take() {
        Some(p) => Zeroizing::new(p),
        None => read_first_line(stdin)?,
    };
    let passphrase = Passphrase::new(&text).map_err(HostError::Passphrase)?;
    let psk = derive_psk(&passphrase, &ssid).map_err(HostError::Derive)?;
    let hex = Zeroizing::new(psk.to_hex());
    let text = if args.config {
        Zeroizing::new(format!(
            "network={{\n\tssid={}\n\tpsk={}\n}}\n",
            config_ssid(&ssid),
            hex.as_str()
        ))
    } else {
        Zeroizing::new(format!("{}\n", hex.as_str()))
    };
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(HostError::WriteStdout)
}

/// The bytes of a command-line argument, exactly as given.
fn os_bytes(s: &OsStr) -> Cow<'_, [u8]> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt as _;
        Cow::Borrowed(s.as_bytes())
    }
    #[cfg(not(unix))]
    {
        Cow::Owned(s.to_string_lossy().into_owned().into_bytes())
    }
}

/// Reads the first line of `input`, without its `\n` or `\r\n`, as `wpa_passphrase` does.
pub(crate) fn read_first_line(input: &mut impl BufRead) -> Result<Zeroizing<String>, HostError> {
    let mut line = Zeroizing::new(String::new());
    let read = input
        .take(MAX_STDIN_LINE)
        .read_line(&mut line)
        .map_err(HostError::ReadStdin)?;
    if read == 0 {
        return Err(HostError::EmptyStdin);
    }
    if line.ends_with('\n') {
        line.pop();
        if line.ends_with('\r') {
            line.pop();
        }
    }
    Ok(line)
}

/// The SSID as a wpa_supplicant config value: quoted when it is text without control
/// characters or quotes, else as hex digits (which wpa_supplicant also accepts).
fn config_ssid(ssid: &[u8]) -> String {
    match core::str::from_utf8(ssid) {
        Ok(s) if !s.chars().any(|c| c.is_control() || c == '"') => format!("\"{s}\""),
        _ => ssid.iter().map(|b| format!("{b:02x}")).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::PassphraseSource;

    fn args(ssid: &str, passphrase: Option<&str>, config: bool) -> PskArgs {
        PskArgs {
            ssid: ssid.into(),
            passphrase: PassphraseSource {
                passphrase: passphrase.map(str::to_owned),
                passphrase_stdin: passphrase.is_none(),
            },
            config,
        }
    }

    fn run_with(args: PskArgs, stdin: &[u8]) -> Result<String, HostError> {
        let mut out = Vec::new();
        run(args, &mut &stdin[..], &mut out)?;
        Ok(String::from_utf8(out).unwrap())
    }

    /// IEEE 802.11-2020 Annex J.4.2, test vector 1.
    #[test]
    fn prints_the_annex_j_key_as_one_hex_line() {
        assert_eq!(
            run_with(args("IEEE", Some("password"), false), b"").unwrap(),
            "f42c6fc52df0ebef9ebb4b90b38a5f902e83fe1b135a70e23aed762e9710a12e\n"
        );
    }

    #[test]
    fn reads_the_first_line_of_stdin_without_its_line_ending() {
        let expected = run_with(args("IEEE", Some("password"), false), b"").unwrap();
        for stdin in [&b"password"[..], b"password\n", b"password\r\nignored\n"] {
            assert_eq!(
                run_with(args("IEEE", None, false), stdin).unwrap(),
                expected
            );
        }
        assert!(matches!(
            run_with(args("IEEE", None, false), b""),
            Err(HostError::EmptyStdin)
        ));
    }

    #[test]
    fn config_block_quotes_text_ssids_and_hex_encodes_others() {
        assert_eq!(
            run_with(args("IEEE", Some("password"), true), b"").unwrap(),
            "network={\n\tssid=\"IEEE\"\n\tpsk=f42c6fc52df0ebef9ebb4b90b38a5f902e83fe1b135a70e23aed762e9710a12e\n}\n"
        );
        assert_eq!(config_ssid("café".as_bytes()), "\"café\"");
        assert_eq!(config_ssid(b"a\"b"), "612262");
        assert_eq!(config_ssid(b"\xff\n"), "ff0a");
    }

    #[test]
    fn checks_the_ssid_before_reading_stdin() {
        let long = "x".repeat(33);
        assert!(matches!(
            run_with(args(&long, None, false), b"password\n"),
            Err(HostError::SsidTooLong { len: 33, max: 32 })
        ));
    }
}
