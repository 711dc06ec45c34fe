//! Where the secret of `connect` comes from: the command line, standard input or a PSK file.
//! The text read is zeroized once turned into [`Credentials`]; nothing here logs it.

use std::io::{BufRead, Read as _};
use std::path::{Path, PathBuf};

use vwifi_core::crypto::{Passphrase, Psk};
use vwifi_core::proto::Credentials;
use zeroize::Zeroizing;

use crate::error::GuestError;

/// The most bytes read for a passphrase or PSK file: far more than a key line needs, so that a
/// wrong file is reported as such, but bounded.
pub const MAX_SECRET_READ: u64 = 4096;

/// Where the secret comes from, as the command line says.
#[derive(Default)]
pub enum SecretSource {
    /// An open network: no secret.
    #[default]
    None,
    /// `--passphrase P` (visible in the process list).
    Passphrase(Zeroizing<String>),
    /// `--passphrase-stdin`: the first line of standard input.
    Stdin,
    /// `--psk-file FILE`: 64 hex digits or a passphrase on the first key line.
    PskFile(PathBuf),
}

impl core::fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::Passphrase(_) => f.write_str("Passphrase(<redacted>)"),
            Self::Stdin => f.write_str("Stdin"),
            Self::PskFile(p) => f.debug_tuple("PskFile").field(p).finish(),
        }
    }
}

impl SecretSource {
    /// Reads the secret (from `stdin` for [`SecretSource::Stdin`]) and validates it.
    pub fn resolve(self, stdin: &mut impl BufRead) -> Result<Credentials, GuestError> {
        match self {
            Self::None => Ok(Credentials::None),
            Self::Passphrase(text) => passphrase(&text),
            Self::Stdin => {
                let line = read_first_line(stdin)?;
                passphrase(&line)
            }
            Self::PskFile(path) => read_psk_file(&path),
        }
    }
}

fn passphrase(text: &str) -> Result<Credentials, GuestError> {
    Passphrase::new(text)
        .map(Credentials::Passphrase)
        .map_err(GuestError::Passphrase)
}

/// Reads the first line of `input`, without its `\n` or `\r\n`.
fn read_first_line(input: &mut impl BufRead) -> Result<Zeroizing<String>, GuestError> {
    let mut line = Zeroizing::new(String::new());
    let read = input
        .take(MAX_SECRET_READ)
        .read_line(&mut line)
        .map_err(GuestError::ReadStdin)?;
    if read == 0 {
        return Err(GuestError::EmptyStdin);
    }
    strip_line_end(&mut line);
    Ok(line)
}

fn strip_line_end(line: &mut String) {
    if line.ends_with('\n') {
        line.pop();
        if line.ends_with('\r') {
            line.pop();
        }
    }
}

/// Reads a PSK file: see [`parse_psk_file`].
pub fn read_psk_file(path: &Path) -> Result<Credentials, GuestError> {
    let file = std::fs::File::open(path).map_err(|source| GuestError::ReadPskFile {
        path: path.to_path_buf(),
        source,
    })?;
    warn_if_readable_by_others(path, &file);
    let mut text = Zeroizing::new(String::new());
    file.take(MAX_SECRET_READ)
        .read_to_string(&mut text)
        .map_err(|source| GuestError::ReadPskFile {
            path: path.to_path_buf(),
            source,
        })?;
    parse_psk_file(&text).unwrap_or_else(|| {
        Err(GuestError::EmptyPskFile {
            path: path.to_path_buf(),
        })
    })
}

/// Parses a PSK file's text: the first line that is neither empty nor a `#` comment holds
/// either 64 hex digits (a PSK, as `vwifi-host psk` and `wpa_passphrase` print it; a
/// `psk=` prefix is accepted) or a passphrase (8 to 63 printable ASCII characters, taken
/// exactly, spaces included). `None` if there is no such line.
pub fn parse_psk_file(text: &str) -> Option<Result<Credentials, GuestError>> {
    let line = text
        .lines()
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .find(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))?;
    let trimmed = line.trim();
    let hex = trimmed.strip_prefix("psk=").unwrap_or(trimmed);
    if hex.len() == 64 {
        if let Some(psk) = Psk::from_hex(hex) {
            return Some(Ok(Credentials::Psk(psk)));
        }
    }
    Some(passphrase(line))
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path, file: &std::fs::File) {
    use std::os::unix::fs::PermissionsExt as _;
    if let Ok(meta) = file.metadata() {
        if meta.permissions().mode() & 0o004 != 0 {
            eprintln!(
                "vwifi-guest: warning: {} is readable by every user; `chmod 600` it",
                path.display()
            );
        }
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_: &Path, _: &std::fs::File) {}

#[cfg(test)]
mod tests {
    use super::*;

    /// IEEE 802.11-2020 Annex J.4.2 test vector 1 (passphrase "password", SSID "IEEE").
    const J42_PSK: &str = "f42c6fc52df0ebef9ebb4b90b38a5f902e83fe1b135a70e23aed762e9710a12e";

    fn creds(text: &str) -> Credentials {
        parse_psk_file(text).expect("a key line").expect("valid")
    }

    #[test]
    fn psk_file_with_64_hex_digits_is_a_psk() {
        match creds(&format!("# lab\n\n{J42_PSK}\n")) {
            Credentials::Psk(psk) => assert_eq!(psk.to_hex(), J42_PSK),
            other => panic!("not a PSK: {other:?}"),
        }
        assert!(matches!(
            creds(&format!("  psk={}\r\n", J42_PSK.to_uppercase())),
            Credentials::Psk(_)
        ));
    }

    #[test]
    fn psk_file_with_other_text_is_a_passphrase_taken_exactly() {
        match creds("correct horse \r\n") {
            Credentials::Passphrase(p) => assert_eq!(p.expose(), b"correct horse "),
            other => panic!("not a passphrase: {other:?}"),
        }
    }

    #[test]
    fn psk_file_with_63_hex_digits_is_checked_as_a_passphrase() {
        assert!(matches!(creds(&J42_PSK[..63]), Credentials::Passphrase(_)));
    }

    #[test]
    fn psk_file_rejects_short_passphrases_and_empty_files() {
        assert!(matches!(
            parse_psk_file("short\n"),
            Some(Err(GuestError::Passphrase(_)))
        ));
        assert!(parse_psk_file("\n# only a comment\n  \n").is_none());
    }

    #[test]
    fn stdin_gives_its_first_line_without_line_end() {
        let c = SecretSource::Stdin
            .resolve(&mut &b"correct horse\r\nsecond"[..])
            .unwrap();
        match c {
            Credentials::Passphrase(p) => assert_eq!(p.expose(), b"correct horse"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            SecretSource::Stdin.resolve(&mut &b""[..]),
            Err(GuestError::EmptyStdin)
        ));
    }

    #[test]
    fn debug_of_a_source_hides_the_passphrase() {
        let s = SecretSource::Passphrase(Zeroizing::new("correct horse".into()));
        assert_eq!(format!("{s:?}"), "Passphrase(<redacted>)");
    }

    #[test]
    fn missing_psk_file_is_reported_with_its_path() {
        let e = read_psk_file(Path::new("/nonexistent/psk")).unwrap_err();
        assert!(
            e.chain()
                .starts_with("cannot read the PSK file /nonexistent/psk"),
            "{}",
            e.chain()
        );
    }
}
